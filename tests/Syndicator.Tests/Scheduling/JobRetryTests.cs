using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Quartz.Extensibility;
using Syndicator.Hosting;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Scheduling;

/// <summary>Whole-job retries with Quartz's retry policies, configured per job in the <c>Jobs</c> section.</summary>
public sealed class JobRetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => HistoryTestSupport.Providers;

    private static readonly JobKey Import = new(JobCatalog.DropFolderImport, JobCatalog.Group);

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_job_that_throws_is_retried_under_its_policy_and_every_attempt_is_in_the_history(StorageProvider provider)
    {
        // An inbox that becomes a file once the service has started (the start-up check refuses one before): the
        // drop-folder job throws on every run until the file makes way for a folder.
        using var dir = new TempDir();
        var inbox = Path.Combine(dir.Path, "inbox");
        Directory.CreateDirectory(inbox);
        await using var app = await HistoryTestSupport.StartAsync(provider, new()
        {
            ["Import:InboxPath"] = inbox,
            // Fires once at start, then not for an hour: a retry is never scheduled on or after the next regular firing.
            ["Jobs:DropFolderImport:IntervalSeconds"] = "3600",
            ["Jobs:DropFolderImport:Misfire"] = "Skip",
            ["Jobs:DropFolderImport:RetryAttempts"] = "2",
            ["Jobs:DropFolderImport:RetryDelaySeconds"] = "1",
        }, services => services.AddHostedService(_ => new InboxBecomesAFile(inbox)));
        var database = app.Get<Database>();

        var runs = await HistoryTestSupport.WaitForRunsAsync(database, JobCatalog.DropFolderImport, r => r.Count >= 3, seconds: 30);

        Assert.Equal([0, 1, 2], runs.Select(r => r.RetryAttempt));
        Assert.All(runs, r => Assert.Equal("failed", r.Outcome));
        Assert.Equal([true, true, false], runs.Select(r => r.RetryScheduled));
        Assert.All(runs, r => Assert.False(string.IsNullOrWhiteSpace(r.Error)));
        // Exponential from 1 s: the first retry about 1 s after the first run, the second about 2 s after that.
        Assert.InRange((runs[1].StartedAt - runs[0].StartedAt).TotalSeconds, 0.9, 10);
        Assert.InRange((runs[2].StartedAt - runs[1].StartedAt).TotalSeconds, 1.9, 10);
        var scheduler = await app.Get<ISchedulerFactory>().GetScheduler(Ct);
        var history = app.Get<IExecutionHistoryStore>();
        var failing = await history.GetJobRunStatus(scheduler.SchedulerName, Import, Ct);
        Assert.NotNull(failing);
        // Three runs, one occurrence: a retried failure is not yet a failure of the job.
        Assert.Equal((3L, 1L, 1), (failing.RunCount, failing.FailureCount, failing.ConsecutiveFailures));
        Assert.Null(failing.LastSucceededAtUtc);
        Assert.Equal(runs[2].Error, failing.LastFailureMessage);

        // Fixed, and run by hand: the status recovers.
        File.Delete(inbox);
        await scheduler.TriggerJob(Import, Ct);
        var fixedRuns = await HistoryTestSupport.WaitForRunsAsync(database, JobCatalog.DropFolderImport, r => r.Count >= 4);
        Assert.Equal(("skipped", "inbox empty", true), (fixedRuns[3].Outcome, fixedRuns[3].Summary, fixedRuns[3].Manual));
        var recovered = await history.GetJobRunStatus(scheduler.SchedulerName, Import, Ct);
        Assert.Equal((4L, 1L, 0), (recovered!.RunCount, recovered.FailureCount, recovered.ConsecutiveFailures));
        Assert.Equal(fixedRuns[3].StartedAt, recovered.LastSucceededAtUtc);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Triggers_carry_the_per_job_policy_and_other_jobs_fall_back_to_the_scheduler_default()
    {
        await using var app = await TestApp.CreateAsync(StorageProvider.Sqlite, new()
        {
            ["Jobs:FeedBuild:IntervalSeconds"] = "300",
            ["Jobs:FeedBuild:RetryAttempts"] = "5",
            ["Jobs:FeedBuild:RetryDelaySeconds"] = "10",
            ["Jobs:EmailSend:IntervalSeconds"] = "60",
            ["Jobs:EmailSend:RetryAttempts"] = "0",
        });
        var scheduler = await app.Get<ISchedulerFactory>().GetScheduler(Ct);

        async Task<RetryPolicy?> PolicyOf(string job) => (await scheduler.GetTrigger(new TriggerKey(job, JobCatalog.Group), Ct))!.RetryPolicy;

        var feed = await PolicyOf(JobCatalog.FeedBuild);
        Assert.Equal((5, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20)), (feed!.MaxAttempts, feed.DelayFor(1), feed.DelayFor(2)));
        Assert.Equal(0, (await PolicyOf(JobCatalog.EmailSend))!.MaxAttempts);
        Assert.Null(await PolicyOf(JobCatalog.Announcements)); // left to the scheduler-wide default
        Assert.Equal(3, JobRetries.Default.MaxAttempts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Retry_settings_out_of_range_are_configuration_problems_naming_their_keys()
    {
        await using var app = await TestApp.CreateAsync(StorageProvider.Sqlite, new()
        {
            ["Jobs:FeedBuild:IntervalSeconds"] = "300",
            ["Jobs:FeedBuild:RetryAttempts"] = "-1",
            ["Jobs:FeedBuild:RetryDelaySeconds"] = "0",
        });

        var problems = ConfigProblems.Find(app.App.Services);

        Assert.Contains(problems, p => p.StartsWith("Jobs:FeedBuild:RetryAttempts is -1", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Jobs:FeedBuild:RetryDelaySeconds is 0", StringComparison.Ordinal));
    }

    /// <summary>Runs after the start-up checks and before the scheduler fires anything: the inbox folder becomes a file.</summary>
    private sealed class InboxBecomesAFile(string inbox) : Microsoft.Extensions.Hosting.IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            Directory.Delete(inbox);
            File.WriteAllText(inbox, "not a folder");
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
