using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Feeds;
using Syndicator.Shared;
using Syndicator.Storage;
using Syndicator.Tests.Support;
using static Syndicator.Tests.Support.ExternalFeedValidators;

namespace Syndicator.Tests.Articles;

/// <summary>Hostile article files (issue 12): each is refused with its reason, or neutralised with a stored warning, and the feeds stay valid.</summary>
public sealed class HostileArticleTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static string Md(string frontMatter, string body = "Body paragraph.") => $"---\n{frontMatter}\n---\n{body}\n";

    public static TheoryData<string, string, string> BadRequiredFields => new()
    {
        { "url: javascript:alert(document.cookie)", "'url'", "scheme is 'javascript:'" },
        { "url: \"data:text/html,<script>alert(1)</script>\"", "'url'", "scheme is 'data:'" },
        { "url: vbscript:msgbox", "'url'", "scheme is 'vbscript:'" },
        { "url: not a uri at all", "'url'", "white space" },
        { "url: /relative/path", "'url'", "not an absolute URL" },
        { "url: \"https://magazine.example/a\\u0007b\"", "'url'", "control character U+0007" },
        { "url: https://user:secret@magazine.example/a", "'url'", "user name or password" },
        { "slug: ../../etc/passwd", "'slug'", "'..'" },
        { "slug: a/b", "'slug'", "two path segments" },
        { "slug: \"a\\r\\nb\"", "'slug'", "control character U+000D" },
        { $"slug: {new string('x', 101)}", "'slug'", "over the limit of 100" },
    };

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(BadRequiredFields))]
    public async Task A_bad_canonical_url_or_slug_sends_the_file_to_rejected_with_the_key_and_the_reason(string field, string key, string reason)
    {
        await using var app = await TestApp.CreateAsync();
        var path = app.Dir.File("in/bad.md", Md($"title: Bad\n{field}"));
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);

        var result = Assert.Single(summary.Files);
        Assert.True(result.Rejected);
        Assert.Contains(key, result.Rejection);
        Assert.Contains(reason, result.Rejection);
        Assert.Contains("line 3", result.Rejection); // the front matter line of the key
        Assert.True(File.Exists(result.RejectedTo + ".error.txt"));
        Assert.Equal(0, await app.Get<ArticleStore>().CountAsync(Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Bad_image_and_comment_urls_and_body_links_are_dropped_with_warnings_kept_on_the_article()
    {
        await using var app = await TestApp.CreateAsync();
        var path = app.Dir.File("in/warn.md", Md(
            "title: Warned\nimage: \"https://cdn.example/a\\u0001.jpg\"\ncommentUrl: vbscript:msgbox(1)",
            "[click](javascript:alert(1)) and [data](data:text/html;base64,PHNjcmlwdD4=) and [ok](https://example.org/ok)"));
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);

        var article = Assert.Single(summary.Files[0].Articles);
        var stored = (await app.Get<ArticleStore>().FindByIdAsync(article.Id, Ct))!;
        Assert.Null(stored.Image);
        Assert.Null(stored.CommentUrl);
        Assert.DoesNotContain("javascript:", stored.BodyHtml);
        Assert.DoesNotContain("data:", stored.BodyHtml);
        Assert.Contains("href=\"https://example.org/ok\"", stored.BodyHtml);
        Assert.Equal(4, stored.Warnings.Count);
        Assert.Contains(stored.Warnings, w => w.StartsWith("'image' (line 3) was dropped") && w.Contains("\\u0001"));
        Assert.Contains(stored.Warnings, w => w.StartsWith("'commentUrl' (line 4) was dropped") && w.Contains("'vbscript:'"));
        Assert.Equal(2, stored.Warnings.Count(w => w.StartsWith("a link in the body was removed")));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Control_characters_in_a_title_body_and_tags_are_removed_with_a_warning_naming_the_fields()
    {
        await using var app = await TestApp.CreateAsync();
        // An escape sequence that would clear a terminal and retitle a window, a bell; a bell inside a tag.
        var path = app.Dir.File("in/escapes.md", Md(
            "title: \"آینده \\u001b[2J\\u001b]0;pwned\\u0007 🇮🇷\"\ntags: [\"ok\", \"b\\u0007ad\"]",
            "A body with a \u0001 start-of-heading and an emoji 🎉."));
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);

        var article = Assert.Single(summary.Files[0].Articles);
        var stored = (await app.Get<ArticleStore>().FindByIdAsync(article.Id, Ct))!;
        Assert.Equal("آینده [2J]0;pwned 🇮🇷", stored.Title);
        Assert.Equal(["bad", "ok"], stored.Tags.Order());
        Assert.Contains("emoji 🎉", stored.BodyHtml);
        Assert.DoesNotContain(stored.Title + stored.BodyHtml + string.Concat(stored.Tags), c => char.IsControl(c) && c is not ('\n' or '\r' or '\t'));
        var warning = Assert.Single(stored.Warnings, w => w.StartsWith("characters a feed cannot carry"));
        Assert.Contains("the title (3)", warning);
        Assert.Contains("the body (1)", warning);
        Assert.Contains("the tags (1)", warning);

        // The same file again is unchanged: the warning is the same, not a second one.
        var again = await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);
        Assert.Equal(ImportChange.Unchanged, Assert.Single(again.Files[0].Articles).Change);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Urls_are_stored_as_uris_with_punycode_hosts_and_percent_encoded_paths()
    {
        await using var app = await TestApp.CreateAsync();
        var path = app.Dir.File("in/idn.md", Md("title: IDN\nurl: https://bücher.example/نقش-ایران?q=é#بخش\nimage: https://CDN.Example/تصویر.png",
            "[link](https://مثال.example/صفحه)"));
        var article = await app.Get<ArticleStore>().StoredAsync((await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct)).Files[0].Articles[0], Ct);

        Assert.Equal("https://xn--bcher-kva.example/%D9%86%D9%82%D8%B4-%D8%A7%DB%8C%D8%B1%D8%A7%D9%86?q=%C3%A9#%D8%A8%D8%AE%D8%B4", article.CanonicalUrl.Value);
        Assert.Equal("https://cdn.example/%D8%AA%D8%B5%D9%88%DB%8C%D8%B1.png", article.Image!.Url!.Value);
        Assert.Contains("href=\"https://xn--mgbh0fb.example/%D8%B5%D9%81%D8%AD%D9%87\"", article.BodyHtml);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_persian_title_keeps_a_persian_slug_and_every_url_of_it_is_percent_encoded()
    {
        await using var app = await TestApp.CreateAsync();
        var title = "آینده‌ی ایران در دست مردم است";
        var path = app.Dir.File("in/fa.md", Md($"title: {title}\ntags: [سیاست, C++, C#]"));
        var article = await app.Get<ArticleStore>().StoredAsync((await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct)).Files[0].Articles[0], Ct);

        Assert.Equal("آینده-ی-ایران-در-دست-مردم-است", article.Slug.Value);
        Assert.Equal("https://magazine.example/" + Uri.EscapeDataString(article.Slug.Value), article.CanonicalUrl.Value);
        await app.Get<FeedBuilder>().BuildAsync(full: true, null, Ct);
        var root = app.Get<FeedBuilder>().Output.Root;
        var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(root, "site", FeedPaths.Json)));
        Assert.Equal(article.CanonicalUrl.Value, json.RootElement.GetProperty("items")[0].GetProperty("url").GetString());
        var tagFeed = Path.Combine(root, "tags", "سیاست", FeedPaths.Atom);
        Assert.Equal("https://magazine.example/feeds/tags/%D8%B3%DB%8C%D8%A7%D8%B3%D8%AA/atom.xml", XDocument.Load(tagFeed).Root!.Element(XName.Get("id", "http://www.w3.org/2005/Atom"))!.Value);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_slug_another_file_owns_is_refused_naming_that_file_unless_the_file_declares_that_articles_id(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        var files = app.Get<ArticleFiles>();
        var first = (await files.ImportPathsAsync([app.Dir.File("in/first.md", Md("title: First\nslug: shared"))], null, Ct)).Files[0].Articles[0];

        var second = (await files.ImportPathsAsync([app.Dir.File("in/second.md", Md("title: Second\nslug: shared"))], null, Ct)).Files[0];
        Assert.True(second.Rejected);
        Assert.Contains("first.md", second.Rejection);
        Assert.Contains($"id: {first.Id}", second.Rejection);
        Assert.Equal("First", (await app.Get<ArticleStore>().FindBySlugAsync("shared", Ct))!.Title);

        // Two articles of one JSON file with one slug: the second would replace the first, so the file is refused whole.
        var array = app.Dir.File("in/pair.json", "[{\"title\":\"A\",\"slug\":\"twin\",\"body\":\"a\"},{\"title\":\"B\",\"slug\":\"twin\",\"body\":\"b\"}]");
        Assert.Contains("pair.json#0", (await files.ImportPathsAsync([array], null, Ct)).Files[0].Rejection);
        Assert.Null(await app.Get<ArticleStore>().FindBySlugAsync("twin", Ct));

        var renamed = (await files.ImportPathsAsync([app.Dir.File("in/renamed.md", Md($"title: First, renamed\nslug: shared\nid: {first.Id}"))], null, Ct)).Files[0];
        Assert.False(renamed.Rejected, renamed.Rejection);
        var stored = Assert.Single(await app.Get<ArticleStore>().ListAsync(10, Ct));
        Assert.Equal((first.Id, "First, renamed"), (stored.Id, stored.Title));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Authors_and_tags_whose_names_slug_alike_get_distinct_feed_folders_that_stay_put(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        var files = app.Get<ArticleFiles>();
        await files.ImportPathsAsync([
            app.Dir.File("in/a.md", Md("title: A\nauthor: Jane Doe\ntags: [C++, AI]")),
            app.Dir.File("in/b.md", Md("title: B\nauthor: Jane-Doe!\ntags: [C#, ai]")),
        ], null, Ct);
        var builder = app.Get<FeedBuilder>();
        await builder.BuildAsync(full: true, null, Ct);
        var root = builder.Output.Root;

        string[] folders = ["authors/jane-doe", "authors/jane-doe-2", "tags/c-plus-plus", "tags/c-sharp", "tags/ai", "tags/ai-2"];
        foreach (var folder in folders)
            Assert.Equal(1, (await AssertFeedparserAcceptsAsync(Path.Combine(root, folder, FeedPaths.Rss), "rss20", Ct)).Entries);
        Assert.Equal(["A", "B"], folders.Take(2).Select(f => XDocument.Load(Path.Combine(root, f, FeedPaths.Rss)).Descendants("item").Single().Element("title")!.Value));

        // A third name of the same slug, and a full rebuild: the first two keep their folders and no file is rewritten.
        await files.ImportPathsAsync([app.Dir.File("in/c.md", Md("title: C\nauthor: JANE DOE\ntags: [c++]"))], null, Ct);
        await builder.BuildAsync(full: false, null, Ct);
        var again = await builder.BuildAsync(full: true, null, Ct);
        Assert.Empty(again.Written);
        Assert.True(File.Exists(Path.Combine(root, "authors/jane-doe-3", FeedPaths.Rss)));
        Assert.Equal("A", XDocument.Load(Path.Combine(root, "authors/jane-doe", FeedPaths.Rss)).Descendants("item").Single().Element("title")!.Value);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_50_MB_file_and_a_100000_paragraph_file_are_rejected_with_their_reasons_before_parsing()
    {
        await using var app = await TestApp.CreateAsync();
        var huge = Path.Combine(app.Dir.Path, "in", "huge.md");
        Directory.CreateDirectory(Path.GetDirectoryName(huge)!);
        await using (var stream = File.Create(huge))
        {
            var line = Encoding.UTF8.GetBytes("A paragraph of a file far too large to be an article.\n\n");
            for (var written = 0L; written < 50L * 1024 * 1024; written += line.Length) stream.Write(line);
        }
        var paragraphs = app.Dir.File("in/paragraphs.md", "# Many paragraphs\n\n" + string.Concat(Enumerable.Repeat("p\n\n", 100_000)));
        var nested = app.Dir.File("in/nested.md", "# Nested\n\n" + new string('>', 10_000) + " deep\n");
        var htmlNested = app.Dir.File("in/nested.json", JsonSerializer.Serialize(new { title = "Nested", bodyHtml = string.Concat(Enumerable.Repeat("<div>", 5_000)) + "x" }));

        foreach (var (file, reason) in new[]
                 {
                     (huge, "over the limit of 2,097,152 (Import:MaxFileBytes)"),
                     (paragraphs, "more than 5,000 paragraphs (Import:MaxParagraphs)"),
                     (nested, "nested 10000 deep, over the limit of 32 (Import:MaxNestingDepth)"),
                     (htmlNested, "nested more than 32 deep (Import:MaxNestingDepth)"),
                 })
        {
            var clock = Stopwatch.StartNew();
            var result = Assert.Single((await app.Get<ArticleFiles>().ImportPathsAsync([file], null, Ct)).Files);
            output.WriteLine($"{Path.GetFileName(file)} ({new FileInfo(file).Length:N0} bytes) rejected in {clock.Elapsed.TotalMilliseconds:N0} ms: {result.Rejection}");
            Assert.True(result.Rejected);
            Assert.Contains(reason, result.Rejection);
        }
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hostile_corpus_yields_feeds_valid_in_feedparser_and_jing_whose_every_link_is_an_http_uri()
    {
        await using var app = await TestApp.CreateAsync();
        string[] fronts =
        [
            "title: \"آینده‌ی ایران 🇮🇷 در دست مردم است\"\ntags: [سیاست, C++, C#]\nimage: \"https://cdn.example/تصویر\\u0007.jpg\"",
            "title: مستقبل العراق\nurl: https://عراق.example/مقال/١\ncommentUrl: javascript:alert(1)\ntags: [العراق]",
            "title: 中国经济的未来\nauthor: 王 小明\ntags: [经济, 中国]\nimage: data:image/png;base64,AAAA",
            "title: \"Family 👨‍👩‍👧‍👦 <script>alert(1)</script>\"\nauthor: Jane-Doe!\ntags: [\"Tags with / slash\", \"..\"]",
            "title: Plain\nauthor: Jane Doe\ncommentUrl: https://talk.example/یک",
        ];
        var files = fronts.Select((f, i) => app.Dir.File($"in/h{i}.md", Md(f, "[x](javascript:alert(1)) <a href=\"vbscript:x\">y</a> <img src=\"data:image/png;base64,AAAA\"> text"))).ToList();
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync(files, null, Ct);
        Assert.Equal(0, summary.Rejected);
        await app.Get<FeedBuilder>().BuildAsync(full: true, null, Ct);
        var root = app.Get<FeedBuilder>().Output.Root;

        var feeds = Directory.EnumerateFiles(root, "*.xml", SearchOption.AllDirectories).ToList();
        Assert.Equal(2 * (1 + 4 + 8), feeds.Count); // the site, 4 authors and 8 tags, in RSS and Atom: none left out
        foreach (var feed in feeds)
        {
            if (feed.EndsWith(FeedPaths.Atom)) { await AssertFeedparserAcceptsAsync(feed, "atom10", Ct); await AssertValidAtomAsync(feed, Ct); }
            else await AssertFeedparserAcceptsAsync(feed, "rss20", Ct);
            foreach (var url in UrlsIn(XDocument.Load(feed)))
                AssertHttpUri(url, feed);
        }
        foreach (var json in Directory.EnumerateFiles(root, FeedPaths.Json, SearchOption.AllDirectories))
        {
            AssertValidJsonFeed(json);
            var doc = JsonDocument.Parse(File.ReadAllBytes(json)).RootElement;
            foreach (var item in doc.GetProperty("items").EnumerateArray())
                AssertHttpUri(item.GetProperty("url").GetString()!, json);
            AssertHttpUri(doc.GetProperty("feed_url").GetString()!, json);
        }
        var all = string.Concat(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(File.ReadAllText));
        Assert.DoesNotContain("javascript:", all);
        Assert.DoesNotContain("vbscript:", all);
        Assert.DoesNotContain("data:image", all);
    }

    private static IEnumerable<string> UrlsIn(XDocument document)
    {
        XNamespace atom = "http://www.w3.org/2005/Atom";
        foreach (var element in document.Descendants())
        {
            if (element.Name == atom + "id" && !element.Value.StartsWith("urn:uuid:", StringComparison.Ordinal)) yield return element.Value;
            if (element.Name.LocalName is "link" or "comments" && element.Name.Namespace == XNamespace.None && element.Value.Length > 0) yield return element.Value;
            foreach (var attribute in element.Attributes().Where(a => a.Name.LocalName is "href" or "url"))
                yield return attribute.Value;
        }
    }

    private static void AssertHttpUri(string url, string where)
    {
        Assert.True(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https", $"{where}: \"{url}\" is not an absolute http(s) URL");
        Assert.True(url.All(c => c is > ' ' and < (char)0x7F), $"{where}: \"{url}\" is not in URI form (non-ASCII or control characters)");
    }
}
