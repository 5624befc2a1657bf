using System.Text;
using Microsoft.Extensions.Logging;
using Syndicator.Articles.Import;
using Syndicator.Feeds;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Feeds;

/// <summary>
/// A build keeps the entries it rendered in a file of its own, so the author's and tags' feeds take the site's entries
/// instead of reading and rendering every article again: the bytes must come back exactly, from any number of workers,
/// the file must never show in the output folder, and a folder that cannot take it must only make the build slower.
/// </summary>
public sealed class EntryCacheTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static FeedEntry Entry(string id, int size)
    {
        // Persian, Chinese, emoji, CR LF and a control character, repeated to the size wanted.
        var text = new StringBuilder();
        while (text.Length < size) text.Append($"<item>{id} حسن 北京 🚀\r\n\u0001</item>");
        var bytes = Encoding.UTF8.GetBytes(text.ToString(0, size));
        return new FeedEntry(id, new DateTimeOffset(2026, 11, 27, 8, 30, 0, TimeSpan.FromHours(3.5)), bytes, [.. bytes, (byte)'a'], size == 0 ? [] : bytes[..(size / 2)]);
    }

    private static void AssertSame(FeedEntry expected, Rendered actual)
    {
        Assert.Null(actual.Error);
        var entry = Assert.IsType<FeedEntry>(actual.Entry);
        Assert.Equal(expected.ArticleId, entry.ArticleId);
        Assert.Equal(expected.Updated, entry.Updated);
        Assert.Equal(expected.Rss, entry.Rss);
        Assert.Equal(expected.Atom, entry.Atom);
        Assert.Equal(expected.Json, entry.Json);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Entries_added_by_many_workers_at_once_come_back_byte_for_byte_and_the_file_never_shows_in_the_folder()
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "feeds");
        var log = new LogCapture();
        var entries = Enumerable.Range(0, 2_000).Select(i => Entry($"id-{i}", i switch { 0 => 0, 1 => 5 * 1024 * 1024, _ => 1 + i * 7 % 20_000 })).ToList();
        using (var cache = new EntryCache(folder, log.CreateLogger("test")))
        {
            Assert.False(cache.TryGet("id-0", out _));
            await Parallel.ForEachAsync(entries, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, (entry, _) =>
            {
                cache.Add(new Rendered(entry.ArticleId, "slug", entry, null));
                return ValueTask.CompletedTask;
            });
            // Unlinked as soon as it was opened: a reader of the folder, or a build killed now, never finds it.
            Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
            await Parallel.ForEachAsync(entries, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, (entry, _) =>
            {
                Assert.True(cache.TryGet(entry.ArticleId, out var rendered), entry.ArticleId);
                AssertSame(entry, rendered);
                return ValueTask.CompletedTask;
            });
            Assert.False(cache.TryGet("id-2000", out _));
            // An id added twice keeps the bytes first written.
            cache.Add(new Rendered("id-5", "slug", Entry("id-5", 3), null));
            Assert.True(cache.TryGet("id-5", out var first));
            AssertSame(entries[5], first);
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
        Assert.Empty(log.Entries);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public void An_article_that_failed_is_kept_with_its_error_and_a_folder_that_cannot_hold_the_file_only_warns()
    {
        using var dir = new TempDir();
        // A file where the folder should be: the cache's file cannot be made (this holds under root too).
        var folder = dir.File("feeds", "not a folder");
        var log = new LogCapture();
        using var cache = new EntryCache(folder, log.CreateLogger("test"));
        var error = new InvalidOperationException("the body cannot be rendered");
        cache.Add(new Rendered("bad", "شکسته", null, error));
        cache.Add(new Rendered("a", "a", Entry("a", 100), null));
        cache.Add(new Rendered("b", "b", Entry("b", 100), null));

        Assert.True(cache.TryGet("bad", out var failed));
        Assert.Same(error, failed.Error);
        Assert.Equal("شکسته", failed.Slug);
        Assert.Null(failed.Entry);
        Assert.False(cache.TryGet("a", out _));
        Assert.False(cache.TryGet("b", out _));
        var warning = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(folder, warning.Message);
        Assert.Contains("Free disk space", warning.Message);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_full_build_reads_and_renders_each_article_once_though_the_author_and_tag_feeds_carry_it_again()
    {
        await using var app = await TestApp.CreateAsync(StorageProvider.Sqlite, new() { ["Feeds:ItemsPerFeed"] = "4" });
        var start = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var paths = Enumerable.Range(0, 30).Select(i => app.Dir.File($"in/e{i:00}.md",
            $"---\ntitle: \"e{i:00} ✍️\"\nauthor: {(i % 2 == 0 ? "مریم" : "李雷")}\ndate: {start.AddHours(i):O}\ntags: [ایران, \"🚀 launch\"]\n---\nBody {i}: حسن، 北京 🚀.\n")).ToList();
        Assert.Equal(0, (await app.Get<ArticleFiles>().ImportPathsAsync(paths, null, Ct)).Rejected);
        var builder = app.Get<FeedBuilder>();

        var report = await builder.BuildAsync(full: true, null, Ct);

        Assert.Empty(report.Failures);
        // Site, two authors, two tags: each article is in four feeds (120 renders without the cache), and read once.
        Assert.Equal(5, report.Scopes);
        Assert.Equal(30, report.Rendered);
        Assert.DoesNotContain(Directory.EnumerateFiles(builder.Output.Root, "*", SearchOption.AllDirectories), f => Path.GetFileName(f).StartsWith('.'));
        // The entries taken from the site's build are the ones each feed would render itself.
        var author = Directory.EnumerateFiles(Path.Combine(builder.Output.Root, "authors"), "rss.xml", SearchOption.AllDirectories)
            .Select(File.ReadAllText).Single(text => text.Contains("<title>e29 ✍️</title>"));
        foreach (var i in new[] { 29, 27, 25, 23 }) Assert.Contains($"<title>e{i} ✍️</title>", author);
        Assert.DoesNotContain("e28", author);
    }
}
