using Quartz;

namespace Syndicator.Announcements;

/// <summary>Posts the announcements that are due on every configured account.</summary>
[DisallowConcurrentExecution]
public sealed class AnnouncementJob(Announcer announcer) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var reports = await announcer.SendDueAsync(null, cancellationToken);
        var sent = reports.Sum(r => r.Report.Sent);
        var attempted = reports.Sum(r => r.Report.Attempted);
        context.Result = attempted == 0
            ? JobRunReport.Skipped("nothing to announce")
            : JobRunReport.Succeeded(string.Join("; ", reports.Where(r => r.Report.Attempted > 0).Select(r => $"{r.Account}: {r.Report}")))
                .With("sent", sent).With("failed", reports.Sum(r => r.Report.Failed));
    }
}
