using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;

namespace Syndicator.Feeds.WebSub;

/// <summary>
/// WebSub pings as a delivery channel: one delivery per (changed feed version, hub). The subject is the feed's URL
/// and a hash of its new bytes, so a rebuild that changes nothing pings nobody and each real change is pinged
/// exactly once per hub. A repeated ping only makes the hub fetch the feed again, so it needs no guard of its own.
/// </summary>
public sealed class WebSubPings(DeliveryStore deliveries, DeliveryWorker worker, WebSubClient client, IOptions<FeedOptions> options, TimeProvider time) : IDeliveryChannel
{
    public const string Channel = "websub";

    public string Name => Channel;

    public ChannelPolicy Policy { get; } = new(RecipientKind.Hub, DuplicateGuard.IdempotencyKey, OneLanePerRecipient: true);

    public async Task QueueAsync(string topicUrl, FeedFileBytes content, CancellationToken cancellationToken)
    {
        if (options.Value.Hubs.Count == 0) return;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in content.Parts) hash.AppendData(part.Span);
        var version = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        foreach (var hub in options.Value.Hubs)
            await deliveries.EnsureAsync(Channel, DeliverySubject.Feed(topicUrl, version), DeliveryRecipient.Hub(hub), time.GetUtcNow(), cancellationToken);
    }

    public async Task<DrainReport> SendDueAsync(CancellationToken cancellationToken) =>
        await worker.DrainAsync(this, DrainFilter.All, untilEmpty: false, cancellationToken) ?? DrainReport.None;

    public Task<DeliveryOutcome> SendAsync(Delivery delivery, DeliveryAttempt attempt, CancellationToken cancellationToken) =>
        client.PublishAsync(delivery.Recipient.Id, delivery.Subject.Id, cancellationToken);
}
