using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Syndicator.Announcements;
using Syndicator.Announcements.Bluesky;
using Syndicator.Deliveries;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Bluesky;

/// <summary><see cref="BlueskyClient"/> against a real PDS (see <see cref="BlueskyPdsFixture"/>), read back with the PDS's own XRPC.</summary>
[Collection(BlueskyPdsCollection.Name)]
public sealed class BlueskyClientPdsTests(BlueskyPdsFixture pds) : IDisposable
{
    private const string Posts = BlueskyClient.PostCollection;

    /// <summary>A 4×4 PNG.</summary>
    public static readonly byte[] Png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGM4IacBRwzEcQDBAxDhtIruDgAAAABJRU5ErkJggg==");

    private readonly BlueskyTestSupport support = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => support.Dispose();

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_post_is_created_with_its_text_language_byte_offset_facets_and_link_card()
    {
        var user = await pds.CreateAccountAsync("alice", Ct);
        var url = "https://magazine.example/articles/regional-mystique?ref=bsky";
        var text = $"🇮🇷 مقاله‌ی تازه — مقال جديد 👩‍💻: {url} #Iran";
        var post = BlueskyTestSupport.Post("delivery-101", text: text, url: url) with { Language = "fa" };

        var outcome = await support.Client().PostAsync(support.Account(pds.BaseUrl, user.Handle, user.AppPassword), post, isRetry: false, Ct);

        var sent = Assert.IsType<DeliveryOutcome.Sent>(outcome);
        var rkey = BlueskyRecordKey.FromIdempotencyKey("delivery-101");
        Assert.Equal($"at://{user.Did}/{Posts}/{rkey}", sent.RemoteId);
        Assert.Equal($"https://bsky.app/profile/{user.Handle}/post/{rkey}", sent.RemoteUrl);

        var stored = await pds.GetRecordAsync(user.Did, Posts, rkey, Ct);
        Assert.NotNull(stored);
        var value = stored["value"]!;
        Assert.Equal(Posts, value["$type"]!.GetValue<string>());
        Assert.Equal(text, value["text"]!.GetValue<string>());
        Assert.Equal("2026-11-23T08:30:15.250Z", value["createdAt"]!.GetValue<string>());
        Assert.Equal(["fa"], value["langs"]!.AsArray().Select(l => l!.GetValue<string>()));

        var bytes = Encoding.UTF8.GetBytes(text);
        var facets = value["facets"]!.AsArray();
        Assert.Equal(2, facets.Count);
        var link = facets[0]!;
        var (start, end) = (link["index"]!["byteStart"]!.GetValue<int>(), link["index"]!["byteEnd"]!.GetValue<int>());
        Assert.Equal(url, Encoding.UTF8.GetString(bytes[start..end]));
        Assert.NotEqual(text.IndexOf(url, StringComparison.Ordinal), start); // UTF-8 bytes, not UTF-16 indexes
        Assert.Equal("app.bsky.richtext.facet#link", link["features"]![0]!["$type"]!.GetValue<string>());
        Assert.Equal(url, link["features"]![0]!["uri"]!.GetValue<string>());
        var tag = facets[1]!;
        Assert.Equal("#Iran", Encoding.UTF8.GetString(bytes[tag["index"]!["byteStart"]!.GetValue<int>()..tag["index"]!["byteEnd"]!.GetValue<int>()]));
        Assert.Equal("Iran", tag["features"]![0]!["tag"]!.GetValue<string>());

        var embed = value["embed"]!;
        Assert.Equal("app.bsky.embed.external", embed["$type"]!.GetValue<string>());
        Assert.Equal(url, embed["external"]!["uri"]!.GetValue<string>());
        Assert.Equal(post.Title, embed["external"]!["title"]!.GetValue<string>());
        Assert.Equal(post.Summary, embed["external"]!["description"]!.GetValue<string>());
        Assert.Null(embed["external"]!["thumb"]);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(PostImage.Card)]
    [InlineData(PostImage.Attached)]
    public async Task An_uploaded_image_goes_with_the_post_as_the_link_cards_thumbnail_or_as_an_image_embed_with_its_alt_text(PostImage style)
    {
        var user = await pds.CreateAccountAsync(style == PostImage.Card ? "bob" : "bobimages", Ct);
        var account = support.Account(pds.BaseUrl, user.Handle, user.AppPassword);
        account.Image = style;
        var client = support.Client();
        var alt = "نقشه‌ی خاورمیانه — 中东地图 🗺️";

        var upload = Assert.IsType<MediaUpload.Uploaded>(await client.UploadImageAsync(account, new FetchedImage("https://img.example/cover.png", Png, "image/png"), alt, Ct));
        var key = "delivery-202-" + style;
        var outcome = await client.PostAsync(account, BlueskyTestSupport.Post(key) with { MediaRef = upload.Ref, ImageAlt = alt }, isRetry: false, Ct);

        Assert.IsType<DeliveryOutcome.Sent>(outcome);
        var embed = (await pds.GetRecordAsync(user.Did, Posts, BlueskyRecordKey.FromIdempotencyKey(key), Ct))!["value"]!["embed"]!;
        JsonNode blob;
        if (style == PostImage.Card)
        {
            Assert.Equal("app.bsky.embed.external", embed["$type"]!.GetValue<string>());
            blob = embed["external"]!["thumb"]!;
        }
        else
        {
            Assert.Equal("app.bsky.embed.images", embed["$type"]!.GetValue<string>());
            var image = Assert.Single(embed["images"]!.AsArray())!;
            Assert.Equal(alt, image["alt"]!.GetValue<string>());
            blob = image["image"]!;
        }
        Assert.Equal("blob", blob["$type"]!.GetValue<string>());
        Assert.Equal("image/png", blob["mimeType"]!.GetValue<string>());
        Assert.Equal(Png.Length, blob["size"]!.GetValue<int>());
        Assert.Equal(Png, await pds.GetBlobAsync(user.Did, blob["ref"]!["$link"]!.GetValue<string>(), Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Posting_the_same_post_again_leaves_exactly_one_record()
    {
        var user = await pds.CreateAccountAsync("dave", Ct);
        var account = support.Account(pds.BaseUrl, user.Handle, user.AppPassword);
        var post = BlueskyTestSupport.Post("delivery-404");

        var first = Assert.IsType<DeliveryOutcome.Sent>(await support.Client().PostAsync(account, post, isRetry: false, Ct));
        var retry = Assert.IsType<DeliveryOutcome.Sent>(await support.Client().PostAsync(account, post, isRetry: true, Ct));
        // Even a client with nothing cached that thinks it is the first attempt does not post twice.
        using var other = new BlueskyTestSupport();
        var again = Assert.IsType<DeliveryOutcome.Sent>(await other.Client().PostAsync(other.Account(pds.BaseUrl, user.Handle, user.AppPassword), post, isRetry: false, Ct));

        Assert.Equal(first, retry);
        Assert.Equal(first, again);
        Assert.Single(await pds.ListRecordsAsync(user.Did, Posts, Ct));

        Assert.IsType<DeliveryOutcome.Sent>(await support.Client().PostAsync(account, BlueskyTestSupport.Post("delivery-405"), isRetry: false, Ct));
        Assert.Equal(2, (await pds.ListRecordsAsync(user.Did, Posts, Ct)).Count);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_wrong_app_password_is_a_permanent_error_with_the_servers_words()
    {
        var user = await pds.CreateAccountAsync("erin", Ct);

        var outcome = await support.Client().PostAsync(support.Account(pds.BaseUrl, user.Handle, "aaaa-bbbb-cccc-dddd"), BlueskyTestSupport.Post("delivery-505"), isRetry: false, Ct);

        var permanent = Assert.IsType<DeliveryOutcome.Permanent>(outcome);
        Assert.StartsWith("bluesky: ", permanent.Error);
        Assert.Contains("401", permanent.Error);
        Assert.Contains("AuthenticationRequired", permanent.Error);
        Assert.Contains("Invalid identifier or password", permanent.Error);
        Assert.Empty(await pds.ListRecordsAsync(user.Did, Posts, Ct));
        Assert.Null(support.Sessions.Get(pds.BaseUrl, user.Handle));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_expired_access_token_is_refreshed_with_the_refresh_token()
    {
        var user = await pds.CreateAccountAsync("frank", Ct);
        var account = support.Account(pds.BaseUrl, user.Handle, user.AppPassword);
        Assert.IsType<DeliveryOutcome.Sent>(await support.Client().PostAsync(account, BlueskyTestSupport.Post("delivery-601"), isRetry: false, Ct));
        var session = support.Sessions.Get(pds.BaseUrl, user.Handle)!;
        Assert.Equal(user.Did, session.Did);

        // A token the PDS itself signed, expired an hour ago: the PDS answers ExpiredToken, as it would after two hours.
        var expired = pds.ExpiredAccessToken(user.Did);
        using (var probe = new HttpRequestMessage(HttpMethod.Post, $"{pds.BaseUrl}/xrpc/com.atproto.repo.createRecord") { Content = new StringContent("{}", Encoding.UTF8, "application/json") })
        {
            probe.Headers.Authorization = new("Bearer", expired);
            using var answer = await pds.Http.SendAsync(probe, Ct);
            Assert.Contains("ExpiredToken", await answer.Content.ReadAsStringAsync(Ct));
        }
        support.Sessions.Set(pds.BaseUrl, user.Handle, session with { AccessJwt = expired });

        var outcome = await support.Client().PostAsync(account, BlueskyTestSupport.Post("delivery-602"), isRetry: false, Ct);

        Assert.IsType<DeliveryOutcome.Sent>(outcome);
        var renewed = support.Sessions.Get(pds.BaseUrl, user.Handle)!;
        Assert.NotEqual(expired, renewed.AccessJwt);
        Assert.NotEqual(session.RefreshJwt, renewed.RefreshJwt); // refreshSession rotates the refresh token
        Assert.Equal(2, (await pds.ListRecordsAsync(user.Did, Posts, Ct)).Count);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task When_the_refresh_token_is_no_good_either_the_client_logs_in_again()
    {
        var user = await pds.CreateAccountAsync("grace", Ct);
        var account = support.Account(pds.BaseUrl, user.Handle, user.AppPassword);
        Assert.IsType<DeliveryOutcome.Sent>(await support.Client().PostAsync(account, BlueskyTestSupport.Post("delivery-701"), isRetry: false, Ct));
        var session = support.Sessions.Get(pds.BaseUrl, user.Handle)!;
        support.Sessions.Set(pds.BaseUrl, user.Handle, session with { AccessJwt = pds.ExpiredAccessToken(user.Did), RefreshJwt = "not.a.token" });

        var outcome = await support.Client().PostAsync(account, BlueskyTestSupport.Post("delivery-702"), isRetry: true, Ct);

        Assert.IsType<DeliveryOutcome.Sent>(outcome);
        Assert.NotEqual("not.a.token", support.Sessions.Get(pds.BaseUrl, user.Handle)!.RefreshJwt);
        Assert.Equal(2, (await pds.ListRecordsAsync(user.Did, Posts, Ct)).Count);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_post_the_PDS_rejects_is_a_permanent_error()
    {
        var user = await pds.CreateAccountAsync("heidi", Ct);
        var tooLong = string.Concat(Enumerable.Repeat("word ", 80)) + "https://magazine.example/a"; // > 300 graphemes

        var outcome = await support.Client().PostAsync(support.Account(pds.BaseUrl, user.Handle, user.AppPassword),
            BlueskyTestSupport.Post("delivery-801", text: tooLong, url: "https://magazine.example/a"), isRetry: false, Ct);

        var permanent = Assert.IsType<DeliveryOutcome.Permanent>(outcome);
        Assert.StartsWith("bluesky: com.atproto.repo.createRecord", permanent.Error);
        Assert.Contains("400", permanent.Error);
        Assert.Contains("InvalidRequest", permanent.Error);
        Assert.Empty(await pds.ListRecordsAsync(user.Did, Posts, Ct));
    }
}
