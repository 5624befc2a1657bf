using Quartz;
using Syndicator.Scheduling;

namespace Syndicator.Feeds;

/// <summary>Rebuilds the feeds that changed since the last run.</summary>
/// <remarks>
/// A scope that failed is reported, never hidden in a success: the run is Failed when no feed it rebuilt could be
/// written, PartlyFailed when some scope failed or left articles out, with the scopes and the articles named.
/// </remarks>
[DisallowConcurrentExecution]
public sealed class FeedBuildJob(FeedBuilder builder, JobTrigger jobs) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var report = await builder.BuildAsync(full: false, null, cancellationToken);
        if (report.Written.Count > 0) await jobs.FireNowAsync(JobCatalog.WebSubPing, cancellationToken);
        context.Result = Outcome(report);
    }

    internal static JobRunReport Outcome(FeedBuildReport report)
    {
        if (report.Scopes == 0) return JobRunReport.Skipped("no feed changed");
        var written = $"{report.Written.Count:N0} feed files rewritten, {report.Unchanged:N0} unchanged";
        var outcome = report.Failures.Count switch
        {
            0 => JobRunReport.Succeeded(written),
            var n when n == report.Scopes && report.Failures.All(f => f.Kind == ScopeFailureKind.NotWritten) =>
                JobRunReport.Failed($"no feed could be written: {string.Join("; ", report.Failures)}"),
            var n => JobRunReport.PartlyFailed($"{n} of {report.Scopes} feeds failed: {string.Join("; ", report.Failures)}; {written}"),
        };
        return outcome.With("written", report.Written.Count).With("unchanged", report.Unchanged).With("reused", report.Reused).With("rendered", report.Rendered)
            .With("scopesFailed", report.Failures.Count).With("itemsLeftOut", report.ItemsLeftOut);
    }
}
