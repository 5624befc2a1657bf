using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Hosting;

namespace Syndicator.Deliveries;

public sealed record DrainReport(int Sent, int Retrying, int Failed)
{
    public int Attempted => Sent + Retrying + Failed;
    public override string ToString() => $"{Sent} sent, {Retrying} to retry, {Failed} failed";
}

/// <summary>
/// Drains one channel's due deliveries: claims them (counting the attempt before anything is sent), hands each to
/// the channel's sender, and records the outcome on the row. Transient failures wait with exponential backoff and
/// jitter, or until the service's own reset time; permanent ones fail at once; retries stop at MaxAttempts.
/// When the service stops, a send in progress may finish until the shutdown deadline, and claims not yet started
/// are handed back at once rather than left to their lease.
/// </summary>
public sealed class DeliveryWorker(DeliveryStore store, ShutdownGrace shutdown, IOptions<DeliveryOptions> options, TimeProvider time, ILogger<DeliveryWorker> logger)
{
    /// <summary>Identifies this process's claims; a cluster node's claims are its own.</summary>
    public static readonly string Node = $"{Environment.MachineName}:{Environment.ProcessId}";

    public async Task<DrainReport> DrainAsync(string channel, Func<Delivery, CancellationToken, Task<DeliveryOutcome>> send, CancellationToken cancellationToken,
        string? recipient = null, int? limit = null, string? subjectId = null)
    {
        var o = options.Value;
        var claimed = await store.ClaimDueAsync(channel, Node, TimeSpan.FromSeconds(o.LeaseSeconds), limit ?? o.BatchSize, cancellationToken, recipient, subjectId);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, shutdown.Stopping);
        // The caller's token stops new sends only: a send under way is cut off by nothing but the shutdown deadline
        // (and its client's own timeout), so that its outcome is known and written.
        var abandon = shutdown.Deadline;
        int sent = 0, retrying = 0, failed = 0;
        for (var i = 0; i < claimed.Count; i++)
        {
            if (stop.IsCancellationRequested)
            {
                await HandBackAsync(channel, claimed.Skip(i).Select(d => d.Id).ToList());
                break;
            }
            var delivery = claimed[i];
            DeliveryOutcome outcome;
            try
            {
                outcome = await send(delivery, abandon);
            }
            catch (OperationCanceledException) when (abandon.IsCancellationRequested)
            {
                // Cut off mid-send: the service may or may not have it, so the row keeps its lease and is claimed
                // again when that runs out, where the channel's idempotency key prevents a second post.
                await HandBackAsync(channel, claimed.Skip(i + 1).Select(d => d.Id).ToList());
                break;
            }
            catch (Exception e)
            {
                outcome = new DeliveryOutcome.Transient($"{channel}: {e.GetType().Name}: {e.Message}");
            }

            switch (await RecordAsync(channel, delivery, outcome))
            {
                case DeliveryState.Sent: sent++; break;
                case DeliveryState.RetryWait: retrying++; break;
                default: failed++; break;
            }
        }
        return new DrainReport(sent, retrying, failed);
    }

    /// <summary>Gives back claims this node is stopping before it starts; written whatever the stop, so they need no lease to run out.</summary>
    public async Task HandBackAsync(string channel, IReadOnlyCollection<long> ids)
    {
        var released = await store.ReleaseAsync(ids, Node, CancellationToken.None);
        if (released > 0) logger.LogInformation("Stopping: {Count} claimed {Channel} deliveries handed back unsent", released, channel);
    }

    /// <summary>Writes an attempt's outcome on its row at once (never batched), so a crash right after loses nothing that happened.</summary>
    public async Task<DeliveryState> RecordAsync(string channel, Delivery delivery, DeliveryOutcome outcome)
    {
        var o = options.Value;
        switch (outcome)
        {
            case DeliveryOutcome.Sent s:
                await store.MarkSentAsync(delivery.Id, Node, s.RemoteId, s.RemoteUrl, CancellationToken.None);
                return DeliveryState.Sent;
            case DeliveryOutcome.Transient t when delivery.Attempts < o.MaxAttempts:
                var next = NextAttempt(delivery.Attempts, t.NotBefore);
                await store.MarkRetryAsync(delivery.Id, Node, t.Error, next, CancellationToken.None);
                logger.LogWarning("Delivery {DeliveryId} on {Channel} failed (attempt {Attempt}), retrying at {NextAttempt}: {Error}", delivery.Id, channel, delivery.Attempts, next, t.Error);
                return DeliveryState.RetryWait;
            case DeliveryOutcome.Transient t:
                await store.MarkFailedAsync(delivery.Id, Node, $"{t.Error} (gave up after {delivery.Attempts} attempts)", CancellationToken.None);
                logger.LogError("Delivery {DeliveryId} on {Channel} failed after {Attempt} attempts: {Error}", delivery.Id, channel, delivery.Attempts, t.Error);
                return DeliveryState.Failed;
            case DeliveryOutcome.Permanent p:
                await store.MarkFailedAsync(delivery.Id, Node, p.Error, CancellationToken.None);
                logger.LogError("Delivery {DeliveryId} on {Channel} failed permanently: {Error}", delivery.Id, channel, p.Error);
                return DeliveryState.Failed;
            default:
                throw new ArgumentOutOfRangeException(nameof(outcome));
        }
    }

    /// <summary>base × 2^(attempt−1), capped, with ±20 % jitter so that many failures do not retry in step; never before the service's reset time.</summary>
    public DateTimeOffset NextAttempt(int attempts, DateTimeOffset? notBefore)
    {
        var o = options.Value;
        var seconds = Math.Min(o.RetryMaxSeconds, o.RetryBaseSeconds * Math.Pow(2, Math.Max(0, attempts - 1)));
        seconds *= 0.8 + Random.Shared.NextDouble() * 0.4;
        var next = time.GetUtcNow().AddSeconds(seconds);
        return notBefore is { } reset && reset > next ? reset : next;
    }
}
