using System.Net;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Syndicator.Articles;
using Syndicator.Articles.Intake;
using Syndicator.Feeds;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles.Intake;

/// <summary>/api/articles over real HTTP: keys and scopes, idempotency, every refusal as a problem naming its field, unpublish, OpenAPI.</summary>
public sealed class ArticleApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static string Article(string title, string body = "<p>Body paragraph.</p>", string? slug = null, string? url = null) =>
        JsonSerializer.Serialize(new Dictionary<string, object?> { ["title"] = title, ["bodyHtml"] = body, ["slug"] = slug, ["url"] = url, ["author"] = "Jane Doe", ["tags"] = new[] { "Politics" } }
            .Where(kv => kv.Value is not null).ToDictionary());

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Without_a_valid_key_or_with_too_narrow_a_scope_nothing_is_written()
    {
        await using var world = await IntakeWorld.StartAsync();
        var writer = await world.KeyAsync("cms");
        var reader = await world.KeyAsync("status-page", ApiScope.Read);
        var revoked = await world.KeyAsync("old-cms");
        Assert.True(await world.App.Get<ApiKeys>().RevokeAsync("old-cms", Ct));

        var none = await world.SendAsync(HttpMethod.Post, "/api/articles", null, Article("No key"));
        Assert.Equal("Authorization", (await IntakeWorld.ProblemAsync(none, 401)).Field);
        Assert.StartsWith("Bearer", none.Headers.WwwAuthenticate.ToString());

        var wrong = await world.SendAsync(HttpMethod.Post, "/api/articles", writer[..^2] + "xx", Article("Wrong key"));
        Assert.Contains("not known", (await IntakeWorld.ProblemAsync(wrong, 401)).Detail);

        var old = await world.SendAsync(HttpMethod.Post, "/api/articles", revoked, Article("Revoked key"));
        Assert.Contains("'old-cms' was revoked", (await IntakeWorld.ProblemAsync(old, 401)).Detail);

        var narrow = await world.SendAsync(HttpMethod.Post, "/api/articles", reader, Article("Read key"));
        Assert.Contains("'write'", (await IntakeWorld.ProblemAsync(narrow, 403)).Detail);
        foreach (var title in new[] { "no-key", "wrong-key", "revoked-key", "read-key" })
            Assert.Null(await world.App.Get<ArticleStore>().FindBySlugAsync(title, Ct));

        // The read key reads; the write key writes and reads.
        Assert.Equal(HttpStatusCode.Created, (await world.SendAsync(HttpMethod.Post, "/api/articles", writer, Article("Allowed"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await world.SendAsync(HttpMethod.Get, "/api/articles/allowed", reader)).StatusCode);
        Assert.Equal(403, (int)(await world.SendAsync(HttpMethod.Delete, "/api/articles/allowed", reader)).StatusCode);
        var keys = await world.App.Get<ApiKeys>().ListAsync(Ct);
        Assert.Equal(["cms", "old-cms", "status-page"], keys.Select(k => k.Name));
        Assert.NotNull(keys.Single(k => k.Name == "status-page").LastUsedAt);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task The_same_body_twice_is_one_article_and_a_persian_title_with_emoji_keeps_its_script(StorageProvider provider)
    {
        await using var world = await IntakeWorld.StartAsync(provider);
        var key = await world.KeyAsync("ghost-cms");
        var title = "آینده‌ی ایران 🇮🇷 در دست مردم است";
        var body = Article(title, "<p>متن مقاله 👨‍👩‍👧‍👦</p>");

        var first = await world.SendAsync(HttpMethod.Post, "/api/articles", key, body);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var created = await IntakeWorld.JsonAsync(first);
        var slug = created.GetProperty("slug").GetString()!;
        Assert.StartsWith("آینده", slug);
        Assert.Equal(title, created.GetProperty("title").GetString());
        Assert.Equal("created", created.GetProperty("change").GetString());
        Assert.Equal("/api/articles/" + Uri.EscapeDataString(slug), first.Headers.Location!.OriginalString);

        var again = await world.SendAsync(HttpMethod.Post, "/api/articles", key, body);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var repeated = await IntakeWorld.JsonAsync(again);
        Assert.Equal((created.GetProperty("id").GetString(), "unchanged"), (repeated.GetProperty("id").GetString(), repeated.GetProperty("change").GetString()));

        // A different article with the same title collides with it rather than replacing it.
        var other = await world.SendAsync(HttpMethod.Post, "/api/articles", key, Article(title, "<p>Another text.</p>"));
        Assert.Equal("slug", (await IntakeWorld.ProblemAsync(other, 409)).Field);

        var stored = await world.App.Get<ArticleStore>().FindBySlugAsync(slug, Ct);
        Assert.Equal("<p>متن مقاله 👨‍👩‍👧‍👦</p>", stored!.BodyHtml);
        // Its history holds the one write; the collision is recorded as a refusal that belongs to no article.
        var history = (await IntakeWorld.JsonAsync(await world.SendAsync(HttpMethod.Get, "/api/articles/" + Uri.EscapeDataString(slug), key))).GetProperty("history");
        var entry = Assert.Single(history.EnumerateArray());
        Assert.Equal(("created", "api key 'ghost-cms'"), (entry.GetProperty("action").GetString(), entry.GetProperty("actor").GetString()));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Markdown_and_the_plain_text_format_are_chosen_by_content_type_and_other_types_are_refused()
    {
        await using var world = await IntakeWorld.StartAsync();
        var key = await world.KeyAsync("cms");
        var markdown = await world.SendAsync(HttpMethod.Post, "/api/articles", key, "---\ntitle: 中国经济的未来\nauthor: 王 小明\ntags: [经济]\n---\n正文 **加粗**。\n", "text/markdown; charset=utf-8");
        Assert.Equal(HttpStatusCode.Created, markdown.StatusCode);
        Assert.Contains("<strong>加粗</strong>", (await world.App.Get<ArticleStore>().FindBySlugAsync((await IntakeWorld.JsonAsync(markdown)).GetProperty("slug").GetString()!, Ct))!.BodyHtml);

        var plain = await world.SendAsync(HttpMethod.Post, "/api/articles", key, "مستقبل العراق\nبقلم علي رضائي\n\nالفقرة الأولى.\n", "text/plain");
        Assert.Equal(HttpStatusCode.Created, plain.StatusCode);
        Assert.Equal("مستقبل العراق", (await IntakeWorld.JsonAsync(plain)).GetProperty("title").GetString());

        Assert.Equal("Content-Type", (await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Post, "/api/articles", key, "<p>x</p>", "text/html"), 415)).Field);
        Assert.Contains("UTF-8", (await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Post, "/api/articles", key, Article("Latin"), "application/json; charset=iso-8859-1"), 415)).Detail);
    }

    public static TheoryData<string, string, string> HostileBodies => new()
    {
        { Article("Link", url: "javascript:alert(document.cookie)"), "url", "scheme is 'javascript:'" },
        { Article("Data", url: "data:text/html,<script>alert(1)</script>"), "url", "scheme is 'data:'" },
        { Article("Traversal", slug: "../../etc/passwd"), "slug", "'..'" },
        { Article("Control", slug: "a\u0007b"), "slug", "U+0007" },
        { JsonSerializer.Serialize(new { bodyHtml = "<p>no title</p>" }), "title", "no title" },
        { JsonSerializer.Serialize(new { title = "Empty" }), "body", "has no body" },
        { "{\"title\": \"Broken\", ", "body", "invalid JSON" },
        { JsonSerializer.Serialize(new[] { new { title = "A", body = "a" }, new { title = "B", body = "b" } }), "body", "2 articles" },
        { JsonSerializer.Serialize(new { title = "Nested", bodyHtml = string.Concat(Enumerable.Repeat("<div>", 200)) + "x" }), "body", "nested" },
    };

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(HostileBodies))]
    public async Task A_hostile_article_is_refused_with_a_problem_naming_its_field_and_nothing_is_stored(string body, string field, string reason)
    {
        await using var world = await IntakeWorld.StartAsync();
        var key = await world.KeyAsync("cms");
        var before = await world.App.Get<ArticleStore>().CountAsync(Ct);
        var (named, detail) = await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Post, "/api/articles", key, body), 422);
        Assert.Equal(field, named);
        Assert.Contains(reason, detail);
        Assert.Equal(before, await world.App.Get<ArticleStore>().CountAsync(Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_dashboard_lists_what_intake_refused_and_shows_who_sent_an_article()
    {
        await using var world = await IntakeWorld.StartAsync();
        var key = await world.KeyAsync("newsroom-cms");
        var desk = await (await world.Http.GetAsync("/status", Ct)).Content.ReadAsStringAsync(Ct);
        Assert.DoesNotContain("id=\"refused\"", desk);

        await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Post, "/api/articles", key, Article("Bad link", url: "javascript:alert(1)", slug: "bad-link")), 422);
        Assert.Equal(HttpStatusCode.Created, (await world.SendAsync(HttpMethod.Post, "/api/articles", key, Article("آزادی بیان 🕊️", slug: "azadi"))).StatusCode);

        desk = await (await world.Http.GetAsync("/status", Ct)).Content.ReadAsStringAsync(Ct);
        var refused = desk[desk.IndexOf("id=\"refused\"", StringComparison.Ordinal)..];
        Assert.Contains("newsroom-cms", refused);
        Assert.Contains("javascript:", refused);
        Assert.DoesNotContain("<script", refused);
        var page = await (await world.Http.GetAsync("/status/articles/azadi", Ct)).Content.ReadAsStringAsync(Ct);
        var history = page[page.IndexOf("id=\"history\"", StringComparison.Ordinal)..];
        Assert.Contains("created by api key &#39;newsroom-cms&#39;", history);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_title_with_a_line_break_is_joined_into_one_line_with_a_warning_so_it_cannot_inject_a_header()
    {
        await using var world = await IntakeWorld.StartAsync();
        var key = await world.KeyAsync("cms");
        var response = await world.SendAsync(HttpMethod.Post, "/api/articles", key, Article("Split\r\nBcc: everyone@example.com", slug: "split"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var status = await IntakeWorld.JsonAsync(response);
        Assert.Equal("Split Bcc: everyone@example.com", status.GetProperty("title").GetString());
        Assert.Contains(status.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("line break"));
        Assert.Equal("Split Bcc: everyone@example.com", (await world.App.Get<ArticleStore>().FindBySlugAsync("split", Ct))!.Title);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Bad_slugs_in_the_url_huge_bodies_and_bad_bytes_are_refused()
    {
        await using var world = await IntakeWorld.StartAsync(extra: new() { ["Import:MaxFileBytes"] = "65536" });
        var key = await world.KeyAsync("cms");
        Assert.Equal("slug", (await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Put, "/api/articles/..%2F..%2Fetc", key, Article("Up")), 400)).Field);
        Assert.Equal("slug", (await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Get, "/api/articles/a%0D%0Ab", key), 400)).Field);

        var huge = Article("Huge", "<p>" + new string('x', 70_000) + "</p>");
        var (field, detail) = await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Post, "/api/articles", key, huge), 413);
        Assert.Equal(("body", true), (field, detail.Contains("Import:MaxFileBytes")));

        byte[] latin1 = [.. Encoding.UTF8.GetBytes("{\"title\": \"Caf"), 0xE9, .. Encoding.UTF8.GetBytes("\", \"body\": \"x\"}")];
        Assert.Contains("UTF-8", (await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Post, "/api/articles", key, null, bytes: latin1), 422)).Detail);

        // A body slug that differs from the URL's is refused rather than silently renamed.
        Assert.Equal("slug", (await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Put, "/api/articles/one", key, Article("One", slug: "two")), 422)).Field);
        Assert.Equal("slug", (await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Delete, "/api/articles/missing", key), 404)).Field);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_idempotency_key_gives_the_first_answer_again_and_refuses_another_body()
    {
        await using var world = await IntakeWorld.StartAsync();
        var key = await world.KeyAsync("cms");
        var first = await world.SendAsync(HttpMethod.Post, "/api/articles", key, Article("Once"), idempotencyKey: "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var firstBody = await first.Content.ReadAsStringAsync(Ct);

        var retry = await world.SendAsync(HttpMethod.Post, "/api/articles", key, Article("Once"), idempotencyKey: "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d");
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(firstBody, await retry.Content.ReadAsStringAsync(Ct));
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(first.Headers.Location, retry.Headers.Location);

        var reused = await world.SendAsync(HttpMethod.Post, "/api/articles", key, Article("Twice"), idempotencyKey: "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d");
        Assert.Equal("Idempotency-Key", (await IntakeWorld.ProblemAsync(reused, 422)).Field);
        Assert.Null(await world.App.Get<ArticleStore>().FindBySlugAsync("twice", Ct));
        Assert.Equal("Idempotency-Key", (await IntakeWorld.ProblemAsync(await world.SendAsync(HttpMethod.Post, "/api/articles", key, Article("Bad key"), idempotencyKey: "a b"), 400)).Field);
        var history = (await IntakeWorld.JsonAsync(await world.SendAsync(HttpMethod.Get, "/api/articles/once", key))).GetProperty("history");
        Assert.Single(history.EnumerateArray());
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Put_replaces_delete_unpublishes_out_of_the_feeds_and_put_publishes_again(StorageProvider provider)
    {
        await using var world = await IntakeWorld.StartAsync(provider);
        var key = await world.KeyAsync("cms");
        Assert.Equal(HttpStatusCode.Created, (await world.SendAsync(HttpMethod.Put, "/api/articles/budget-2027", key, Article("Budget 2027"))).StatusCode);
        var edited = await world.SendAsync(HttpMethod.Put, "/api/articles/budget-2027", key, Article("Budget 2027", "<p>Revised.</p>"));
        Assert.Equal(("updated", "published"), ((await IntakeWorld.JsonAsync(edited)).GetProperty("change").GetString(), (await IntakeWorld.JsonAsync(edited)).GetProperty("state").GetString()));

        var builder = world.App.Get<FeedBuilder>();
        await builder.BuildAsync(full: true, null, Ct);
        string SiteRss() => File.ReadAllText(Path.Combine(builder.Output.Root, "site", FeedPaths.Rss));
        Assert.Contains("Budget 2027", SiteRss());
        var status = await IntakeWorld.JsonAsync(await world.SendAsync(HttpMethod.Get, "/api/articles/budget-2027", key));
        Assert.Contains(status.GetProperty("feeds").EnumerateArray(), f => f.GetProperty("scope").GetString() == "site" && f.GetProperty("inCurrentFeed").GetBoolean());

        var deleted = await world.SendAsync(HttpMethod.Delete, "/api/articles/budget-2027", key);
        var unpublished = await IntakeWorld.JsonAsync(deleted);
        Assert.Equal(("unpublished", "unpublished"), (unpublished.GetProperty("change").GetString(), unpublished.GetProperty("state").GetString()));
        Assert.Empty(unpublished.GetProperty("feeds").EnumerateArray());
        await builder.BuildAsync(full: false, null, Ct);
        Assert.DoesNotContain("Budget 2027", SiteRss());
        Assert.DoesNotContain("Budget 2027", File.ReadAllText(Path.Combine(builder.Output.Root, "tags", "politics", FeedPaths.Rss)));
        // Unpublishing again changes nothing.
        Assert.Equal("unchanged", (await IntakeWorld.JsonAsync(await world.SendAsync(HttpMethod.Delete, "/api/articles/budget-2027", key))).GetProperty("change").GetString());

        var back = await IntakeWorld.JsonAsync(await world.SendAsync(HttpMethod.Put, "/api/articles/budget-2027", key, Article("Budget 2027", "<p>Revised.</p>")));
        Assert.Equal(("republished", "published"), (back.GetProperty("change").GetString(), back.GetProperty("state").GetString()));
        await builder.BuildAsync(full: false, null, Ct);
        Assert.Contains("Budget 2027", SiteRss());
        Assert.Equal(["created", "updated", "unpublished", "republished"],
            back.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("action").GetString()));
        Assert.All(back.GetProperty("history").EnumerateArray(), h => Assert.Equal("api key 'cms'", h.GetProperty("actor").GetString()));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_app_serves_an_openapi_description_of_the_article_api_and_the_ghost_webhook()
    {
        await using var world = await IntakeWorld.StartAsync();
        var response = await world.Http.GetAsync("/openapi/v1.json", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = await IntakeWorld.JsonAsync(response);
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString());
        var paths = document.GetProperty("paths");
        Assert.Equal(["delete", "get", "put"], paths.GetProperty("/api/articles/{slug}").EnumerateObject().Select(p => p.Name).Order());
        var post = paths.GetProperty("/api/articles").GetProperty("post");
        Assert.Equal(["application/json", "text/markdown", "text/plain"], post.GetProperty("requestBody").GetProperty("content").EnumerateObject().Select(p => p.Name).Order());
        Assert.True(post.GetProperty("responses").TryGetProperty("422", out _));
        Assert.True(paths.GetProperty("/webhooks/ghost").TryGetProperty("post", out _));
        Assert.Equal(["/api/articles", "/api/articles/{slug}", "/webhooks/ghost"], paths.EnumerateObject().Select(p => p.Name).Order());
    }
}
