using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Articles;
using Syndicator.Articles.Intake;
using Syndicator.Articles.Import;
using Syndicator.Feeds;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Feeds;

/// <summary>
/// An incremental build reads a scope only from the recorded start of the archive page before its earliest change,
/// and lists the scopes in <c>index.html</c> and <c>feeds.opml</c> with the counts builds recorded. Whatever the
/// sequence of changes, its output must be byte for byte what a build of everything from scratch writes.
/// </summary>
public sealed class FeedIncrementalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly DateTimeOffset Start = new(2021, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static async Task<TestApp> AppAsync(StorageProvider provider)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero));
        // Three items a page, so a handful of articles crosses many archive page boundaries.
        return await TestApp.CreateAsync(provider, new() { ["Feeds:ItemsPerFeed"] = "3" }, s => s.AddSingleton<TimeProvider>(time));
    }

    private static async Task ImportAsync(TestApp app, string name, string author, DateTimeOffset date, params string[] tags)
    {
        var path = app.Dir.File($"in/{name}.md", $"---\ntitle: \"{name} ✍️\"\nauthor: {author}\ndate: {date:O}\ntags: [{string.Join(", ", tags)}]\n---\nBody of {name}: حسن، 北京 🚀.\n");
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);
        Assert.Equal(0, summary.Rejected);
        Assert.True(summary.ChangedArticles, $"{name} changed nothing");
    }

    /// <summary>Builds incrementally, then everything from scratch into another folder, and compares every file.</summary>
    /// <param name="emptied">Folders of scopes that lost their last article: their current feed stays, empty, where a build from scratch has no folder.</param>
    private static async Task AssertSameAsFullBuildAsync(TestApp app, string step, params string[] emptied)
    {
        var builder = app.Get<FeedBuilder>();
        var report = await builder.BuildAsync(full: false, null, Ct);
        Assert.Empty(report.Failures);
        var fresh = Path.Combine(app.Dir.Path, "fresh-" + Guid.NewGuid().ToString("N"));
        await builder.BuildAsync(full: false, null, Ct, exportTo: fresh);

        var live = Files(builder.Output.Root);
        var expected = Files(fresh);
        var onlyLive = live.Keys.Except(expected.Keys).ToList();
        Assert.True(expected.Keys.All(live.ContainsKey) && onlyLive.All(path => emptied.Any(folder => path.StartsWith(folder + "/", StringComparison.Ordinal)) && !path.Contains("/archive/")),
            $"{step}: files differ: only live {string.Join(", ", onlyLive)}; only fresh {string.Join(", ", expected.Keys.Except(live.Keys))}");
        foreach (var (path, bytes) in expected)
            Assert.True(bytes.AsSpan().SequenceEqual(live[path]), $"{step}: {path} differs from a build from scratch:\n{System.Text.Encoding.UTF8.GetString(live[path])}\n---- expected ----\n{System.Text.Encoding.UTF8.GetString(bytes)}");
        Directory.Delete(fresh, recursive: true);
    }

    private static SortedDictionary<string, byte[]> Files(string root) =>
        new(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f).Replace('\\', '/'), File.ReadAllBytes), StringComparer.Ordinal);

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Every_incremental_build_writes_what_a_build_from_scratch_writes_whatever_changed(StorageProvider provider)
    {
        await using var app = await AppAsync(provider);
        for (var i = 0; i < 10; i++)
            await ImportAsync(app, $"a{i:00}", i % 3 == 0 ? "Jane Doe" : "حسن محمودی", Start.AddDays(i), i % 2 == 0 ? "economy" : "C++", "北京");
        await AssertSameAsFullBuildAsync(app, "first build");

        // The newest article: the current feeds move on and page 3 of the site fills up.
        await ImportAsync(app, "a10", "Jane Doe", Start.AddDays(10), "economy");
        await ImportAsync(app, "a11", "Jane Doe", Start.AddDays(11), "economy");
        await AssertSameAsFullBuildAsync(app, "two new articles");

        // Two articles at the same instant as an archive page's first article: the (published_at, id) order decides.
        await ImportAsync(app, "same-1", "Jane Doe", Start.AddDays(3), "economy");
        await ImportAsync(app, "same-2", "حسن محمودی", Start.AddDays(3), "C++");
        await AssertSameAsFullBuildAsync(app, "articles at the instant of a page start");

        // An article in the past: every page from it on shifts.
        await ImportAsync(app, "old", "Jane Doe", Start.AddDays(-5), "economy", "new tag");
        await AssertSameAsFullBuildAsync(app, "an article older than every page");

        // An edit that moves an article back in time, changes its author and drops a tag.
        await ImportAsync(app, "a08", "Jane Doe", Start.AddDays(1).AddHours(1), "economy");
        await AssertSameAsFullBuildAsync(app, "an edit moving an article back, to another author, without a tag");

        // Withdrawing articles shrinks scopes below their recorded pages; the last one of a tag empties it.
        var intake = app.Get<ArticleIntake>();
        foreach (var slug in new[] { "a11", "a10", "a09", "old" })
            await intake.UnpublishAsync((await app.Get<ArticleStore>().FindBySlugAsync(slug, Ct))!, new IntakeActor("test", "test"), Ct);
        await AssertSameAsFullBuildAsync(app, "four articles unpublished", "tags/new-tag");

        await ImportAsync(app, "a12", "New Author", Start.AddDays(12), "C++");
        await AssertSameAsFullBuildAsync(app, "a new author", "tags/new-tag");
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_withdrawal_deep_in_a_long_history_and_an_article_moved_between_authors_and_tags_build_as_from_scratch(StorageProvider provider)
    {
        await using var app = await AppAsync(provider);
        // 40 articles, three a page: the site has 13 archive pages; authors and tags in Persian, Chinese, Japanese and emoji.
        for (var i = 0; i < 40; i++)
            await ImportAsync(app, $"d{i:00}", i % 2 == 0 ? "مریم" : "李雷", Start.AddHours(i), i % 3 == 0 ? "ایران" : "東京", "🚀 launch");
        await AssertSameAsFullBuildAsync(app, "first build");

        // Withdrawn from the site's second archive page: every later page of the site, its author and its tags shifts by one.
        var intake = app.Get<ArticleIntake>();
        await intake.UnpublishAsync((await app.Get<ArticleStore>().FindBySlugAsync("d04", Ct))!, new IntakeActor("test", "test"), Ct);
        await AssertSameAsFullBuildAsync(app, "an article withdrawn deep in the history");

        // Moved to the other author and the other tag at the same time, and then back in time.
        await ImportAsync(app, "d30", "李雷", Start.AddHours(30), "東京");
        await AssertSameAsFullBuildAsync(app, "an article moved to another author and tag");
        await ImportAsync(app, "d31", "مریم", Start.AddHours(5).AddMinutes(30), "ایران", "🚀 launch");
        await AssertSameAsFullBuildAsync(app, "an article moved back in time, to another author and tag");

        await ImportAsync(app, "d40", "مریم", Start.AddHours(40), "ایران");
        await AssertSameAsFullBuildAsync(app, "a new article after them");
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task The_entries_of_articles_before_the_change_come_out_of_the_files_the_last_build_wrote(StorageProvider provider)
    {
        await using var app = await AppAsync(provider);
        for (var i = 0; i < 5; i++) await ImportAsync(app, $"a{i:00}", "Jane Doe", Start.AddDays(i), "economy");
        var builder = app.Get<FeedBuilder>();
        await builder.BuildAsync(full: false, null, Ct);

        // Marked in the written file only: a build that rendered a04 again would lose the mark.
        var site = Path.Combine(builder.Output.Root, "site");
        foreach (var file in new[] { "rss.xml", "atom.xml", "feed.json" })
        {
            var text = await File.ReadAllTextAsync(Path.Combine(site, file), Ct);
            Assert.Contains("a04 ✍️", text);
            await File.WriteAllTextAsync(Path.Combine(site, file), text.Replace("a04 ✍️", "a04 ✍️ (from the file)"), Ct);
        }

        await ImportAsync(app, "a05", "Jane Doe", Start.AddDays(5), "economy");
        var report = await builder.BuildAsync(full: false, null, Ct);
        // Site, author and tag alike: a05 completes archive page 2, so page 1 is rewritten too (it gains its next-archive
        // link): the entries of all five earlier articles come out of the files (page 1's and the current feed's).
        Assert.Equal(3 * 5, report.Reused);
        foreach (var file in new[] { "rss.xml", "atom.xml", "feed.json" })
        {
            var text = await File.ReadAllTextAsync(Path.Combine(site, file), Ct);
            Assert.Contains("a05 ✍️", text);
            Assert.Contains("a04 ✍️ (from the file)", text);
        }

        // An edit of a04 marks the feeds from a04's time on: its entry is rendered again.
        await ImportAsync(app, "a04", "Jane Doe", Start.AddDays(4).AddMinutes(1), "economy");
        await AssertSameAsFullBuildAsync(app, "a04 edited");
        Assert.DoesNotContain("(from the file)", await File.ReadAllTextAsync(Path.Combine(site, "rss.xml"), Ct));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_recorded_page_start_that_no_longer_holds_makes_the_build_read_the_whole_scope(StorageProvider provider)
    {
        await using var app = await AppAsync(provider);
        for (var i = 0; i < 10; i++) await ImportAsync(app, $"a{i:00}", "Jane Doe", Start.AddDays(i), "economy");
        await AssertSameAsFullBuildAsync(app, "first build");

        // As if a change had reached the store without its mark: the recorded start of every page names no article.
        await using (var connection = await app.Get<Database>().OpenAsync(Ct))
            Assert.True(await connection.ExecuteAsync("UPDATE feed_archive_pages SET article_id = 'gone'") > 0);
        await ImportAsync(app, "a10", "Jane Doe", Start.AddDays(10), "economy");
        await AssertSameAsFullBuildAsync(app, "after the page starts were lost");
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_change_that_arrives_while_a_scope_builds_keeps_its_mark_even_at_the_same_since(StorageProvider provider)
    {
        await using var app = await AppAsync(provider);
        var feeds = app.Get<FeedStore>();
        var database = app.Get<Database>();
        await using var connection = await database.OpenAsync(Ct);
        // As an import marks its scopes (FeedInvalidation): one statement for all of them.
        Task MarkAsync(DateTimeOffset since) => FeedStore.MarkAsync(connection, null, database.Dialect, new Dictionary<string, DateTimeOffset> { ["tag:economy"] = since, ["site"] = since }, Ct);
        await MarkAsync(Start);
        var read = (await feeds.DirtyAsync(Ct)).Single(d => d.Mark.Scope == "tag:economy").Mark;

        // A second import marks the same scope with a later article: since stays where it was, the version moves.
        await MarkAsync(Start.AddDays(1));
        await feeds.RecordCleanAsync([], [read], Ct);

        var kept = (await feeds.DirtyAsync(Ct)).Single(d => d.Mark.Scope == "tag:economy").Mark;
        Assert.Equal(Start, kept.Since);
        await feeds.RecordCleanAsync([], [kept], Ct);
        Assert.DoesNotContain(await feeds.DirtyAsync(Ct), d => d.Mark.Scope == "tag:economy");
    }
}
