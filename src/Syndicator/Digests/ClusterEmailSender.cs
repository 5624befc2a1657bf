using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Digests;

/// <summary>
/// In a cluster, every node sends due e-mail, not only the node a schedule fired on: a digest to many thousands is
/// shared by claiming rows, and when a node dies the others carry on. A single node leaves this to its EmailSend job.
/// </summary>
public sealed class ClusterEmailSender(
    IOptions<StorageOptions> storage,
    IOptions<DeliveryOptions> options,
    DeliveryWorker worker,
    EmailChannel email,
    TimeProvider time,
    ILogger<ClusterEmailSender> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!storage.Value.Clustered) return;
        var idle = TimeSpan.FromSeconds(options.Value.PollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var report = await worker.DrainAsync(email, DrainFilter.All, untilEmpty: true, stoppingToken);
                if (report is { Attempted: > 0 }) logger.LogInformation("E-mail: {Report}", report);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The database or the relay is away; what was claimed keeps its lease, so nothing is lost by waiting.
                logger.LogError(e, "E-mail: sending due messages failed, trying again in {Seconds} s: {Reason}", idle.TotalSeconds, e.Message);
            }
            try
            {
                await Task.Delay(idle, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
