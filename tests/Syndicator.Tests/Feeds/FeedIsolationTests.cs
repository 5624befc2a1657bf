using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Feeds;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Support;
using static Syndicator.Tests.Support.ExternalFeedValidators;

namespace Syndicator.Tests.Feeds;

/// <summary>One article that cannot be rendered never stops its feeds: it is left out, named, and counted until fixed.</summary>
public sealed class FeedIsolationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static async Task<(TestApp App, LogCapture Logs, FakeTimeProvider Time)> AppAsync(StorageProvider provider)
    {
        var logs = new LogCapture();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));
        var app = await TestApp.CreateAsync(provider, new() { ["Feeds:ItemsPerFeed"] = "4" }, s =>
        {
            s.AddSingleton<ILoggerProvider>(logs);
            s.AddSingleton<TimeProvider>(time);
        });
        return (app, logs, time);
    }

    /// <summary>Nine articles by two authors, with Persian, Arabic and emoji titles, over two archive pages of the site feed.</summary>
    private static async Task ImportCorpusAsync(TestApp app)
    {
        string[] titles = ["آینده‌ی ایران", "مستقبل العراق", "Emoji diplomacy 🇮🇷", "Plain title"];
        var start = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var files = Enumerable.Range(0, 9).Select(i => app.Dir.File($"corpus/piece-{i}.md",
            $"---\ntitle: \"{titles[i % titles.Length]} {i}\"\nslug: piece-{i}\nauthor: {(i % 2 == 0 ? "Jane Doe" : "Ali Rezaei")}\ndate: {start.AddDays(i):O}\ntags: [Region]\n---\nBody {i}.\n")).ToList();
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync(files, null, Ct);
        Assert.Equal(9, summary.Created);
    }

    /// <summary>What an import cannot produce but a row edited by hand, or a future bug, can: a canonical URL that is not a URL.</summary>
    private static async Task BreakUrlAsync(TestApp app, string slug, string url)
    {
        await using var connection = await app.Get<Database>().OpenAsync(Ct);
        Assert.Equal(1, await connection.ExecuteAsync(new CommandDefinition("UPDATE articles SET canonical_url = @url WHERE slug = @slug", new { url, slug }, cancellationToken: Ct)));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task An_article_whose_url_makes_rendering_throw_is_left_out_with_a_warning_and_the_rest_of_every_scope_is_written(StorageProvider provider)
    {
        var (app, logs, _) = await AppAsync(provider);
        await using var _app = app;
        await ImportCorpusAsync(app);
        await BreakUrlAsync(app, "piece-2", "not a url\r\n<script>");

        var report = await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);

        // piece-2 (Jane Doe, Region, archive page 1 of the site) is missing from its three scopes and nothing else is.
        Assert.Equal(["author:" + await AuthorIdAsync(app, "Jane Doe"), "site", "tag:Region"], report.Failures.Select(f => f.Scope).Order());
        Assert.All(report.Failures, f => Assert.Equal((ScopeFailureKind.ItemsLeftOut, "piece-2"), (f.Kind, Assert.Single(f.LeftOut).Slug)));
        var root = app.Get<FeedBuilder>().Output.Root;
        foreach (var folder in new[] { "site", "site/archive/1", "site/archive/2", "authors/jane-doe", "authors/ali-rezaei", "tags/region" })
        {
            var rss = await AssertFeedparserAcceptsAsync(Path.Combine(root, folder, FeedPaths.Rss), "rss20", Ct);
            Assert.True(rss.Entries > 0, $"{folder}/rss.xml has no entries");
            await AssertFeedparserAcceptsAsync(Path.Combine(root, folder, FeedPaths.Atom), "atom10", Ct);
            await AssertValidAtomAsync(Path.Combine(root, folder, FeedPaths.Atom), Ct);
            AssertValidJsonFeed(Path.Combine(root, folder, FeedPaths.Json));
        }
        var all = string.Concat(Directory.EnumerateFiles(root, "*.*", SearchOption.AllDirectories).Select(File.ReadAllText));
        Assert.DoesNotContain("Body 2.", all);
        Assert.DoesNotContain("not a url", all);
        foreach (var i in new[] { 0, 1, 3, 4, 5, 6, 7, 8 }) Assert.Contains($"piece-{i}", all);
        // The site's first archive page keeps its place in the paging with the three articles it has left.
        Assert.Equal(3, (await ParseWithFeedparserAsync(Path.Combine(root, "site/archive/1", FeedPaths.Rss), Ct)).Entries);

        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.StartsWith("Feed site: article", StringComparison.Ordinal));
        Assert.Contains("piece-2", warning.Message);
        Assert.Contains("piece-2.md", warning.Message);
        Assert.Contains(nameof(UnreadableArticleException), warning.Message);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Failed_builds_of_a_scope_are_counted_across_runs_and_a_clean_build_ends_the_count(StorageProvider provider)
    {
        var (app, _, time) = await AppAsync(provider);
        await using var _app = app;
        await ImportCorpusAsync(app);
        await BreakUrlAsync(app, "piece-5", "::");
        var builder = app.Get<FeedBuilder>();
        var feeds = app.Get<FeedStore>();

        await builder.BuildAsync(full: false, null, Ct);
        time.Advance(TimeSpan.FromMinutes(5));
        // The scope kept its mark, so the next build tries it again (and writes nothing new: its bytes are the same).
        var second = await builder.BuildAsync(full: false, null, Ct);
        Assert.Equal(3, second.Scopes);
        Assert.DoesNotContain(second.Written, p => p.StartsWith("site/", StringComparison.Ordinal));

        var failing = await feeds.FailingScopesAsync(2, Ct);
        var site = Assert.Single(failing, f => f.Scope == "site");
        Assert.Equal(3, failing.Count);
        Assert.Equal((2, ScopeFailureKind.ItemsLeftOut), (site.ConsecutiveFailures, site.Kind));
        Assert.Equal(time.GetUtcNow(), site.LastFailedAt);
        Assert.Equal(time.GetUtcNow() - TimeSpan.FromMinutes(5), site.FirstFailedAt);
        var item = Assert.Single(site.LeftOut);
        Assert.Equal("piece-5", item.Slug);
        Assert.EndsWith("piece-5.md", item.SourceName);
        Assert.Empty(await feeds.FailingScopesAsync(3, Ct));

        // The article is fixed by a new import of its file: the scopes build cleanly and leave the record.
        var path = Directory.EnumerateFiles(app.Dir.Path, "piece-5.md", SearchOption.AllDirectories).Single();
        File.AppendAllText(path, "Corrected.\n");
        await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);
        var fixedBuild = await builder.BuildAsync(full: false, null, Ct);
        Assert.Empty(fixedBuild.Failures);
        Assert.Empty(await feeds.FailingScopesAsync(1, Ct));
        Assert.Contains("Corrected.", File.ReadAllText(Path.Combine(builder.Output.Root, "site", "archive", "2", FeedPaths.Json)));
        Assert.Equal(0, (await builder.BuildAsync(full: false, null, Ct)).Scopes);
    }

    [Fact]
    public void The_feed_job_reports_partly_failed_when_a_scope_left_articles_out_and_failed_when_no_feed_could_be_written()
    {
        var leftOut = new ScopeBuildFailure("site", ScopeFailureKind.ItemsLeftOut, "1 article(s) left out", [new("id", "piece-2", "corpus/piece-2.md", "UriFormatException: bad")]);
        var notWritten = new ScopeBuildFailure("tag:x", ScopeFailureKind.NotWritten, "XmlException: bad title", []);
        FeedBuildReport Report(int scopes, params ScopeBuildFailure[] failures) => new(scopes, ["site/rss.xml"], 2, 0, 0, TimeSpan.Zero, failures);

        var partly = FeedBuildJob.Outcome(Report(3, leftOut));
        Assert.Equal(JobRunOutcomes.PartlyFailed, partly.Result);
        Assert.Contains("piece-2 (corpus/piece-2.md): UriFormatException: bad", partly.Summary);
        Assert.Equal(JobRunOutcomes.PartlyFailed, FeedBuildJob.Outcome(Report(1, leftOut)).Result);
        Assert.Equal(Quartz.JobRunResult.Failed, FeedBuildJob.Outcome(Report(1, notWritten)).Result);
        Assert.Equal(Quartz.JobRunResult.Succeeded, FeedBuildJob.Outcome(Report(3)).Result);
        Assert.Equal(Quartz.JobRunResult.Skipped, FeedBuildJob.Outcome(Report(0)).Result);
    }

    [Theory]
    [InlineData(0, 0, 0, "skipped")]
    [InlineData(3, 0, 0, "succeeded")]
    [InlineData(3, 1, 0, "partly-failed")]
    [InlineData(3, 0, 1, "partly-failed")]
    [InlineData(0, 2, 0, "partly-failed")]
    [InlineData(0, 0, 2, "failed")]
    [InlineData(0, 1, 1, "failed")]
    public void A_delivery_run_is_succeeded_only_when_everything_attempted_was_sent(int sent, int retrying, int failed, string outcome)
    {
        var report = Quartz.JobRunReport.FromDeliveries("mastodon: counts", sent, retrying, failed);
        Assert.Equal(outcome, JobRunOutcomes.ToColumn(report.Result));
        Assert.Equal("mastodon: counts", report.Summary);
        Assert.Equal([sent, retrying, failed], new[] { "sent", "retrying", "failed" }.Select(k => Convert.ToInt32(report.Metrics![k])));
    }

    private static async Task<string> AuthorIdAsync(TestApp app, string name)
    {
        await using var connection = await app.Get<Database>().OpenAsync(Ct);
        return await connection.ExecuteScalarAsync<string>(new CommandDefinition("SELECT id FROM authors WHERE name = @name", new { name }, cancellationToken: Ct)) ?? "";
    }
}
