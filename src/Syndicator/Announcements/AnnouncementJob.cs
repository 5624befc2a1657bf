using Quartz;
using Syndicator.Deliveries;
using Syndicator.Scheduling;

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
        var total = tried.Aggregate(DrainReport.None, (sum, r) => sum.Add(r.Report));
        context.Result = JobRunReport.FromDeliveries(string.Join("; ", tried.Select(r => $"{r.Account}: {r.Report}")), total.Sent, total.Retrying, total.Failed + total.Unconfirmed);
    }
}
