using Quartz;
using Syndicator.Deliveries;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Scheduling;

/// <summary>What <c>syndicator status</c> reads, on both engines: jobs from the job store and the history, deliveries by channel and state.</summary>
public sealed class StatusReaderTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    public static TheoryData<StorageProvider> Providers => HistoryTestSupport.Providers;

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task The_snapshot_joins_the_schedule_the_job_store_and_the_history(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider, new()
        {
            ["Jobs:WeeklyDigest:Enabled"] = "false",
            ["Jobs:FeedBuild:IntervalSeconds"] = "120",
            ["Jobs:FeedBuild:RetryAttempts"] = "0",
        });
        var deliveries = app.Get<DeliveryStore>();
        await deliveries.EnsureAsync("x", "article", "a1", "@mag", DateTimeOffset.UtcNow, Ct);
        await deliveries.EnsureAsync("x", "article", "a2", "@mag", DateTimeOffset.UtcNow, Ct);
        var claimed = (await deliveries.ClaimDueAsync("x", "n", Lease, 1, Ct)).Single();
        await deliveries.MarkFailedAsync(claimed.Id, "n", "x: 403 Forbidden", Ct);
        var history = app.Get<DatabaseExecutionHistoryStore>();
        var firedAt = DateTimeOffset.UtcNow.AddMinutes(-1).ToStoredPrecision();
        await history.AddExecution(new ExecutionHistoryEntry("syndicator", "node-b", JobCatalog.Group, JobCatalog.FeedBuild, JobCatalog.Group, JobCatalog.FeedBuild,
            firedAt, TimeSpan.FromSeconds(2), true, null) { Result = JobRunResult.Succeeded, Summary = "3 feed files rewritten, 9 unchanged", EntryId = "s1" }, Ct);

        var status = await app.Get<StatusReader>().ReadAsync(10, Ct);

        Assert.Equal(JobCatalog.Names, status.Jobs.Select(j => j.Name));
        var feed = status.Jobs.Single(j => j.Name == JobCatalog.FeedBuild);
        Assert.Equal(("every 120 s", "no retries", "succeeded", "3 feed files rewritten, 9 unchanged"), (feed.Schedule, feed.RetryPolicy, feed.LastOutcome, feed.LastSummary));
        Assert.Equal((firedAt, 1L), (feed.LastRunAt, feed.Runs));
        Assert.NotNull(feed.NextFireAt);
        Assert.Equal("3 retries, first after 30 s", status.Jobs.Single(j => j.Name == JobCatalog.EmailSend).RetryPolicy);
        var weekly = status.Jobs.Single(j => j.Name == JobCatalog.WeeklyDigest);
        Assert.Equal(("disabled", false, (DateTimeOffset?)null), (weekly.Schedule, weekly.Enabled, weekly.NextFireAt));
        var daily = status.Jobs.Single(j => j.Name == JobCatalog.DailyDigest);
        Assert.Equal(("cron 0 0 7 * * ? (UTC)", "Normal"), (daily.Schedule, daily.TriggerState));
        Assert.Equal(7, daily.NextFireAt!.Value.UtcDateTime.Hour);

        var x = Assert.Single(status.Deliveries);
        Assert.Equal(("x", 2L), (x.Channel, x.Total));
        Assert.Equal(new Dictionary<string, long> { ["failed"] = 1, ["pending"] = 1 }, x.ByState);
        Assert.Equal("x: 403 Forbidden", Assert.Single(status.DeliveryFailures).Error);
        Assert.Empty(status.JobFailures);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Retrying_all_failed_deliveries_can_be_limited_to_one_channel(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        var deliveries = app.Get<DeliveryStore>();
        foreach (var channel in new[] { "x", "email" })
        {
            await deliveries.EnsureAsync(channel, "article", "a1", "r", DateTimeOffset.UtcNow, Ct);
            var claimed = (await deliveries.ClaimDueAsync(channel, "n", Lease, 1, Ct)).Single();
            await deliveries.MarkFailedAsync(claimed.Id, "n", $"{channel}: broken", Ct);
        }

        Assert.Equal(1, await deliveries.RetryAllFailedAsync("email", Ct));
        Assert.Equal("x", Assert.Single(await deliveries.ListAsync(DeliveryState.Failed, null, 10, Ct)).Channel);
        Assert.Equal(1, await deliveries.RetryAllFailedAsync(null, Ct));
        Assert.Empty(await deliveries.ListAsync(DeliveryState.Failed, null, 10, Ct));
        Assert.Equal(0, await deliveries.RetryAllFailedAsync(null, Ct));
    }
}
