using Quartz;

namespace Syndicator.Scheduling;

/// <summary>Deletes job history, and sent deliveries if configured, older than the <c>History</c> section allows.</summary>
[DisallowConcurrentExecution]
public sealed class RetentionJob(HistoryRetention retention) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var report = await retention.RunAsync(cancellationToken);
        context.Result = report.JobRuns + report.Misfires + report.SentDeliveries == 0
            ? JobRunReport.Skipped("nothing old enough to delete")
            : JobRunReport.Succeeded(report.ToString()).With("jobRuns", report.JobRuns).With("misfires", report.Misfires).With("sentDeliveries", report.SentDeliveries);
    }
}
