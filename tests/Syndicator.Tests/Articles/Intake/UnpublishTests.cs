using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Articles.Intake;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Tests.Announcements.Mastodon;
using Syndicator.Tests.Digests;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles.Intake;

/// <summary>An unpublished article is never announced or mailed afterwards, even when its delivery or digest was planned before.</summary>
public sealed class UnpublishTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly IntakeActor Cms = IntakeActor.ApiKey("cms");

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_planned_announcement_of_an_article_unpublished_since_is_never_posted_and_says_why()
    {
        await using var mastodon = await FakeMastodonServer.StartAsync();
        var variable = "SYN_TEST_MASTODON_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, mastodon.Token);
        try
        {
            await using var app = await TestApp.CreateAsync(settings: new()
            {
                ["Announcements:Accounts:0:Name"] = "magazine-mastodon",
                ["Announcements:Accounts:0:Network"] = "Mastodon",
                ["Announcements:Accounts:0:BaseUrl"] = mastodon.BaseUrl,
                ["Announcements:Accounts:0:Credentials:AccessToken"] = "env:" + variable,
                ["Announcements:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates"),
            });
            var files = app.Get<ArticleFiles>();
            await files.ImportPathsAsync([app.Dir.File("a/kept.md", "---\ntitle: Kept\n---\nBody.\n"), app.Dir.File("a/withdrawn.md", "---\ntitle: Withdrawn\n---\nBody.\n")], null, Ct);
            var withdrawn = (await app.Get<ArticleStore>().FindBySlugAsync("withdrawn", Ct))!;
            Assert.Equal(2, (await app.Get<DeliveryStore>().ListAsync(DeliveryState.Pending, null, null, 10, Ct)).Count);

            await app.Get<ArticleIntake>().UnpublishAsync(withdrawn, Cms, Ct);
            await app.Get<Announcer>().SendDueAsync(null, Ct);

            var status = Assert.Single(mastodon.Posts).Status;
            Assert.StartsWith("Kept", status);
            var refused = Assert.Single(await app.Get<DeliveryStore>().ListForSubjectAsync(DeliverySubject.Article(withdrawn.Id), Ct));
            Assert.Equal(DeliveryState.Failed, refused.State);
            Assert.Contains("was unpublished", refused.LastError);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_unpublished_article_leaves_digests_already_planned_and_is_never_planned_again()
    {
        await using var world = await DigestWorld.CreateAsync();
        await world.SubscribeAsync("reader@example.com");
        await world.ImportAsync("First story", "Jane Doe");
        await world.ImportAsync("Withdrawn story", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);
        var withdrawn = (await world.App.Get<ArticleStore>().FindBySlugAsync("withdrawn-story", Ct))!;
        await world.App.Get<ArticleIntake>().UnpublishAsync(withdrawn, Cms, Ct);

        await world.RunDailyAsync(TimeSpan.Zero);
        Assert.Equal(["First story"], DigestWorld.Titles(Assert.Single(world.Mailed())));

        // One unpublished before any digest planned it is never planned.
        await world.ImportAsync("Second story", "Jane Doe");
        await world.ImportAsync("Also withdrawn", "Jane Doe");
        await world.App.Get<ArticleIntake>().UnpublishAsync((await world.App.Get<ArticleStore>().FindBySlugAsync("also-withdrawn", Ct))!, Cms, Ct);
        await world.RunDailyAsync(TimeSpan.FromDays(1));
        Assert.Equal(2, world.Mailed().Count);
        Assert.Equal(["Second story"], DigestWorld.Titles(world.Mailed()[^1]));
    }
}
