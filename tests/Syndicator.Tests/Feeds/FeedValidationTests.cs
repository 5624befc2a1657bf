using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Articles.Import;
using Syndicator.Feeds;
using Syndicator.Tests.Support;
using static Syndicator.Tests.Support.ExternalFeedValidators;

namespace Syndicator.Tests.Feeds;

/// <summary>Generated feeds checked by independent tools: Debian's feedparser, and jing against RFC 4287's RELAX NG schema.</summary>
public sealed class FeedValidationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] Titles =
    [
        "Tehran's mullahs & the \"street\" <analysis>",
        "مستقبل العراق بعد الانتخابات",
        "آینده‌ی ایران در دست مردم است",
        "Emoji diplomacy 🇮🇷🇮🇶 and what it hides 🙈",
        "Ñandú, Zürich and the café economy",
    ];

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_sample_feeds_parse_in_feedparser_and_the_atom_feed_validates_against_rfc4287()
    {
        await using var app = await TestApp.CreateAsync(settings: new() { ["Feeds:Hubs:0"] = "https://hub.example/" });
        await app.Get<ArticleFiles>().ImportPathsAsync([Repo.SampleArticle], null, Ct);
        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);
        var site = Path.Combine(app.Get<FeedBuilder>().Output.Root, "site");

        var rss = await AssertFeedparserAcceptsAsync(Path.Combine(site, FeedPaths.Rss), "rss20", Ct);
        Assert.Equal(1, rss.Entries);
        Assert.Equal("Hassan Mahmoudi", rss.FirstEntry!.Author);
        var atom = await AssertFeedparserAcceptsAsync(Path.Combine(site, FeedPaths.Atom), "atom10", Ct);
        Assert.Equal("The Iranian regime is losing its regional mystique", atom.FirstEntry!.Title);
        await AssertValidAtomAsync(Path.Combine(site, FeedPaths.Atom), Ct);
        AssertValidJsonFeed(Path.Combine(site, FeedPaths.Json));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_generated_corpus_with_archives_non_latin_titles_and_markup_yields_valid_feeds_everywhere()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var app = await TestApp.CreateAsync(settings: new() { ["Feeds:ItemsPerFeed"] = "10" }, services: s => s.AddSingleton<TimeProvider>(time));
        var start = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var files = new List<string>();
        for (var i = 0; i < 45; i++)
        {
            var title = $"{Titles[i % Titles.Length]} #{i}";
            files.Add(app.Dir.File($"corpus/a{i:D3}.json", System.Text.Json.JsonSerializer.Serialize(new
            {
                title,
                author = new { name = $"Writer {i % 4}", x = $"writer{i % 4}" },
                tags = new[] { $"topic-{i % 3}", i % 2 == 0 ? "Middle East" : "Economy" },
                date = start.AddDays(i).ToString("O"),
                image = i % 5 == 0 ? new { url = $"https://cdn.example/{i}.png", caption = "A caption & more" } : null,
                commentUrl = i % 7 == 0 ? $"https://talk.example/{i}" : null,
                bodyHtml = $"<p>Paragraph with <a href=\"https://example.org/{i}\" onclick=\"steal()\">a link</a> &amp; <script>alert(1)</script> text.</p><p>{title}</p>",
            })));
        }
        await app.Get<ArticleFiles>().ImportPathsAsync(files, null, Ct);
        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);
        var root = app.Get<FeedBuilder>().Output.Root;

        string[] folders = ["site", "site/archive/1", "site/archive/4", "authors/writer-1", "tags/middle-east", "tags/topic-2/archive/1"];
        foreach (var folder in folders)
        {
            var rss = await AssertFeedparserAcceptsAsync(Path.Combine(root, folder, FeedPaths.Rss), "rss20", Ct);
            Assert.True(rss.Entries > 0, $"{folder}/rss.xml has no entries");
            Assert.DoesNotContain("<script", rss.FirstEntry!.Content ?? "");
            await AssertFeedparserAcceptsAsync(Path.Combine(root, folder, FeedPaths.Atom), "atom10", Ct);
            await AssertValidAtomAsync(Path.Combine(root, folder, FeedPaths.Atom), Ct);
            AssertValidJsonFeed(Path.Combine(root, folder, FeedPaths.Json));
        }
        var allText = string.Concat(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(File.ReadAllText));
        Assert.DoesNotContain("onclick", allText);
        Assert.DoesNotContain("&lt;script", allText);
        Assert.DoesNotContain("javascript:", allText);
    }
}
