using Quartz;
using Quartz.Extensibility;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Scheduling;

/// <summary>The job history in our own database, written by Quartz's recorder as the real jobs run.</summary>
public sealed class JobHistoryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => HistoryTestSupport.Providers;

    private static JobKey Key(string name) => new(name, JobCatalog.Group);

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Real_job_runs_are_written_to_job_runs_with_the_summaries_the_jobs_report(StorageProvider provider)
    {
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using var app = await HistoryTestSupport.StartAsync(provider, new()
        {
            ["Jobs:DropFolderImport:IntervalSeconds"] = "1",
            ["Jobs:DropFolderImport:Misfire"] = "Skip",
        });
        var database = app.Get<Database>();
        Directory.CreateDirectory(app.Inbox);
        File.Copy(Repo.SampleArticle, Path.Combine(app.Inbox, "article.txt"));

        // The scan that finds the file, and one that finds the inbox empty (before or after it: the job runs every second).
        var imports = await HistoryTestSupport.WaitForRunsAsync(database, JobCatalog.DropFolderImport,
            runs => runs.Any(r => r.Outcome == "succeeded") && runs.Any(r => r.Outcome == "skipped"));
        // The import fires FeedBuild off its schedule: a manual run (besides the scheduled one at start).
        var feeds = await HistoryTestSupport.WaitForRunsAsync(database, JobCatalog.FeedBuild, runs => runs.Any(r => r.Manual));
        var emails = await HistoryTestSupport.WaitForRunsAsync(database, JobCatalog.EmailSend, runs => runs.Count > 0);

        Assert.Equal("1 new, 0 updated, 0 unchanged, 0 rejected", imports.First(r => r.Outcome == "succeeded").Summary);
        Assert.Matches(@"^\d+ feed files rewritten, [\d,]+ unchanged$", feeds.First(r => r.Outcome == "succeeded").Summary);
        Assert.Contains(imports, r => r is { Outcome: "skipped", Summary: "inbox empty" });
        Assert.Equal(("skipped", "no e-mail due"), (emails[0].Outcome, emails[0].Summary));
        var scheduler = await app.Get<ISchedulerFactory>().GetScheduler(Ct);
        Assert.All(imports.Concat(feeds), r =>
        {
            Assert.Equal(scheduler.SchedulerInstanceId, r.Node);
            Assert.InRange(r.StartedAt, started, DateTimeOffset.UtcNow);
            Assert.Equal(0, r.RetryAttempt);
            Assert.Null(r.Error);
        });
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task The_quartz_history_interface_reads_the_runs_back_and_keeps_a_status_per_job(StorageProvider provider)
    {
        await using var app = await HistoryTestSupport.StartAsync(provider);
        var database = app.Get<Database>();
        await HistoryTestSupport.WaitForRunsAsync(database, JobCatalog.EmailSend, runs => runs.Count > 0);
        var scheduler = await app.Get<ISchedulerFactory>().GetScheduler(Ct);
        await scheduler.TriggerJob(Key(JobCatalog.EmailSend), Ct);
        var rows = await HistoryTestSupport.WaitForRunsAsync(database, JobCatalog.EmailSend, runs => runs.Count >= 2);

        var history = app.Get<IExecutionHistoryStore>();
        Assert.IsType<DatabaseExecutionHistoryStore>(history);
        var page = await history.QueryExecutions(new ExecutionHistoryQuery { SchedulerName = scheduler.SchedulerName, Job = Key(JobCatalog.EmailSend) }, Ct);
        Assert.Equal(rows.Count, page.Items.Count);
        Assert.Equal(rows.Max(r => r.StartedAt), page.Items[0].FiredAtUtc); // newest first
        Assert.All(page.Items, e => Assert.Equal((JobRunResult.Skipped, "no e-mail due", true), (e.EffectiveResult, e.Summary, e.Succeeded)));
        Assert.Single(page.Items, e => e.Manual);
        Assert.Equal(page.Items[0], await history.GetExecution(scheduler.SchedulerName, page.Items[0].EntryId!, Ct));

        var status = await history.GetJobRunStatus(scheduler.SchedulerName, Key(JobCatalog.EmailSend), Ct);
        Assert.NotNull(status);
        Assert.Equal(rows.Count, status.RunCount);
        Assert.Equal(page.Items[0].FiredAtUtc, status.LastFiredAtUtc);
        Assert.Equal(page.Items[0].FiredAtUtc, status.LastSucceededAtUtc);
        Assert.Equal((0, 0L, "no e-mail due"), (status.ConsecutiveFailures, status.FailureCount, status.LastSummary));
        // Announcements fires at start too; on a loaded machine it may not have finished yet.
        await HistoryTestSupport.WaitForRunsAsync(database, JobCatalog.Announcements, runs => runs.Count > 0);
        var all = await history.QueryJobRunStatuses(new JobRunStatusQuery { SchedulerName = scheduler.SchedulerName, Jobs = [Key(JobCatalog.EmailSend), Key(JobCatalog.Announcements)] }, Ct);
        Assert.Equal([JobCatalog.Announcements, JobCatalog.EmailSend], all.Items.Select(s => s.Job.Name));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_retention_job_is_scheduled_daily_and_reports_what_it_deleted()
    {
        await using var app = await HistoryTestSupport.StartAsync(StorageProvider.Sqlite);
        var scheduler = await app.Get<ISchedulerFactory>().GetScheduler(Ct);
        var trigger = Assert.IsAssignableFrom<ICronTrigger>(await scheduler.GetTrigger(new TriggerKey(JobCatalog.Retention, JobCatalog.Group), Ct));
        Assert.Equal("0 30 3 * * ?", trigger.CronExpressionString);

        await scheduler.TriggerJob(Key(JobCatalog.Retention), Ct);
        var run = Assert.Single(await HistoryTestSupport.WaitForRunsAsync(app.Get<Database>(), JobCatalog.Retention, runs => runs.Count > 0));

        Assert.Equal(("skipped", "nothing old enough to delete", true), (run.Outcome, run.Summary, run.Manual));
    }
}
