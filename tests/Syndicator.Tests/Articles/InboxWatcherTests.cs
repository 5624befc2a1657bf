using System.Text;
using Syndicator.Articles;
using Syndicator.Feeds;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Scheduling;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles;

/// <summary>
/// The drop folder is watched: the running service imports what is dropped without waiting for the interval scan.
/// The scan is set to an hour and the settle time to a minute, so only the watcher can import anything here.
/// </summary>
public sealed class InboxWatcherTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<TestApp> StartAsync(StorageProvider provider, int quietMs = 300)
    {
        var app = await HistoryTestSupport.StartAsync(provider, new()
        {
            ["Jobs:DropFolderImport:IntervalSeconds"] = "3600",
            ["Import:SettleSeconds"] = "60",
            ["Import:WatchQuietMilliseconds"] = quietMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        // The interval trigger fires once at start; what comes after it can only be the watcher's doing.
        await HistoryTestSupport.WaitForRunsAsync(app.Store.Database, JobCatalog.DropFolderImport, runs => runs.Count >= 1);
        Directory.CreateDirectory(app.Inbox);
        return app;
    }

    /// <summary>Polls the store until it holds <paramref name="count"/> articles; fails naming what it has after a generous minute.</summary>
    private static async Task<IReadOnlyList<Article>> WaitForArticlesAsync(TestApp app, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        IReadOnlyList<Article> articles = [];
        while (DateTime.UtcNow < deadline)
        {
            articles = await app.Get<ArticleStore>().ListAsync(count + 10, Ct);
            if (articles.Count >= count) return articles;
            await Task.Delay(100, Ct);
        }
        Assert.Fail($"Expected {count} articles from the watched inbox, found {articles.Count}; inbox holds: {string.Join(", ", Directory.EnumerateFiles(app.Inbox).Select(Path.GetFileName))}");
        return articles;
    }

    public static TheoryData<StorageProvider> Providers => HistoryTestSupport.Providers;

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_dropped_file_is_imported_and_in_the_site_feed_without_waiting_for_the_scan(StorageProvider provider)
    {
        await using var app = await StartAsync(provider);

        await File.WriteAllTextAsync(Path.Combine(app.Inbox, "watched.txt"), "گزارش از تهران 📰\n\nThe body of a watched drop.\n", Ct);

        var article = Assert.Single(await WaitForArticlesAsync(app, 1));
        Assert.Equal("گزارش از تهران 📰", article.Title);
        // The file is moved to processed/ after its article is committed: the article can be seen first.
        var processed = Path.Combine(app.Inbox, "processed", "watched.txt");
        for (var i = 0; i < 600 && !File.Exists(processed); i++) await Task.Delay(100, Ct);
        Assert.True(File.Exists(processed));
        // The import hands the article to the feed build at once; wait for the file the build writes, then read it.
        var siteFeed = Path.Combine(app.Get<FeedBuilder>().Output.Root, FeedScope.Site.Folder, FeedPaths.Rss);
        var feed = "";
        for (var i = 0; i < 600 && !feed.Contains(article.Title, StringComparison.Ordinal); i++)
        {
            await Task.Delay(100, Ct);
            try { feed = File.Exists(siteFeed) ? await File.ReadAllTextAsync(siteFeed, Ct) : ""; }
            catch (IOException) { } // replaced while we read
        }
        Assert.Contains(article.Title, feed, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_burst_of_a_hundred_files_is_imported_whole_and_the_inbox_is_left_empty()
    {
        await using var app = await StartAsync(StorageProvider.Sqlite);

        for (var i = 0; i < 100; i++)
            await File.WriteAllTextAsync(Path.Combine(app.Inbox, $"burst-{i:D3}.md"), $"# Burst article {i}\n\nBody {i}, 東京 and عربي.\n", Ct);

        var articles = await WaitForArticlesAsync(app, 100);
        Assert.Equal(100, articles.Count);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"Burst article {i}").Order(StringComparer.Ordinal),
            articles.Select(a => a.Title).Order(StringComparer.Ordinal));
        // Each file is moved to processed/ after its article is committed, so the last articles can be seen first.
        for (var i = 0; i < 600 && Directory.EnumerateFiles(app.Inbox).Any(); i++) await Task.Delay(100, Ct);
        Assert.Empty(Directory.EnumerateFiles(app.Inbox));
        Assert.Equal(100, Directory.EnumerateFiles(Path.Combine(app.Inbox, "processed")).Count());
        Assert.False(Directory.Exists(Path.Combine(app.Inbox, "rejected")));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_file_still_being_written_is_imported_only_once_complete()
    {
        // A quiet window far longer than the pauses between writes: every write restarts it.
        await using var app = await StartAsync(StorageProvider.Sqlite, quietMs: 1500);
        var path = Path.Combine(app.Inbox, "slow.txt");

        await using (var writer = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
        {
            await writer.WriteAsync(Encoding.UTF8.GetBytes("A slow upload\n\n"), Ct);
            await writer.FlushAsync(Ct);
            for (var part = 1; part <= 8; part++)
            {
                await Task.Delay(100, Ct);
                await writer.WriteAsync(Encoding.UTF8.GetBytes($"Paragraph {part} of the upload.\n\n"), Ct);
                await writer.FlushAsync(Ct);
            }
        }

        var article = Assert.Single(await WaitForArticlesAsync(app, 1));
        Assert.Equal("A slow upload", article.Title);
        Assert.Contains("Paragraph 8 of the upload.", article.BodyHtml, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(app.Inbox, "rejected")));
    }
}
