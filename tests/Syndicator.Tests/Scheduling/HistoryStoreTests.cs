using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Quartz;
using Syndicator.Deliveries;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Scheduling;

/// <summary>The history store's queries and status fold, and the retention that deletes old rows, on both engines.</summary>
public sealed class HistoryStoreTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private const string Scheduler = "syndicator";

    public static TheoryData<StorageProvider> Providers => HistoryTestSupport.Providers;

    private static async Task<(TestApp App, FakeTimeProvider Time)> CreateAsync(StorageProvider provider, Dictionary<string, string?>? settings = null)
    {
        // A fake clock only moves forward: it starts early enough for every "long ago" a test sets up, then moves on to Now.
        var time = new FakeTimeProvider(Now.AddDays(-1000));
        var app = await TestApp.CreateAsync(provider, settings, s => s.AddSingleton<TimeProvider>(time));
        return (app, time);
    }

    private static ExecutionHistoryEntry Run(string job, DateTimeOffset firedAt, JobRunResult result, string? error = null, bool retryScheduled = false, int attempt = 0) =>
        new(Scheduler, "node-a", JobCatalog.Group, job, JobCatalog.Group, job, firedAt, TimeSpan.FromMilliseconds(1234),
            result is JobRunResult.Succeeded or JobRunResult.Skipped, error)
        {
            EntryId = Guid.NewGuid().ToString("N"),
            Result = result,
            Summary = $"{result} at {firedAt:HH:mm}",
            RetryScheduled = retryScheduled,
            RetryAttempt = attempt,
        };

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Queries_filter_and_page_newest_first(StorageProvider provider)
    {
        var (app, _) = await CreateAsync(provider);
        await using var _ = app;
        var store = app.Get<DatabaseExecutionHistoryStore>();
        await store.AddExecution(Run("FeedBuild", Now.AddMinutes(-3), JobRunResult.Failed, "disk full", retryScheduled: true), Ct);
        await store.AddExecution(Run("FeedBuild", Now.AddMinutes(-2), JobRunResult.Failed, "disk full", attempt: 1), Ct);
        await store.AddExecution(Run("FeedBuild", Now.AddMinutes(-1), JobRunResult.Succeeded), Ct);
        await store.AddExecution(Run("EmailSend", Now, JobRunResult.Skipped), Ct);

        var page = await store.QueryExecutions(new ExecutionHistoryQuery { SchedulerName = Scheduler, Take = 2, IncludeTotalCount = true }, Ct);
        Assert.Equal(["EmailSend", "FeedBuild"], page.Items.Select(e => e.JobName));
        Assert.Equal((true, 4), (page.HasMore, page.TotalCount));
        Assert.Equal(TimeSpan.FromMilliseconds(1234), page.Items[0].Duration);

        var finalFailures = await store.QueryExecutions(new ExecutionHistoryQuery { SchedulerName = Scheduler, FailedFinally = true }, Ct);
        var final = Assert.Single(finalFailures.Items);
        Assert.Equal((1, "disk full"), (final.RetryAttempt, final.ExceptionMessage));

        var feeds = await store.QueryExecutions(new ExecutionHistoryQuery { SchedulerName = Scheduler, JobContains = "feed", FiredBefore = Now.AddMinutes(-1) }, Ct);
        Assert.Equal([Now.AddMinutes(-2), Now.AddMinutes(-3)], feeds.Items.Select(e => e.FiredAtUtc));
        var skipped = await store.QueryExecutions(new ExecutionHistoryQuery { SchedulerName = Scheduler, Results = [JobRunResult.Skipped] }, Ct);
        Assert.Equal("EmailSend", Assert.Single(skipped.Items).JobName);
        Assert.Empty((await store.QueryExecutions(new ExecutionHistoryQuery { SchedulerName = "another" }, Ct)).Items);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_run_that_completes_after_a_later_one_is_counted_but_moves_no_last_run_column(StorageProvider provider)
    {
        var (app, _) = await CreateAsync(provider);
        await using var _ = app;
        var store = app.Get<DatabaseExecutionHistoryStore>();
        var key = new JobKey("FeedBuild", JobCatalog.Group);

        await store.AddExecution(Run("FeedBuild", Now, JobRunResult.Succeeded), Ct);
        await store.AddExecution(Run("FeedBuild", Now.AddMinutes(-5), JobRunResult.Failed, "late and broken"), Ct);

        var status = await store.GetJobRunStatus(Scheduler, key, Ct);
        Assert.NotNull(status);
        Assert.Equal((JobRunResult.Succeeded, Now, 0), (status.LastResult, status.LastFiredAtUtc, status.ConsecutiveFailures));
        Assert.Equal((2L, 1L), (status.RunCount, status.FailureCount));
        Assert.Equal((Now.AddMinutes(-5), "late and broken"), (status.LastFailedAtUtc, status.LastFailureMessage));
        Assert.Equal(Now.AddMinutes(-5), status.FirstFiredAtUtc);
        Assert.Equal(Now, status.LastSucceededAtUtc);

        await store.AddExecution(Run("FeedBuild", Now.AddMinutes(1), JobRunResult.Failed, "first"), Ct);
        await store.AddExecution(Run("FeedBuild", Now.AddMinutes(2), JobRunResult.Failed, "second"), Ct);
        var failing = Assert.Single((await store.QueryJobRunStatuses(new JobRunStatusQuery { SchedulerName = Scheduler, Failing = true }, Ct)).Items);
        Assert.Equal((2, "second", JobRunResult.Failed), (failing.ConsecutiveFailures, failing.LastFailureMessage, failing.LastResult));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Misfires_are_kept_and_only_missed_firings_count(StorageProvider provider)
    {
        var (app, _) = await CreateAsync(provider);
        await using var _ = app;
        var store = app.Get<DatabaseExecutionHistoryStore>();
        var key = new JobKey("DailyDigest", JobCatalog.Group);
        await store.AddMisfire(new MisfireHistoryEntry(Scheduler, "node-a", JobCatalog.Group, "DailyDigest", key, Now, Now.AddMinutes(-10)), Ct);
        await store.AddMisfire(new MisfireHistoryEntry(Scheduler, "node-a", JobCatalog.Group, "DailyDigest", key, Now.AddMinutes(1), null) { Reason = MisfireReason.Overlap }, Ct);

        Assert.Equal(1, await store.CountMisfires(Scheduler, Now.AddHours(-1), Ct));
        Assert.Equal(0, await store.CountMisfires(Scheduler, Now.AddSeconds(1), Ct));
        var page = await store.QueryMisfires(new MisfireHistoryQuery { SchedulerName = Scheduler }, Ct);
        Assert.Equal([MisfireReason.Overlap, MisfireReason.Missed], page.Items.Select(m => m.Reason));
        Assert.Equal((key, (DateTimeOffset?)Now.AddMinutes(-10)), (page.Items[1].JobKey, page.Items[1].ScheduledFireTimeUtc));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Retention_deletes_only_runs_and_misfires_older_than_RetentionDays_and_keeps_deliveries_by_default(StorageProvider provider)
    {
        var (app, time) = await CreateAsync(provider);
        await using var _ = app;
        var store = app.Get<DatabaseExecutionHistoryStore>();
        var key = new JobKey("FeedBuild", JobCatalog.Group);
        await store.AddExecution(Run("FeedBuild", Now.AddDays(-31), JobRunResult.Succeeded), Ct);
        await store.AddExecution(Run("FeedBuild", Now.AddDays(-29), JobRunResult.Failed, "kept"), Ct);
        await store.AddMisfire(new MisfireHistoryEntry(Scheduler, "n", JobCatalog.Group, "FeedBuild", key, Now.AddDays(-31), null), Ct);
        await store.AddMisfire(new MisfireHistoryEntry(Scheduler, "n", JobCatalog.Group, "FeedBuild", key, Now.AddDays(-1), null), Ct);
        await SentDeliveryAsync(app, time, daysAgo: 400);
        time.SetUtcNow(Now);

        var report = await app.Get<HistoryRetention>().RunAsync(Ct);

        Assert.Equal(new RetentionReport(1, 1, 0, DeliveriesKept: true), report);
        var left = await HistoryTestSupport.RunsAsync(app.Get<Database>());
        Assert.Equal("kept", Assert.Single(left).Error);
        Assert.Equal(1, await store.CountMisfires(Scheduler, DateTimeOffset.MinValue, Ct));
        Assert.Single(await app.Get<DeliveryStore>().ListAsync(null, null, 10, Ct));
        // The per-job status outlives the rows it was folded from: a health check still knows the last success.
        var status = await store.GetJobRunStatus(Scheduler, key, Ct);
        Assert.Equal((2L, (DateTimeOffset?)Now.AddDays(-31)), (status!.RunCount, status.LastSucceededAtUtc));
        Assert.Equal(new RetentionReport(0, 0, 0, true), await app.Get<HistoryRetention>().RunAsync(Ct));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Sent_deliveries_are_deleted_only_when_configured_and_only_once_sent_long_enough_ago(StorageProvider provider)
    {
        var (app, time) = await CreateAsync(provider, new() { ["History:SentDeliveryRetentionDays"] = "90" });
        await using var _ = app;
        var deliveries = app.Get<DeliveryStore>();
        time.SetUtcNow(Now.AddDays(-200));
        await deliveries.EnsureAsync("x", "article", "old-failed", "acct", time.GetUtcNow(), Ct);
        var failed = (await deliveries.ClaimDueAsync("x", "n", TimeSpan.FromMinutes(5), 10, Ct)).Single();
        await deliveries.MarkFailedAsync(failed.Id, "n", "x: 401", Ct);
        await deliveries.EnsureAsync("x", "article", "old-pending", "acct", time.GetUtcNow().AddDays(365), Ct);
        var old = await SentDeliveryAsync(app, time, daysAgo: 91);
        var recent = await SentDeliveryAsync(app, time, daysAgo: 89);
        time.SetUtcNow(Now);

        var report = await app.Get<HistoryRetention>().RunAsync(Ct);

        Assert.Equal((1, false), (report.SentDeliveries, report.DeliveriesKept));
        var left = (await deliveries.ListAsync(null, null, 10, Ct)).Select(d => d.Id).Order().ToList();
        Assert.Equal(new[] { recent, failed.Id }.Concat((await deliveries.ListAsync(DeliveryState.Pending, null, 10, Ct)).Select(d => d.Id)).Order(), left);
        Assert.DoesNotContain(old, left);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task History_options_out_of_range_are_configuration_problems_naming_their_keys()
    {
        await using var app = await TestApp.CreateAsync(StorageProvider.Sqlite, new() { ["History:RetentionDays"] = "0", ["History:SentDeliveryRetentionDays"] = "1" });

        var problems = Syndicator.Hosting.ConfigProblems.Find(app.App.Services);

        Assert.Contains("History:RetentionDays must be between 1 and 36500.", problems);
        Assert.Contains(problems, p => p.StartsWith("History:SentDeliveryRetentionDays must be between 7", StringComparison.Ordinal));
    }

    /// <summary>A delivery sent <paramref name="daysAgo"/> days before <see cref="Now"/>, which leaves the clock then.</summary>
    private static async Task<long> SentDeliveryAsync(TestApp app, FakeTimeProvider time, int daysAgo)
    {
        var deliveries = app.Get<DeliveryStore>();
        time.SetUtcNow(Now.AddDays(-daysAgo));
        await deliveries.EnsureAsync("mastodon", "article", $"a{daysAgo}", "acct", time.GetUtcNow(), Ct);
        var claimed = (await deliveries.ClaimDueAsync("mastodon", "n", TimeSpan.FromMinutes(5), 10, Ct, subjectId: $"a{daysAgo}")).Single();
        Assert.True(await deliveries.MarkSentAsync(claimed.Id, "n", "r", null, Ct));
        return claimed.Id;
    }
}
