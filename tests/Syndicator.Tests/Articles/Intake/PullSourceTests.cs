using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Syndicator.Articles;
using Syndicator.Articles.Intake;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles.Intake;

/// <summary>Pulling feeds and a WordPress-shaped API served on loopback: new, edited, unchanged (never re-imported), refused, unreachable, malformed.</summary>
public sealed class PullSourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A CMS on loopback: serves <see cref="Body"/> with an ETag of its content and answers 304 to a matching If-None-Match.</summary>
    private sealed class Cms
    {
        public string Body { get; set; } = "";
        public string ContentType { get; set; } = "application/rss+xml";
        public int Requests { get; private set; }
        public int NotModified { get; private set; }

        public void Map(WebApplication app) => app.MapGet("/{**path}", (HttpContext context) =>
        {
            Requests++;
            var etag = $"\"{(uint)Body.GetHashCode():x}\"";
            if (context.Request.Headers.IfNoneMatch.ToString() == etag)
            {
                NotModified++;
                return Results.StatusCode(304);
            }
            context.Response.Headers.ETag = etag;
            return Results.Text(Body, ContentType);
        });
    }

    private static string Rss(params string[] items) => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
          <channel><title>Magazine</title><link>https://magazine.example/</link><description>d</description>
          {string.Concat(items)}
          </channel>
        </rss>
        """;

    private static string Item(string guid, string title, string content, string link = "https://magazine.example/{0}", string author = "Ali Rezaei") => $"""
        <item><guid isPermaLink="false">{guid}</guid><title>{title}</title><link>{string.Format(link, guid)}</link>
          <dc:creator>{author}</dc:creator><category>Economy</category><pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate>
          <description>Short summary of {title}.</description>
          <content:encoded><![CDATA[{content}]]></content:encoded></item>
        """;

    private static async Task<(TestApp App, SourcePuller Puller, PullSourceOptions Source)> AppAsync(string url, string kind = "Feed", StorageProvider provider = StorageProvider.Sqlite)
    {
        var app = await TestApp.CreateAsync(provider, new()
        {
            ["Intake:Sources:0:Name"] = "cms",
            ["Intake:Sources:0:Kind"] = kind,
            ["Intake:Sources:0:Url"] = url,
            ["Intake:PullTimeoutSeconds"] = "5",
        });
        var options = app.Get<Microsoft.Extensions.Options.IOptions<IntakeOptions>>().Value;
        return (app, app.Get<SourcePuller>(), options.Sources.Single());
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.PostgreSql)]
    public async Task New_entries_are_imported_with_full_content_an_unchanged_feed_is_not_fetched_again_and_an_edit_updates_only_its_article(StorageProvider provider)
    {
        var cms = new Cms { Body = Rss(Item("p1", "مستقبل العراق", "<p>النص الكامل.</p>"), Item("p2", "中国经济 📈", "<p>全文。</p>")) };
        await using var server = await LoopbackServer.StartAsync(cms.Map);
        var (app, puller, source) = await AppAsync(server.BaseUrl + "/feed.xml", provider: provider);
        await using var _ = app;

        var first = await puller.PullAsync(source, Ct);
        Assert.Equal((2, 0, 0, 0, null), (first.Created, first.Updated, first.Unchanged, first.Refused, first.Failure));
        var store = app.Get<ArticleStore>();
        var iraq = (await store.FindBySourceNameAsync("pull:cms:p1", Ct))!;
        Assert.Equal(("مستقبل العراق", "<p>النص الكامل.</p>", "Ali Rezaei", "https://magazine.example/p1"), (iraq.Title, iraq.BodyHtml, iraq.Author.Name, iraq.CanonicalUrl.Value));
        Assert.Equal(["Economy"], iraq.Tags);

        // The feed did not change: the server answers 304 to the conditional GET and nothing is read.
        var second = await puller.PullAsync(source, Ct);
        Assert.True(second.NotModified);
        Assert.Equal(1, cms.NotModified);

        // One entry edited: that one article is updated, the other is left alone (its history keeps one line).
        cms.Body = Rss(Item("p1", "مستقبل العراق", "<p>النص الكامل، مع تصحيح.</p>"), Item("p2", "中国经济 📈", "<p>全文。</p>"));
        var third = await puller.PullAsync(source, Ct);
        Assert.Equal((0, 1, 1), (third.Created, third.Updated, third.Unchanged));
        Assert.Equal("<p>النص الكامل، مع تصحيح.</p>", (await store.FindByIdAsync(iraq.Id, Ct))!.BodyHtml);
        var china = (await store.FindBySourceNameAsync("pull:cms:p2", Ct))!;
        Assert.Single(await app.Get<ArticleIntake>().HistoryAsync(china.Id, Ct));
        Assert.Equal(["created", "updated"], (await app.Get<ArticleIntake>().HistoryAsync(iraq.Id, Ct)).Select(h => h.Action));
        Assert.All(await app.Get<ArticleIntake>().HistoryAsync(iraq.Id, Ct), h => Assert.Equal("source 'cms'", h.Actor));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_refused_entry_is_reported_and_the_others_still_go_in()
    {
        var cms = new Cms
        {
            Body = Rss(
                Item("good", "Good one", "<p>Fine.</p>"),
                Item("bad", "Bad link", "<p>x</p>", link: "javascript:alert(1)"),
                Item("nobody", "No body", "")),
        };
        await using var server = await LoopbackServer.StartAsync(cms.Map);
        var (app, puller, source) = await AppAsync(server.BaseUrl + "/feed.xml");
        await using var _ = app;

        Assert.Equal(["cms"], (await puller.DueAsync(Ct)).Select(s => s.Name));
        var report = await puller.PullAsync(source, Ct);
        // Polled just now: not due again for IntervalMinutes (15).
        Assert.Empty(await puller.DueAsync(Ct));
        // An empty content:encoded falls back to the description, so "No body" goes in with its summary as the body.
        Assert.Equal((2, 1), (report.Created, report.Refused));
        Assert.Contains(report.Problems, p => p.StartsWith("entry bad (\"Bad link\")") && p.Contains("'url'") && p.Contains("javascript:"));
        Assert.NotNull(await app.Get<ArticleStore>().FindBySourceNameAsync("pull:cms:good", Ct));
        Assert.Null(await app.Get<ArticleStore>().FindBySourceNameAsync("pull:cms:bad", Ct));
        Assert.Equal("<p>Short summary of No body.</p>", (await app.Get<ArticleStore>().FindBySourceNameAsync("pull:cms:nobody", Ct))!.BodyHtml);
        Assert.Contains("refused", report.ToString());
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_atom_feed_gives_its_html_content()
    {
        var cms = new Cms
        {
            ContentType = "application/atom+xml",
            Body = """
                <?xml version="1.0" encoding="utf-8"?>
                <feed xmlns="http://www.w3.org/2005/Atom"><title>M</title><id>urn:m</id><updated>2026-11-24T08:00:00Z</updated>
                  <entry><id>urn:uuid:1</id><title>آینده‌ی ایران</title><updated>2026-11-24T09:00:00Z</updated><published>2026-11-24T08:00:00Z</published>
                    <link rel="alternate" href="https://magazine.example/iran"/><author><name>Sara Ahmadi</name></author>
                    <content type="html">&lt;p&gt;متن &lt;em&gt;کامل&lt;/em&gt;.&lt;/p&gt;</content></entry>
                </feed>
                """,
        };
        await using var server = await LoopbackServer.StartAsync(cms.Map);
        var (app, puller, source) = await AppAsync(server.BaseUrl + "/atom.xml");
        await using var _ = app;
        Assert.Equal(1, (await puller.PullAsync(source, Ct)).Created);
        var article = (await app.Get<ArticleStore>().FindBySourceNameAsync("pull:cms:urn:uuid:1", Ct))!;
        Assert.Equal(("آینده‌ی ایران", "<p>متن <em>کامل</em>.</p>", "Sara Ahmadi"), (article.Title, article.BodyHtml, article.Author.Name));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_unreachable_source_a_server_error_and_a_malformed_answer_fail_the_poll_with_the_reason()
    {
        // A port that was just free: nothing listens there.
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var (app, puller, source) = await AppAsync($"http://127.0.0.1:{port}/feed.xml");
        await using (app)
            Assert.Contains("could not reach", (await puller.PullAsync(source, Ct)).Failure);

        var cms = new Cms { Body = "<rss><channel><item><title>unclosed" };
        await using var server = await LoopbackServer.StartAsync(cms.Map);
        var (app2, puller2, source2) = await AppAsync(server.BaseUrl + "/feed.xml");
        await using var _ = app2;
        var malformed = await puller2.PullAsync(source2, Ct);
        Assert.Contains("not an RSS 2.0 or Atom 1.0 feed", malformed.Failure);
        Assert.Equal(0, await app2.Get<ArticleStore>().CountAsync(Ct));

        cms.Body = "<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><rss version=\"2.0\"><channel><title>&lol;</title></channel></rss>";
        Assert.Contains("not an RSS 2.0 or Atom 1.0 feed", (await puller2.PullAsync(source2, Ct)).Failure);
    }

    private static string WordPressPosts(string content, string modified) => $$$"""
        [{"id": 42, "date_gmt": "2026-11-24T08:00:00", "modified_gmt": "{{{modified}}}", "slug": "%d8%a8%d9%88%d8%af%d8%ac%d9%87", "status": "publish",
          "link": "https://blog.example/budget/", "title": {"rendered": "Budget &#8217;27 بودجه"},
          "content": {"rendered": "{{{content}}}", "protected": false}, "excerpt": {"rendered": "<p>Summary of the budget.</p>"},
          "_embedded": {"author": [{"id": 1, "name": "Ali Rezaei"}],
                        "wp:featuredmedia": [{"id": 7, "source_url": "https://blog.example/wp-content/uploads/budget.jpg", "alt_text": "Parliament"}],
                        "wp:term": [[{"id": 3, "name": "Economy &amp; Money", "taxonomy": "category"}], [{"id": 9, "name": "Iran", "taxonomy": "post_tag"}]]}}]
        """;

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_wordpress_site_is_pulled_through_its_rest_api_and_an_unchanged_post_is_not_imported_again()
    {
        var cms = new Cms { ContentType = "application/json", Body = WordPressPosts("<p>Full text.</p>", "2026-11-24T08:00:00") };
        string? path = null;
        await using var server = await LoopbackServer.StartAsync(app => app.MapGet("/{**rest}", (HttpContext context) =>
        {
            path = context.Request.Path + context.Request.QueryString;
            // WordPress sends no ETag: every poll reads the list again.
            return Results.Text(cms.Body, cms.ContentType);
        }));
        var (app, puller, source) = await AppAsync(server.BaseUrl, kind: "WordPress");
        await using var _ = app;

        Assert.Equal(1, (await puller.PullAsync(source, Ct)).Created);
        Assert.Equal("/wp-json/wp/v2/posts?per_page=20&_embed=1", path);
        var article = (await app.Get<ArticleStore>().FindBySourceNameAsync("pull:cms:42", Ct))!;
        Assert.Equal(("Budget ’27 بودجه", "بودجه", "Ali Rezaei", "Summary of the budget."), (article.Title, article.Slug.Value, article.Author.Name, article.Summary));
        Assert.Equal(["Economy & Money", "Iran"], article.Tags.Order());
        Assert.Equal(("https://blog.example/wp-content/uploads/budget.jpg", "Parliament"), (article.Image!.Url!.Value, article.Image.Caption));

        var unchanged = await puller.PullAsync(source, Ct);
        Assert.Equal((0, 0, 1), (unchanged.Created, unchanged.Updated, unchanged.Unchanged));
        Assert.Single(await app.Get<ArticleIntake>().HistoryAsync(article.Id, Ct));

        cms.Body = WordPressPosts("<p>Full text, revised.</p>", "2026-11-25T10:00:00");
        Assert.Equal(1, (await puller.PullAsync(source, Ct)).Updated);
        Assert.Equal("<p>Full text, revised.</p>", (await app.Get<ArticleStore>().FindByIdAsync(article.Id, Ct))!.BodyHtml);

        cms.Body = "{\"code\": \"rest_no_route\"}";
        Assert.Contains("not a JSON array of posts", (await puller.PullAsync(source, Ct)).Failure);
    }
}
