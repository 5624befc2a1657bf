using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Hosting;
using Syndicator.Storage;

namespace Syndicator.Digests;

/// <summary>
/// Sends due e-mail deliveries (digests and sign-up confirmations) over a configurable number of SMTP connections,
/// many messages per connection, at most MessagesPerSecond and (optionally) MaxPerHour. Each outcome is recorded
/// on its row the moment the server answers, so a crash or restart resumes with the unsent ones only.
/// An SMTP relay cannot tell a resent message from a new one, so the moment a message is handed to it is written
/// down first: a node that dies after that point leaves the message "unconfirmed" for a person to check, never
/// resent on its own. On a stop, messages being sent finish and the rest of the batch is handed back.
/// </summary>
public sealed class DigestSender(
    Database database,
    DeliveryStore deliveries,
    DeliveryWorker worker,
    SubscriberStore subscribers,
    ArticleStore articles,
    DigestComposer composer,
    PickupFolder pickup,
    ShutdownGrace shutdown,
    IOptions<DigestOptions> options,
    IOptions<DeliveryOptions> deliveryOptions,
    IHostEnvironment environment,
    TimeProvider time,
    ILogger<DigestSender> logger)
{
    /// <summary>One sending run per node at a time, so the node's relay limits (connections, messages a second) hold.</summary>
    private readonly SemaphoreSlim running = new(1, 1);

    /// <summary>
    /// Sends batch after batch while there is due e-mail and the last batch sent something (a relay that refuses
    /// everything ends the run). Null when another run on this node is already sending: it will send this too.
    /// </summary>
    public async Task<DrainReport?> SendAllDueAsync(CancellationToken cancellationToken)
    {
        if (!await running.WaitAsync(TimeSpan.Zero, cancellationToken)) return null;
        try
        {
            // The relay connections outlive each batch, so a large list is sent over a handful of connections.
            await using var relay = new RelayConnections(options.Value.Smtp, environment.ContentRootPath);
            var total = new DrainReport(0, 0, 0);
            while (!cancellationToken.IsCancellationRequested && !shutdown.Stopping.IsCancellationRequested)
            {
                var batch = await SendBatchAsync(relay, null, cancellationToken);
                total = new DrainReport(total.Sent + batch.Sent, total.Retrying + batch.Retrying, total.Failed + batch.Failed);
                if (batch.Sent == 0) break;
            }
            return total;
        }
        finally
        {
            running.Release();
        }
    }

    /// <summary>Claims one batch of due e-mail and sends it.</summary>
    public async Task<DrainReport> SendDueAsync(IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        await using var relay = new RelayConnections(options.Value.Smtp, environment.ContentRootPath);
        return await SendBatchAsync(relay, progress, cancellationToken);
    }

    private async Task<DrainReport> SendBatchAsync(RelayConnections relay, IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var limit = deliveryOptions.Value.BatchSize;
        if (o.Smtp.MaxPerHour > 0)
        {
            limit = Math.Min(limit, o.Smtp.MaxPerHour - await SentInLastHourAsync(cancellationToken));
            if (limit <= 0)
            {
                logger.LogInformation("E-mail: Digests:Smtp:MaxPerHour ({Cap}) reached; the rest waits for the next run", o.Smtp.MaxPerHour);
                return new DrainReport(0, 0, 0);
            }
        }
        var lease = TimeSpan.FromSeconds(deliveryOptions.Value.LeaseSeconds);
        var claimed = await deliveries.ClaimDueAsync(DigestPlanner.Channel, DeliveryWorker.Node, lease, limit, cancellationToken);
        if (claimed.Count == 0) return new DrainReport(0, 0, 0);

        var counts = new int[3];
        var done = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, shutdown.Stopping);
        // The caller's token stops new sends only: a send under way is cut off by nothing but the shutdown deadline
        // (and its client's own timeout), so that its outcome is known and written.
        var abandon = shutdown.Deadline;
        var started = new bool[claimed.Count];
        // A digest run mails the same few articles to everyone: each is read once per batch, not once per message.
        var articleCache = new ConcurrentDictionary<string, Task<Article?>>(StringComparer.Ordinal);
        var usesRelay = relay.Count > 0;
        var connections = usesRelay ? Math.Min(relay.Count, claimed.Count) : 1;
        try
        {
            await Task.WhenAll(Enumerable.Range(0, connections).Select(async lane =>
            {
                var connection = usesRelay ? relay[lane] : null;
                for (var i = lane; i < claimed.Count; i += connections)
                {
                    if (!await TakeTurnAsync(relay.Limiter, stop.Token)) return;
                    started[i] = true;
                    var delivery = claimed[i];
                    MailResult result;
                    Subscriber? subscriber = null;
                    var handedOver = false;
                    try
                    {
                        if (usesRelay && delivery.HandedOverAt is { } earlier) result = Unconfirmed(delivery, earlier);
                        else
                        {
                            (var message, var problem, subscriber) = await BuildAsync(delivery, articleCache, abandon);
                            if (message is null) result = new MailResult(problem!, false);
                            else if (connection is null) result = await pickup.WriteAsync(delivery.Id, message, abandon);
                            else
                            {
                                handedOver = await deliveries.MarkHandedOverAsync(delivery.Id, DeliveryWorker.Node, message.MessageId, lease, abandon);
                                if (!handedOver)
                                {
                                    // This node stalled past its lease and another node has claimed the delivery since.
                                    logger.LogWarning("Delivery {DeliveryId} on {Channel}: the claim ran out before sending and another node holds it; not sent from here", delivery.Id, DigestPlanner.Channel);
                                    continue;
                                }
                                result = await connection.SendAsync(message, abandon);
                            }
                        }
                    }
                    catch (OperationCanceledException) when (abandon.IsCancellationRequested)
                    {
                        // Cut off by the shutdown deadline. Not yet at the relay: handed back with the unstarted ones.
                        // At the relay: left in flight, and the next claim marks it unconfirmed.
                        started[i] = handedOver;
                        return;
                    }
                    var state = await worker.RecordAsync(DigestPlanner.Channel, delivery, result.Outcome);
                    if (result.HardBounce && subscriber is not null && await subscribers.RecordHardBounceAsync(subscriber.Id, o.MaxHardBounces, CancellationToken.None))
                        logger.LogWarning("Subscriber {SubscriberId} suspended after {Count} hard bounces", subscriber.Id, o.MaxHardBounces);
                    Interlocked.Increment(ref counts[state switch { DeliveryState.Sent => 0, DeliveryState.RetryWait => 1, _ => 2 }]);
                    progress?.Report((Interlocked.Increment(ref done), claimed.Count));
                }
            }));
        }
        finally
        {
            await worker.HandBackAsync(DigestPlanner.Channel, claimed.Where((_, i) => !started[i]).Select(d => d.Id).ToList());
        }
        return new DrainReport(counts[0], counts[1], counts[2]);
    }

    /// <summary>Waits for the rate limit; false when the service is stopping, so the lane starts nothing more.</summary>
    private static async Task<bool> TakeTurnAsync(RateLimiter limiter, CancellationToken stop)
    {
        if (stop.IsCancellationRequested) return false;
        try
        {
            using var lease = await limiter.AcquireAsync(1, stop);
            return true;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>An earlier attempt handed this message to the relay and its node stopped before the answer was written.</summary>
    private static MailResult Unconfirmed(Delivery delivery, DateTimeOffset handedOver) => new(new DeliveryOutcome.Permanent(
        $"smtp: unconfirmed: attempt {delivery.Attempts - 1} handed Message-ID <{delivery.RemoteId}> to the relay at {handedOver:u} and its node stopped " +
        "before the relay's answer was recorded, so it may have been delivered. Not resent automatically, to avoid a duplicate: " +
        $"look for that Message-ID in the relay's log, and if it is not there run `syndicator deliveries retry {delivery.Id}`."), false);

    private async Task<(MimeMessage? Message, DeliveryOutcome? Problem, Subscriber? Subscriber)> BuildAsync(
        Delivery delivery, ConcurrentDictionary<string, Task<Article?>> articleCache, CancellationToken cancellationToken)
    {
        var subscriber = await subscribers.FindAsync(delivery.Recipient, cancellationToken);
        if (subscriber is null) return (null, new DeliveryOutcome.Permanent($"email: subscriber {delivery.Recipient} no longer exists"), null);
        var key = $"syndicator-{delivery.Id}";
        if (delivery.SubjectKind == "confirmation")
        {
            // A confirmed reader signed up again (by themselves or a stranger) is told they already get the digest:
            // the form queues the same e-mail for every address, so its answer reveals nothing.
            return subscriber.State is SubscriberState.Pending or SubscriberState.Confirmed
                ? (composer.Confirmation(subscriber, key), null, subscriber)
                : (null, new DeliveryOutcome.Permanent($"email: {subscriber.Email} is {subscriber.State.ToString().ToLowerInvariant()}; no confirmation needed"), subscriber);
        }
        if (subscriber.State != SubscriberState.Confirmed)
            return (null, new DeliveryOutcome.Permanent($"email: {subscriber.Email} is {subscriber.State.ToString().ToLowerInvariant()}; the digest was not sent"), subscriber);

        await using var connection = await database.OpenAsync(cancellationToken);
        var ids = (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT article_id FROM digest_items WHERE digest_id = @id ORDER BY position", new { id = delivery.SubjectId }, cancellationToken: cancellationToken))).ToList();
        var items = new List<Article>();
        foreach (var id in ids)
            if (await articleCache.GetOrAdd(id, key => articles.FindByIdAsync(key, cancellationToken)) is { } article) items.Add(article);
        if (items.Count == 0) return (null, new DeliveryOutcome.Permanent($"email: the articles of digest {delivery.SubjectId} are no longer in the store"), subscriber);
        return (composer.Digest(subscriber, items, key), null, subscriber);
    }

    private async Task<int> SentInLastHourAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT COUNT(*) FROM deliveries WHERE channel = @channel AND state = 'sent' AND sent_at > @since",
            new { channel = DigestPlanner.Channel, since = time.GetUtcNow().AddHours(-1) }, cancellationToken: cancellationToken));
    }
}

/// <summary>
/// What a sending run shares across its batches: Digests:Smtp:Connections connections to the relay, one per lane,
/// connected on first use (none when mail goes to the pickup folder), and the Digests:Smtp:MessagesPerSecond rate,
/// so a new batch does not start with a fresh burst.
/// </summary>
internal sealed class RelayConnections(SmtpOptions options, string contentRoot) : IAsyncDisposable
{
    private readonly MailConnection[] connections = string.IsNullOrWhiteSpace(options.Host)
        ? []
        : Enumerable.Range(0, options.Connections).Select(_ => new MailConnection(options, contentRoot)).ToArray();

    public int Count => connections.Length;

    public MailConnection this[int lane] => connections[lane];

    public RateLimiter Limiter { get; } = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
    {
        TokenLimit = Math.Max(1, (int)Math.Ceiling(options.MessagesPerSecond)),
        TokensPerPeriod = Math.Max(1, (int)Math.Ceiling(options.MessagesPerSecond)),
        ReplenishmentPeriod = TimeSpan.FromSeconds(Math.Max(1, (int)Math.Ceiling(options.MessagesPerSecond)) / options.MessagesPerSecond),
        QueueLimit = int.MaxValue,
        AutoReplenishment = true,
    });

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in connections) await connection.DisposeAsync();
        await Limiter.DisposeAsync();
    }
}
