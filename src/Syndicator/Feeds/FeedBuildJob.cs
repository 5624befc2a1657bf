using Quartz;

namespace Syndicator.Feeds;

/// <summary>Rebuilds the feeds that changed since the last run.</summary>
[DisallowConcurrentExecution]
public sealed class FeedBuildJob(FeedBuilder builder, Scheduling.JobTrigger jobs) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var report = await builder.BuildAsync(full: false, null, cancellationToken);
        if (report.Written.Count > 0) await jobs.FireNowAsync(Scheduling.JobCatalog.WebSubPing, cancellationToken);
        context.Result = report.Scopes == 0
            ? JobRunReport.Skipped("no feed changed")
            : JobRunReport.Succeeded($"{report.Written.Count:N0} feed files rewritten, {report.Unchanged:N0} unchanged").With("written", report.Written.Count).With("unchanged", report.Unchanged);
    }
}
