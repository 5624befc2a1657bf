using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;

namespace Syndicator.Feeds.WebSub;

/// <summary>
/// One delivery per (changed feed version, hub): the subject is the feed's URL plus a hash of its new bytes, so a
/// rebuild that changes nothing pings nobody and each real change is pinged exactly once per hub.
/// </summary>
public sealed class WebSubPings(DeliveryStore deliveries, DeliveryWorker worker, WebSubClient client, IOptions<FeedOptions> options, TimeProvider time)
{
    public const string Channel = "websub";

    public async Task QueueAsync(string topicUrl, byte[] content, CancellationToken cancellationToken)
    {
        if (options.Value.Hubs.Count == 0) return;
        var version = Convert.ToHexStringLower(SHA256.HashData(content))[..16];
        foreach (var hub in options.Value.Hubs)
            await deliveries.EnsureAsync(Channel, "feed", $"{topicUrl}#{version}", hub, time.GetUtcNow(), cancellationToken);
    }

    public Task<DrainReport> SendDueAsync(CancellationToken cancellationToken) =>
        worker.DrainAsync(Channel, (delivery, ct) => client.PublishAsync(delivery.Recipient, delivery.SubjectId[..delivery.SubjectId.LastIndexOf('#')], ct), cancellationToken);
}
