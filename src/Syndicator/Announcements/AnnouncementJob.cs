using Quartz;

namespace Syndicator.Announcements;

/// <summary>Posts the announcements that are due on every configured account.</summary>
[DisallowConcurrentExecution]
public sealed class AnnouncementJob(Announcer announcer) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var reports = await announcer.SendDueAsync(null, cancellationToken);
        var tried = reports.Where(r => r.Report.Attempted + r.Report.Deferred > 0).ToList();
        if (tried.Count == 0)
        {
            context.Result = JobRunReport.Skipped("nothing to announce");
            return;
        }
        var summary = string.Join("; ", tried.Select(r => $"{r.Account}: {r.Report}"));
        context.Result = (tried.Any(r => r.Report.LeftWorkFailed) ? JobRunReport.Failed(summary) : JobRunReport.Succeeded(summary))
            .With("sent", reports.Sum(r => r.Report.Sent)).With("failed", reports.Sum(r => r.Report.Failed));
    }
}
