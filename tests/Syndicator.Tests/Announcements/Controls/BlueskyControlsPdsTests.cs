using System.Text.Json.Nodes;
using Syndicator.Announcements;
using Syndicator.Announcements.Bluesky;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Tests.Announcements.Bluesky;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Controls;

/// <summary>The controls and the image through the app to a Bluesky account on the real PDS (<see cref="BlueskyPdsFixture"/>).</summary>
[Collection(BlueskyPdsCollection.Name)]
public sealed class BlueskyControlsPdsTests(BlueskyPdsFixture pds) : IDisposable
{
    private readonly TempDir secrets = new();

    public void Dispose() => secrets.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<SocialTestRig> StartAsync(PdsAccount user, string image)
    {
        var identifier = secrets.File($"{user.Handle}/identifier", user.Handle);
        var appPassword = secrets.File($"{user.Handle}/app_password", user.AppPassword);
        return await SocialTestRig.StartAsync(extra: new()
        {
            ["Announcements:Accounts:2:Name"] = "magazine-bluesky",
            ["Announcements:Accounts:2:Network"] = "Bluesky",
            ["Announcements:Accounts:2:BaseUrl"] = pds.BaseUrl,
            ["Announcements:Accounts:2:Image"] = image,
            ["Announcements:Accounts:2:Credentials:Identifier"] = "file:" + identifier,
            ["Announcements:Accounts:2:Credentials:AppPassword"] = "file:" + appPassword,
        });
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_bluesky_text_and_the_image_with_its_alt_text_reach_the_PDS_and_the_other_accounts_are_skipped()
    {
        var user = await pds.CreateAccountAsync("ctrl", Ct);
        await using var rig = await StartAsync(user, "Attached");
        var file = await rig.ImportAsync("bluesky-only",
            "skipAccounts: [magazine-x, magazine-mastodon]\n" +
            "social:\n  bluesky: \"زاینده‌رود خشک شد 🏜️ — 干涸的河流\"\n" +
            $"image:\n  url: {rig.ImageUrl("/cover.png")}\n  caption: \"The dry bed of the Zayandeh Rud\"\n");
        var article = await rig.App.Get<ArticleStore>().StoredAsync(file.Articles[0], Ct);

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Empty(rig.X.PostedTexts);
        Assert.Empty(rig.Mastodon.Posts);
        var delivery = Assert.Single(await rig.App.Get<DeliveryStore>().ListForSubjectAsync(DeliverySubject.Article(article.Id), Ct));
        Assert.Equal(DeliveryState.Sent, delivery.State);
        var record = Assert.Single(await pds.ListRecordsAsync(user.Did, BlueskyClient.PostCollection, Ct))!["value"]!;
        Assert.Equal($"زاینده‌رود خشک شد 🏜️ — 干涸的河流\n\n{article.CanonicalUrl.Value}", record["text"]!.GetValue<string>());
        var image = Assert.Single(record["embed"]!["images"]!.AsArray())!;
        Assert.Equal("The dry bed of the Zayandeh Rud", image["alt"]!.GetValue<string>());
        var cid = image["image"]!["ref"]!["$link"]!.GetValue<string>();
        Assert.Equal(SocialTestRig.Png, await pds.GetBlobAsync(user.Did, cid, Ct));
        var recorded = await rig.App.Get<AnnouncementMedia>().FindAsync(delivery.Id, Ct);
        Assert.Equal(cid, JsonNode.Parse(recorded!.MediaRef!)!["ref"]!["$link"]!.GetValue<string>());
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_image_over_Blueskys_1_MB_goes_without_and_the_link_card_is_posted_all_the_same()
    {
        var user = await pds.CreateAccountAsync("ctrlhuge", Ct);
        await using var rig = await StartAsync(user, "Card");
        var file = await rig.ImportAsync("huge-for-bluesky", $"skipAccounts: [magazine-x, magazine-mastodon]\nimage:\n  url: {rig.ImageUrl("/huge.png")}\n");
        var article = await rig.App.Get<ArticleStore>().StoredAsync(file.Articles[0], Ct);

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        var record = Assert.Single(await pds.ListRecordsAsync(user.Did, BlueskyClient.PostCollection, Ct))!["value"]!;
        Assert.Equal("app.bsky.embed.external", record["embed"]!["$type"]!.GetValue<string>());
        Assert.Null(record["embed"]!["external"]!["thumb"]);
        var delivery = Assert.Single(await rig.App.Get<DeliveryStore>().ListForSubjectAsync(DeliverySubject.Article(article.Id), Ct));
        var recorded = await rig.App.Get<AnnouncementMedia>().FindAsync(delivery.Id, Ct);
        Assert.Contains("more than the 1,000,000 bytes the network takes", recorded!.Warning);
    }
}
