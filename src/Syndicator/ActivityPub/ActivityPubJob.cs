using Microsoft.Extensions.Options;
using Quartz;
using Syndicator.Deliveries;
using Syndicator.Scheduling;

namespace Syndicator.ActivityPub;

/// <summary>Delivers the due ActivityPub activities (Accepts, Creates, Updates) to follower inboxes.</summary>
[DisallowConcurrentExecution]
public sealed class ActivityPubJob(DeliveryWorker worker, ActivityPubChannel channel, IOptions<ActivityPubOptions> options) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        if (!options.Value.Enabled)
        {
            context.Result = JobRunReport.Skipped("ActivityPub:Enabled is false");
            return;
        }
        var report = await worker.DrainAsync(channel, DrainFilter.All, untilEmpty: true, cancellationToken);
        context.Result = JobRunReport.FromDrain("activitypub", report, "nothing to deliver");
    }
}
