using Quartz;
using Syndicator.Scheduling;

namespace Syndicator.Feeds.WebSub;

/// <summary>Notifies the configured WebSub hubs of feeds that changed, retrying failed pings.</summary>
[DisallowConcurrentExecution]
public sealed class WebSubPingJob(WebSubPings pings) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var report = await pings.SendDueAsync(cancellationToken);
        context.Result = JobRunReport.FromDrain("hub pings", report, "nothing to ping");
    }
}
