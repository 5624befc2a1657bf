using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Articles.Import;
using Syndicator.Feeds;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Feeds;

public sealed partial class FeedBuildTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly XNamespace Atom = "http://www.w3.org/2005/Atom";

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static async Task<TestApp> AppAsync(StorageProvider provider = StorageProvider.Sqlite, Dictionary<string, string?>? settings = null)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero));
        var all = new Dictionary<string, string?>();
        foreach (var (k, v) in settings ?? []) all[k] = v;
        var app = await TestApp.CreateAsync(provider, all, s => s.AddSingleton<TimeProvider>(time));
        return app;
    }

    private static string Out(TestApp app) => app.Get<FeedBuilder>().Output.Root;

    /// <summary>The shared sample with a sidecar fixing what the text file leaves open (date, tags, image URL, comments).</summary>
    private static async Task ImportSampleAsync(TestApp app)
    {
        var dir = Path.Combine(app.Dir.Path, "sample");
        Directory.CreateDirectory(dir);
        File.Copy(Repo.SampleArticle, Path.Combine(dir, "regime.txt"));
        File.WriteAllText(Path.Combine(dir, "regime.meta.yaml"), """
            date: 2021-06-10T08:30:00Z
            tags: [Iran, Iraq]
            image: { url: https://cdn.magazine.example/musleh.jpg }
            commentUrl: https://mewe.example/post/123
            """);
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([dir], null, Ct);
        Assert.Equal(1, summary.Created);
    }

    private static async Task ImportAsync(TestApp app, string name, string title, string author, DateTimeOffset date, params string[] tags)
    {
        var path = app.Dir.File($"more/{name}.md", $"---\ntitle: \"{title}\"\nauthor: {author}\ndate: {date:O}\ntags: [{string.Join(", ", tags)}]\n---\nBody of {title}.\n");
        await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(FeedPaths.Rss)]
    [InlineData(FeedPaths.Atom)]
    [InlineData(FeedPaths.Json)]
    public async Task The_sample_article_feed_matches_its_golden_file(string file)
    {
        await using var app = await AppAsync();
        await ImportSampleAsync(app);
        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);

        var actual = UuidPattern().Replace(File.ReadAllText(Path.Combine(Out(app), "site", file)), "urn:uuid:ARTICLE-ID");
        var golden = Path.Combine(Repo.Root, "tests", "Syndicator.Tests", "Fixtures", "golden", "sample." + file);
        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(golden)!);
            File.WriteAllText(golden, actual);
        }
        Assert.True(File.Exists(golden), $"golden file {golden} is missing; run the tests once with UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(golden), actual);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_rss_item_carries_guid_creator_categories_full_content_enclosure_media_caption_and_comments()
    {
        await using var app = await AppAsync();
        await ImportSampleAsync(app);
        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);

        var rss = XDocument.Load(Path.Combine(Out(app), "site", "rss.xml"));
        var channel = rss.Root!.Element("channel")!;
        Assert.Equal("https://magazine.example/feeds/site/rss.xml", channel.Elements(Atom + "link").Single(l => (string?)l.Attribute("rel") == "self").Attribute("href")!.Value);
        var item = channel.Element("item")!;
        Assert.Equal("false", item.Element("guid")!.Attribute("isPermaLink")!.Value);
        Assert.Equal("Hassan Mahmoudi", item.Element(XName.Get("creator", "http://purl.org/dc/elements/1.1/"))!.Value);
        Assert.Equal(["Iran", "Iraq"], item.Elements("category").Select(c => c.Value));
        Assert.StartsWith("<p>Since the establishment", item.Element(XName.Get("encoded", "http://purl.org/rss/1.0/modules/content/"))!.Value);
        Assert.Equal("https://cdn.magazine.example/musleh.jpg", item.Element("enclosure")!.Attribute("url")!.Value);
        var media = item.Element(XName.Get("content", "http://search.yahoo.com/mrss/"))!;
        Assert.Equal("Qasim Musleh", media.Element(XName.Get("description", "http://search.yahoo.com/mrss/"))!.Value);
        Assert.Equal("https://mewe.example/post/123", item.Element("comments")!.Value);
        Assert.Equal("Thu, 10 Jun 2021 08:30:00 Z", item.Element("pubDate")!.Value);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Site_author_and_tag_feeds_are_written_in_three_formats_with_an_index_and_opml(StorageProvider provider)
    {
        await using var app = await AppAsync(provider);
        await ImportSampleAsync(app);
        var report = await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);

        foreach (var folder in new[] { "site", "authors/hassan-mahmoudi", "tags/iran", "tags/iraq" })
            foreach (var file in new[] { FeedPaths.Rss, FeedPaths.Atom, FeedPaths.Json })
                Assert.True(File.Exists(Path.Combine(Out(app), folder, file)), $"{folder}/{file} missing");
        Assert.Equal(4 * 3 + 2, report.Written.Count);
        var opml = XDocument.Load(Path.Combine(Out(app), FeedPaths.Opml));
        Assert.Equal(4, opml.Descendants("outline").Count());
        Assert.Contains("authors/hassan-mahmoudi/atom.xml", File.ReadAllText(Path.Combine(Out(app), FeedPaths.Index)));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_rebuild_after_one_new_article_rewrites_only_the_site_its_author_and_its_tags_and_leaves_other_files_untouched(StorageProvider provider)
    {
        await using var app = await AppAsync(provider);
        await ImportSampleAsync(app);
        await ImportAsync(app, "other", "Another view", "Jane Doe", new DateTimeOffset(2021, 7, 1, 0, 0, 0, TimeSpan.Zero), "economy");
        var builder = app.Get<FeedBuilder>();
        await builder.BuildAsync(full: false, null, Ct);
        var hassanFeed = Path.Combine(Out(app), "authors", "hassan-mahmoudi", "rss.xml");
        var before = File.GetLastWriteTimeUtc(hassanFeed);
        var bytesBefore = File.ReadAllBytes(hassanFeed);

        await Task.Delay(50, Ct);
        await ImportAsync(app, "third", "Third piece", "Jane Doe", new DateTimeOffset(2021, 8, 1, 0, 0, 0, TimeSpan.Zero), "economy", "trade");
        var report = await builder.BuildAsync(full: false, null, Ct);

        var folders = report.Written.Select(p => p.Contains('/') ? p[..p.LastIndexOf('/')] : p).Distinct().Order().ToList();
        Assert.Equal(["authors/jane-doe", "feeds.opml", "index.html", "site", "tags/economy", "tags/trade"], folders);
        Assert.Equal(before, File.GetLastWriteTimeUtc(hassanFeed));
        Assert.Equal(bytesBefore, File.ReadAllBytes(hassanFeed));

        var again = await builder.BuildAsync(full: false, null, Ct);
        Assert.Equal(0, again.Scopes);
        Assert.Empty(again.Written);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_full_build_leaves_files_whose_content_did_not_change_alone()
    {
        await using var app = await AppAsync();
        await ImportSampleAsync(app);
        var builder = app.Get<FeedBuilder>();
        await builder.BuildAsync(full: false, null, Ct);

        var report = await builder.BuildAsync(full: true, null, Ct);

        Assert.Empty(report.Written);
        Assert.Equal(3 * 4, report.Unchanged);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_edit_that_removes_a_tag_rebuilds_the_old_tags_feed_without_the_article()
    {
        await using var app = await AppAsync();
        var date = new DateTimeOffset(2021, 7, 1, 0, 0, 0, TimeSpan.Zero);
        await ImportAsync(app, "piece", "A piece", "Jane Doe", date, "economy", "trade");
        var builder = app.Get<FeedBuilder>();
        await builder.BuildAsync(full: false, null, Ct);

        await ImportAsync(app, "piece", "A piece", "Jane Doe", date, "economy");
        await builder.BuildAsync(full: false, null, Ct);

        var trade = XDocument.Load(Path.Combine(Out(app), "tags", "trade", "atom.xml"));
        Assert.Empty(trade.Root!.Elements(Atom + "entry"));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task History_beyond_the_current_feed_is_kept_in_rfc5005_archive_pages_linked_from_the_current_feed()
    {
        await using var app = await AppAsync(settings: new() { ["Feeds:ItemsPerFeed"] = "2" });
        var start = new DateTimeOffset(2021, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 5; i++) await ImportAsync(app, $"a{i}", $"Article {i}", "Jane Doe", start.AddDays(i), "t");
        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);

        XDocument Load(string path) => XDocument.Load(Path.Combine(Out(app), "site", path));
        string? Link(XDocument d, string rel) => d.Root!.Elements(Atom + "link").SingleOrDefault(l => (string?)l.Attribute("rel") == rel)?.Attribute("href")?.Value;
        IEnumerable<string> Titles(XDocument d) => d.Root!.Elements(Atom + "entry").Select(e => e.Element(Atom + "title")!.Value);

        var current = Load("atom.xml");
        Assert.Equal(["Article 4", "Article 3"], Titles(current));
        Assert.Equal("https://magazine.example/feeds/site/archive/2/atom.xml", Link(current, "prev-archive"));

        var page2 = Load("archive/2/atom.xml");
        Assert.Equal(["Article 3", "Article 2"], Titles(page2));
        Assert.NotNull(page2.Root!.Element(XName.Get("archive", "http://purl.org/syndication/history/1.0")));
        Assert.Equal("https://magazine.example/feeds/site/archive/1/atom.xml", Link(page2, "prev-archive"));
        Assert.Equal("https://magazine.example/feeds/site/atom.xml", Link(page2, "current"));

        var page1 = Load("archive/1/atom.xml");
        Assert.Equal(["Article 1", "Article 0"], Titles(page1));
        Assert.Null(Link(page1, "prev-archive"));
        Assert.Equal("https://magazine.example/feeds/site/archive/2/atom.xml", Link(page1, "next-archive"));

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Out(app), "site", "feed.json")));
        Assert.Equal("https://magazine.example/feeds/site/archive/2/feed.json", json.RootElement.GetProperty("next_url").GetString());
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Characters_that_xml_forbids_are_removed_so_the_feed_stays_well_formed()
    {
        await using var app = await AppAsync();
        var path = app.Dir.File("bad/ctl.json", "{\"title\":\"Bell\\u0007 and \\uFFFE title\",\"author\":\"Ann\\u0001 Lee\",\"bodyHtml\":\"<p>Form\\u000Cfeed</p>\",\"date\":\"2021-01-01T00:00:00Z\"}");
        await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);

        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);

        var rss = XDocument.Load(Path.Combine(Out(app), "site", "rss.xml"));
        Assert.Equal("Bell and  title", rss.Descendants("item").Single().Element("title")!.Value);
        var atom = XDocument.Load(Path.Combine(Out(app), "site", "atom.xml"));
        Assert.Equal("Ann Lee", atom.Descendants(Atom + "author").Single().Element(Atom + "name")!.Value);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Hubs_are_advertised_in_every_format()
    {
        await using var app = await AppAsync(settings: new() { ["Feeds:Hubs:0"] = "https://hub.example/" });
        await ImportSampleAsync(app);
        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);

        Assert.Contains("<atom:link rel=\"hub\" href=\"https://hub.example/\"", File.ReadAllText(Path.Combine(Out(app), "site", "rss.xml")));
        Assert.Contains("rel=\"hub\"", File.ReadAllText(Path.Combine(Out(app), "site", "atom.xml")));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Out(app), "site", "feed.json")));
        Assert.Equal("https://hub.example/", json.RootElement.GetProperty("hubs")[0].GetProperty("url").GetString());
    }

    [GeneratedRegex("urn:uuid:[0-9a-f-]{36}")]
    private static partial Regex UuidPattern();
}
