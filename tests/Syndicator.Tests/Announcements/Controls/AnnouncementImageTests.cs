using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Announcements.X;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Controls;

/// <summary>
/// An article's image on X (media upload + alt text + media_ids) and Mastodon (v2 media, 202, polling, media_ids),
/// through the app, against loopback servers that check the flows; image hosts that fail; no second upload on retry.
/// </summary>
public sealed class AnnouncementImageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static string Image(SocialTestRig rig, string path, string caption = "Dried riverbed near Isfahan — زاینده‌رود 🏜️") =>
        $"image:\n  url: {rig.ImageUrl(path)}\n  caption: \"{caption}\"\n";

    private static async Task<IReadOnlyList<(Delivery Delivery, AnnouncementImage? Image)>> RecordedAsync(SocialTestRig rig, Article article)
    {
        var result = new List<(Delivery, AnnouncementImage?)>();
        foreach (var d in await rig.App.Get<DeliveryStore>().ListForSubjectAsync(DeliverySubject.Article(article.Id), Ct))
            result.Add((d, await rig.App.Get<AnnouncementMedia>().FindAsync(d.Id, Ct)));
        return result;
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task The_image_is_uploaded_to_X_and_Mastodon_with_its_caption_as_alt_text_and_attached_to_the_posts(StorageProvider provider)
    {
        await using var rig = await SocialTestRig.StartAsync(provider);
        var article = await rig.App.Get<ArticleStore>().StoredAsync((await rig.ImportAsync("with-image", Image(rig, "/cover.png"))).Articles[0], Ct);

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        var xMedia = Assert.Single(rig.X.Uploads);
        Assert.Equal(SocialTestRig.Png, xMedia.Bytes);
        Assert.Equal(("image/png", "tweet_image"), (xMedia.ContentType, xMedia.Category));
        Assert.Equal("Dried riverbed near Isfahan — زاینده‌رود 🏜️", xMedia.AltText);
        Assert.Equal([xMedia.Id], Assert.Single(rig.X.PostedMedia).MediaIds);
        Assert.Empty(rig.X.Rejections); // the multipart upload was signed as X checks it

        var mastodonMedia = Assert.Single(rig.Mastodon.Uploads);
        Assert.Equal(SocialTestRig.Png, mastodonMedia.Bytes);
        Assert.Equal("Dried riverbed near Isfahan — زاینده‌رود 🏜️", mastodonMedia.Description);
        Assert.True(mastodonMedia.Polls >= 3); // 202 on upload, two 206 while processing, then 200
        Assert.Equal([mastodonMedia.Id], Assert.Single(rig.Mastodon.PostedMedia).MediaIds);

        var recorded = await RecordedAsync(rig, article);
        Assert.All(recorded, r => Assert.Equal(DeliveryState.Sent, r.Delivery.State));
        Assert.Equal([xMedia.Id, mastodonMedia.Id], recorded.OrderBy(r => r.Delivery.Channel == "x" ? 0 : 1).Select(r => r.Image!.MediaRef));
        Assert.All(recorded, r => Assert.Null(r.Image!.Warning));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_retry_after_the_post_failed_attaches_the_image_already_uploaded_instead_of_uploading_again()
    {
        await using var rig = await SocialTestRig.StartAsync();
        rig.X.Inject(new FakeXServer.Fault.Answer(503), "POST /2/tweets");
        rig.Mastodon.Fail = n => n == 1 ? Results.Json(new { error = "Service unavailable" }, statusCode: 503) : null;
        var article = await rig.App.Get<ArticleStore>().StoredAsync((await rig.ImportAsync("retried", Image(rig, "/cover.png"))).Articles[0], Ct);

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.All(await RecordedAsync(rig, article), r => Assert.Equal(DeliveryState.RetryWait, r.Delivery.State));
        Assert.Single(rig.X.Uploads);
        Assert.Single(rig.Mastodon.Uploads);

        rig.Time.Advance(TimeSpan.FromHours(1));
        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Single(rig.X.Uploads);
        Assert.Single(rig.Mastodon.Uploads);
        Assert.Equal([rig.X.Uploads[0].Id], Assert.Single(rig.X.PostedMedia).MediaIds);
        Assert.Equal([rig.Mastodon.Uploads[0].Id], Assert.Single(rig.Mastodon.PostedMedia).MediaIds);
        Assert.All(await RecordedAsync(rig, article), r => Assert.Equal((DeliveryState.Sent, 2), (r.Delivery.State, r.Delivery.Attempts)));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("/missing.png", "answered 404")]
    [InlineData("/slow.png", "did not arrive within 1 seconds")]
    [InlineData("/page.html", "is served as text/html, not as an image")]
    [InlineData("/disguised.png", "is not a JPEG, PNG, GIF or WebP image")]
    public async Task An_image_that_cannot_be_had_never_stops_the_post_which_goes_without_it_and_the_delivery_says_why(string path, string reason)
    {
        await using var rig = await SocialTestRig.StartAsync();
        var article = await rig.App.Get<ArticleStore>().StoredAsync((await rig.ImportAsync("bad-image", Image(rig, path))).Articles[0], Ct);

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Single(rig.X.PostedTexts);
        Assert.Empty(Assert.Single(rig.X.PostedMedia).MediaIds);
        Assert.Empty(rig.X.Uploads);
        Assert.Empty(Assert.Single(rig.Mastodon.PostedMedia).MediaIds);
        Assert.Empty(rig.Mastodon.Uploads);
        Assert.All(await RecordedAsync(rig, article), r =>
        {
            Assert.Equal(DeliveryState.Sent, r.Delivery.State);
            Assert.Null(r.Image!.MediaRef);
            Assert.StartsWith($"{r.Delivery.Channel}: posted without the image: ", r.Image.Warning);
            Assert.Contains(reason, r.Image.Warning);
        });
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Each_network_has_its_own_size_limit_a_6_MB_image_goes_to_Mastodon_but_not_to_X()
    {
        await using var rig = await SocialTestRig.StartAsync();
        var article = await rig.App.Get<ArticleStore>().StoredAsync((await rig.ImportAsync("huge-image", Image(rig, "/huge.png"))).Articles[0], Ct);

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Empty(rig.X.Uploads);
        Assert.Empty(Assert.Single(rig.X.PostedMedia).MediaIds);
        Assert.Equal(6 * 1024 * 1024, Assert.Single(rig.Mastodon.Uploads).Bytes.Length);
        var x = (await RecordedAsync(rig, article)).Single(r => r.Delivery.Channel == "x");
        Assert.Contains("more than the 5,242,880 bytes the network takes", x.Image!.Warning);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_network_that_refuses_the_file_gets_the_post_without_it_and_a_network_that_is_down_keeps_the_post_waiting_with_its_image()
    {
        await using var rig = await SocialTestRig.StartAsync();
        rig.Mastodon.FailMedia = n => n == 1 ? Results.Json(new { error = "Validation failed: File file size must be less than 1 MB" }, statusCode: 422) : null;
        rig.X.Inject(new FakeXServer.Fault.Answer(503), "POST /2/media/upload");
        var article = await rig.App.Get<ArticleStore>().StoredAsync((await rig.ImportAsync("refused-image", Image(rig, "/cover.png"))).Articles[0], Ct);

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        var recorded = await RecordedAsync(rig, article);
        var mastodon = recorded.Single(r => r.Delivery.Channel == "mastodon");
        Assert.Equal(DeliveryState.Sent, mastodon.Delivery.State);
        Assert.Contains("File file size must be less than 1 MB", mastodon.Image!.Warning);
        Assert.Empty(Assert.Single(rig.Mastodon.PostedMedia).MediaIds);
        var x = recorded.Single(r => r.Delivery.Channel == "x");
        Assert.Equal(DeliveryState.RetryWait, x.Delivery.State);
        Assert.Contains("503", x.Delivery.LastError);
        Assert.Empty(rig.X.PostedTexts);

        rig.Time.Advance(TimeSpan.FromHours(1));
        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Equal([rig.X.Uploads.Single().Id], Assert.Single(rig.X.PostedMedia).MediaIds);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_account_with_Image_None_posts_without_fetching_the_image()
    {
        await using var rig = await SocialTestRig.StartAsync(extra: new() { ["Announcements:Accounts:0:Image"] = "None" });
        await rig.ImportAsync("no-images-here", Image(rig, "/cover.png"));

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Empty(rig.X.Uploads);
        Assert.Single(rig.X.PostedTexts);
        Assert.Single(rig.Mastodon.Uploads);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("file:///etc/passwd", "is not an http(s) URL")]
    [InlineData("javascript:alert(1)", "is not an http(s) URL")]
    [InlineData("data:image/png;base64,iVBORw0KGgo=", "is not an http(s) URL")]
    [InlineData("../cover.png", "is not an http(s) URL")]
    public async Task Only_http_and_https_images_are_fetched(string url, string reason)
    {
        var fetcher = new ImageFetcher(new HttpClient(ImageFetcher.Handler(allowLocal: true)), Options.Create(new AnnouncementOptions()));
        var (image, problem) = await fetcher.FetchAsync(url, 1_000_000, Ct);
        Assert.Null(image);
        Assert.Contains(reason, problem);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Loopback_and_private_addresses_are_refused_unless_Site_AllowLocalUrls_and_a_redirect_there_too()
    {
        await using var host = await LoopbackServer.StartAsync(app =>
        {
            app.MapGet("/cover.png", () => Results.Bytes(SocialTestRig.Png, "image/png"));
            app.MapGet("/away", () => Results.Redirect("/cover.png"));
        });
        var options = Options.Create(new AnnouncementOptions());
        var strict = new ImageFetcher(new HttpClient(ImageFetcher.Handler(allowLocal: false)), options);
        var local = new ImageFetcher(new HttpClient(ImageFetcher.Handler(allowLocal: true)), options);

        var (refused, problem) = await strict.FetchAsync(host.BaseUrl + "/cover.png", 1_000_000, Ct);
        Assert.Null(refused);
        Assert.Contains("non-public address", problem);
        var (viaName, _) = await strict.FetchAsync(host.BaseUrl.Replace("127.0.0.1", "localhost") + "/away", 1_000_000, Ct);
        Assert.Null(viaName);

        var (allowed, none) = await local.FetchAsync(host.BaseUrl + "/away", 1_000_000, Ct);
        Assert.Null(none);
        Assert.Equal(SocialTestRig.Png, allowed!.Bytes);
        Assert.Equal("image/png", allowed.MediaType);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_image_sent_without_a_length_is_read_no_further_than_the_networks_limit()
    {
        await using var host = await LoopbackServer.StartAsync(app => app.MapGet("/stream.png", (Delegate)(async (HttpContext c) =>
        {
            c.Response.ContentType = "image/png";
            await c.Response.Body.WriteAsync(SocialTestRig.Png, c.RequestAborted);
            var chunk = new byte[64 * 1024];
            try
            {
                // 4 MB in chunks, no Content-Length: only reading tells how large it is.
                for (var i = 0; i < 64; i++)
                {
                    await c.Response.Body.WriteAsync(chunk, c.RequestAborted);
                    await c.Response.Body.FlushAsync(c.RequestAborted);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException) { }
        })));
        var fetcher = new ImageFetcher(new HttpClient(ImageFetcher.Handler(allowLocal: true)), Options.Create(new AnnouncementOptions()));

        var (image, problem) = await fetcher.FetchAsync(host.BaseUrl + "/stream.png", 1_000_000, Ct);

        Assert.Null(image);
        Assert.Contains("is more than the 1,000,000 bytes the network takes", problem);
    }

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.16.0.1", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)] // cloud metadata
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("93.184.215.14", true)]
    [InlineData("2606:2800:21f:cb07:6820:80da:af6b:8b2c", true)]
    public void Public_addresses_are_told_from_the_rest(string address, bool isPublic) =>
        Assert.Equal(isPublic, Syndicator.Shared.PublicAddresses.IsPublic(IPAddress.Parse(address)));
}
