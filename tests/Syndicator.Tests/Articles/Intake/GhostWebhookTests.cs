using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Syndicator.Articles;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles.Intake;

/// <summary>
/// Ghost's post webhooks as Ghost sends them: <c>{"post": {"current": …, "previous": …}}</c> with
/// <c>X-Ghost-Signature: sha256=HMAC(secret, body + t), t=MILLISECONDS</c> (Ghost's webhook-trigger.js), signed here
/// independently of the code under test.
/// </summary>
public sealed class GhostWebhookTests
{
    private const string Secret = "ghost-webhook-secret-0123456789abcdef";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<IntakeWorld> StartAsync(TempDir dir) =>
        await IntakeWorld.StartAsync(extra: new() { ["Intake:Ghost:Secret"] = "file:" + dir.File("ghost.secret", Secret) });

    /// <summary>A post as Ghost's Admin API serialises it for webhooks (formats html; tags and authors related).</summary>
    private static JsonObject Post(string status = "published", string title = "Tehran’s new metro line", string html = "<p>The line opens <a href=\"https://metro.example/map\">today</a>.</p>") => new()
    {
        ["id"] = "6560f1a2b3c4d5e6f7a8b9c0",
        ["uuid"] = "a1b2c3d4-0000-4000-8000-000000000001",
        ["title"] = title,
        ["slug"] = "tehran-metro",
        ["html"] = html,
        ["comment_id"] = "6560f1a2b3c4d5e6f7a8b9c0",
        ["feature_image"] = "https://magazine.example/content/images/2026/11/metro.jpg",
        ["feature_image_alt"] = "A metro platform",
        ["feature_image_caption"] = "Photo by <a href=\"https://photos.example/ali\">Ali Rezaei</a>",
        ["featured"] = false,
        ["status"] = status,
        ["visibility"] = "public",
        ["created_at"] = "2026-11-20T08:00:00.000Z",
        ["updated_at"] = "2026-11-25T09:30:00.000Z",
        ["published_at"] = "2026-11-25T09:00:00.000Z",
        ["custom_excerpt"] = "Line 10 opens after eight years.",
        ["excerpt"] = "The line opens today.",
        ["url"] = "https://magazine.example/tehran-metro/",
        ["canonical_url"] = null,
        ["tags"] = new JsonArray(
            new JsonObject { ["id"] = "t1", ["name"] = "Cities", ["slug"] = "cities", ["visibility"] = "public" },
            new JsonObject { ["id"] = "t2", ["name"] = "#newsletter", ["slug"] = "hash-newsletter", ["visibility"] = "internal" }),
        ["authors"] = new JsonArray(new JsonObject
        {
            ["id"] = "a1", ["name"] = "Sara Ahmadi", ["slug"] = "sara", ["bio"] = "Writes about cities.", ["twitter"] = "@sara_ahmadi",
        }),
    };

    private static string Event(JsonObject? current, JsonObject? previous) =>
        new JsonObject { ["post"] = new JsonObject { ["current"] = current ?? new JsonObject(), ["previous"] = previous ?? new JsonObject() } }.ToJsonString();

    private static string Signature(string body, long millis, string secret = Secret) =>
        $"sha256={Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body + millis.ToString(CultureInfo.InvariantCulture))))}, t={millis}";

    private static async Task<HttpResponseMessage> SendAsync(IntakeWorld world, string body, string? signature)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/ghost") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (signature is not null) request.Headers.TryAddWithoutValidation("X-Ghost-Signature", signature);
        return await world.Http.SendAsync(request, Ct);
    }

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Published_edited_and_unpublished_posts_map_to_one_article_with_its_authors_tags_image_and_excerpt()
    {
        using var dir = new TempDir();
        await using var world = await StartAsync(dir);
        var published = Event(Post(), new JsonObject { ["status"] = "draft" });
        var answer = await SendAsync(world, published, Signature(published, Now));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("created", (await IntakeWorld.JsonAsync(answer)).GetProperty("action").GetString());

        var article = (await world.App.Get<ArticleStore>().FindBySlugAsync("tehran-metro", Ct))!;
        Assert.Equal("Tehran’s new metro line", article.Title);
        Assert.Equal(("Sara Ahmadi", "Writes about cities.", "sara_ahmadi"), (article.Author.Name, article.Author.Bio, article.Author.Handles.X));
        Assert.Equal(["Cities"], article.Tags);
        Assert.Equal("Line 10 opens after eight years.", article.Summary);
        Assert.Equal("https://magazine.example/tehran-metro/", article.CanonicalUrl.Value);
        Assert.Equal(("https://magazine.example/content/images/2026/11/metro.jpg", "Photo by Ali Rezaei"), (article.Image!.Url!.Value, article.Image.Caption));
        Assert.Equal(DateTimeOffset.Parse("2026-11-25T09:00:00Z", CultureInfo.InvariantCulture), article.PublishedAt);

        var editedPost = Post(title: "Tehran’s new metro line opens", html: "<p>It opened.</p>");
        var edited = Event(editedPost, new JsonObject { ["title"] = "Tehran’s new metro line" });
        Assert.Equal("updated", (await IntakeWorld.JsonAsync(await SendAsync(world, edited, Signature(edited, Now)))).GetProperty("action").GetString());
        var after = (await world.App.Get<ArticleStore>().FindBySlugAsync("tehran-metro", Ct))!;
        Assert.Equal((article.Id, "Tehran’s new metro line opens", "<p>It opened.</p>"), (after.Id, after.Title, after.BodyHtml));

        var unpublished = Event(Post(status: "draft"), new JsonObject { ["status"] = "published" });
        Assert.Equal("unpublished", (await IntakeWorld.JsonAsync(await SendAsync(world, unpublished, Signature(unpublished, Now)))).GetProperty("action").GetString());
        Assert.True((await world.App.Get<ArticleStore>().FindBySlugAsync("tehran-metro", Ct))!.Unpublished);

        // Published again in Ghost: back in the feeds.
        var again = Event(Post(title: "Tehran’s new metro line opens", html: "<p>It opened.</p>"), new JsonObject { ["status"] = "draft" });
        Assert.Equal("republished", (await IntakeWorld.JsonAsync(await SendAsync(world, again, Signature(again, Now)))).GetProperty("action").GetString());
        Assert.False((await world.App.Get<ArticleStore>().FindBySlugAsync("tehran-metro", Ct))!.Unpublished);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_bad_missing_stale_or_replayed_signature_is_refused_and_changes_nothing()
    {
        using var dir = new TempDir();
        await using var world = await StartAsync(dir);
        var body = Event(Post(), null);

        Assert.Equal("X-Ghost-Signature", (await IntakeWorld.ProblemAsync(await SendAsync(world, body, null), 401)).Field);
        Assert.Contains("does not match", (await IntakeWorld.ProblemAsync(await SendAsync(world, body, Signature(body, Now, "another-secret")), 401)).Detail);
        // Signed over another body (the title changed in transit).
        Assert.Contains("does not match", (await IntakeWorld.ProblemAsync(await SendAsync(world, body.Replace("Tehran", "Paris"), Signature(body, Now)), 401)).Detail);
        Assert.Contains("not 'sha256=", (await IntakeWorld.ProblemAsync(await SendAsync(world, body, "sha256=abc, t=1"), 401)).Detail);
        var stale = Now - (long)TimeSpan.FromMinutes(10).TotalMilliseconds;
        Assert.Contains("ago", (await IntakeWorld.ProblemAsync(await SendAsync(world, body, Signature(body, stale)), 401)).Detail);
        Assert.Null(await world.App.Get<ArticleStore>().FindBySlugAsync("tehran-metro", Ct));

        var signature = Signature(body, Now);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(world, body, signature)).StatusCode);
        await world.App.Get<Syndicator.Articles.Intake.ArticleIntake>().UnpublishAsync((await world.App.Get<ArticleStore>().FindBySlugAsync("tehran-metro", Ct))!, new("test", "test"), Ct);
        // The same signed request again would publish it again: it is a replay and is refused.
        Assert.Equal("X-Ghost-Signature", (await IntakeWorld.ProblemAsync(await SendAsync(world, body, signature), 409)).Field);
        Assert.True((await world.App.Get<ArticleStore>().FindBySlugAsync("tehran-metro", Ct))!.Unpublished);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hostile_post_is_refused_or_neutralised_with_the_same_checks_as_a_file()
    {
        using var dir = new TempDir();
        await using var world = await StartAsync(dir);
        var hostile = Post(html: "<p>Read <a href=\"javascript:alert(document.cookie)\">this</a><script>alert(1)</script>.</p>");
        hostile["feature_image"] = "data:image/png;base64,AAAA";
        var body = Event(hostile, null);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(world, body, Signature(body, Now))).StatusCode);
        var article = (await world.App.Get<ArticleStore>().FindBySlugAsync("tehran-metro", Ct))!;
        Assert.DoesNotContain("javascript:", article.BodyHtml);
        Assert.DoesNotContain("<script", article.BodyHtml);
        Assert.Null(article.Image?.Url);
        Assert.Contains(article.Warnings, w => w.Contains("javascript:"));

        var traversal = Post();
        traversal["slug"] = "../../etc/passwd";
        traversal["id"] = "other-post";
        var refused = Event(traversal, null);
        var (field, detail) = await IntakeWorld.ProblemAsync(await SendAsync(world, refused, Signature(refused, Now)), 422);
        Assert.Equal(("slug", true), (field, detail.Contains("'..'")));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Without_a_configured_secret_the_webhook_is_off()
    {
        await using var world = await IntakeWorld.StartAsync();
        var body = Event(Post(), null);
        Assert.Equal("Intake:Ghost:Secret", (await IntakeWorld.ProblemAsync(await SendAsync(world, body, Signature(body, Now)), 404)).Field);
    }
}
