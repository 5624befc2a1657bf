using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Digests;

/// <summary>
/// E-mail (digests and sign-up confirmations) as a delivery channel: composes each message from its subscriber
/// and digest, and sends it over Digests:Smtp:Connections relay connections (one per lane, kept open across the
/// batches of a sending run), or writes it to the pickup folder when no relay is configured. An SMTP relay cannot
/// tell a resent message from a new one, so the hand-over is marked first and a lost answer leaves the message
/// unconfirmed (see <see cref="DuplicateGuard.HandOverMark"/>); a pickup file is named by its delivery, so a
/// repeat replaces it.
/// </summary>
public sealed class EmailChannel(
    Database database,
    SubscriberStore subscribers,
    SuppressionList suppressions,
    ArticleStore articles,
    DigestComposer composer,
    PickupFolder pickup,
    IOptions<DigestOptions> options,
    IHostEnvironment environment,
    ILogger<EmailChannel> logger) : IDeliveryChannel
{
    public const string ChannelName = "email";

    private readonly MailConnection?[] lanes = new MailConnection?[Math.Max(1, options.Value.Smtp.Connections)];

    /// <summary>A digest run mails the same few articles to everyone: each is read once per run, not once per message.</summary>
    private readonly ConcurrentDictionary<string, Task<Article?>> articleCache = new(StringComparer.Ordinal);

    /// <summary>What the digests of one set of articles share (<see cref="DigestComposer.Content"/>), by the set's ids in order: made once per run.</summary>
    private readonly ConcurrentDictionary<string, Task<DigestContent?>> contentCache = new(StringComparer.Ordinal);

    /// <summary>
    /// Each claimed delivery of the running batches: the rows it needs, read for its whole batch by
    /// <see cref="BeginBatchAsync"/>, the deliveries after it in the batch's order, and its message once composing has
    /// started; taken out as each is sent.
    /// </summary>
    private readonly ConcurrentDictionary<long, Prepared> prepared = new();

    /// <summary>A delivery's subscriber (null: gone), whether the address is suppressed, and its digest's article ids (null for a confirmation).</summary>
    private sealed record Recipient(Subscriber? Subscriber, Suppression? Suppressed, IReadOnlyList<string>? ArticleIds);

    /// <summary>A message as composed: the message, or why there is none; and its subscriber.</summary>
    private sealed record Composed(MimeMessage? Message, DeliveryOutcome? Problem, Subscriber? Subscriber);

    private sealed class Prepared(Delivery delivery, Recipient recipient, IReadOnlyList<long> following)
    {
        public Delivery Delivery { get; } = delivery;
        public Recipient Recipient { get; } = recipient;
        public IReadOnlyList<long> Following { get; } = following;
        public Task<Composed>? Composing;
    }

    private bool UsesRelay => !string.IsNullOrWhiteSpace(options.Value.Smtp.Host);

    public string Name => ChannelName;

    public ChannelPolicy Policy => UsesRelay
        ? new ChannelPolicy(RecipientKind.Subscriber, DuplicateGuard.HandOverMark, Lanes: lanes.Length,
            PerSecond: options.Value.Smtp.MessagesPerSecond, MaxPerHour: options.Value.Smtp.MaxPerHour > 0 ? options.Value.Smtp.MaxPerHour : null)
        : new ChannelPolicy(RecipientKind.Subscriber, DuplicateGuard.IdempotencyKey, PerSecond: options.Value.Smtp.MessagesPerSecond);

    /// <summary>
    /// Reads the subscribers, their suppressions and the digests' article ids of the whole batch in three queries,
    /// instead of three per message. The suppression list is thus read when the batch starts (a batch is sent in
    /// seconds), still after planning: an address listed between planning and sending gets nothing.
    /// </summary>
    public async Task BeginBatchAsync(IReadOnlyList<Delivery> batch, CancellationToken cancellationToken)
    {
        var recipients = await ReadAsync(batch, cancellationToken);
        // Lanes take the batch in its order; each send starts composing the next few, so one lane's next message is
        // made on the other core while its relay answers (composing is a third of a message's time, and pure: a
        // message made and never sent changes nothing).
        var ahead = lanes.Length + 1;
        for (var i = 0; i < batch.Count; i++)
            prepared[batch[i].Id] = new Prepared(batch[i], recipients[batch[i].Id], batch.Skip(i + 1).Take(ahead).Select(d => d.Id).ToList());
    }

    private async Task<IReadOnlyDictionary<long, Recipient>> ReadAsync(IReadOnlyList<Delivery> batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var found = await subscribers.FindManyAsync(connection, batch.Select(d => d.Recipient.Id).ToList(), cancellationToken);
        var suppressed = await suppressions.FindManyAsync(connection, found.Values.Select(s => s.Email).ToList(), cancellationToken);
        var items = await DigestPlanner.ArticleIdsAsync(connection, database.Dialect,
            batch.Where(d => d.Subject.Kind == SubjectKind.Digest).Select(d => d.Subject.Id).ToList(), cancellationToken);
        return batch.ToDictionary(d => d.Id, d =>
        {
            var subscriber = found.GetValueOrDefault(d.Recipient.Id);
            return new Recipient(subscriber, subscriber is null ? null : suppressed.GetValueOrDefault(SubscriberAddress.Normalize(subscriber.Email)),
                d.Subject.Kind == SubjectKind.Digest ? items[d.Subject.Id] : null);
        });
    }

    public async Task<DeliveryOutcome> SendAsync(Delivery delivery, DeliveryAttempt attempt, CancellationToken cancellationToken)
    {
        Composed composed;
        if (prepared.TryRemove(delivery.Id, out var ready))
        {
            foreach (var next in ready.Following)
                if (prepared.TryGetValue(next, out var following)) _ = Start(following);
            composed = await Start(ready, inline: true);
        }
        // Read with its batch; a delivery sent on its own (or left out of the batch's reads) reads its rows here.
        else composed = await ComposeAsync(delivery, (await ReadAsync([delivery], cancellationToken))[delivery.Id]);
        var (message, problem, subscriber) = composed;
        if (message is null) return problem!;
        // MimeKit's message, parts and contents have finalizers: disposed once written, a message dies young, instead of
        // its whole body waiting for the finalizer thread in an older generation.
        using var written = message;
        if (!UsesRelay) return await pickup.WriteAsync(delivery.Id, message, cancellationToken);
        var connection = lanes[attempt.Lane] ??= new MailConnection(options.Value.Smtp, environment.ContentRootPath);
        // The mark is written while the relay takes the envelope and the message; the end of the data waits for it.
        var handOver = attempt.HandOverAsync(message.MessageId);
        MailResult result;
        try
        {
            result = await connection.SendAsync(message, composer.ReturnPath(delivery.Key), handOver, cancellationToken);
        }
        catch (HandOverNotMarkedException e)
        {
            // The message stopped before its end: nothing was handed over. A failed mark fails the attempt as it would have before sending.
            if (e.InnerException is { } cause) ExceptionDispatchInfo.Throw(cause);
            return new DeliveryOutcome.Transient($"email: the claim on delivery {delivery.Id} ran out before sending and another node holds it; not sent from here");
        }
        finally
        {
            // The worker reads whether the attempt was handed over once this returns, also when the exchange failed before it needed the mark.
            await ((Task)handOver).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        var max = options.Value.MaxHardBounces;
        if (result.HardBounce && subscriber is not null && await subscribers.RecordHardBounceAsync(subscriber.Id, max, CancellationToken.None))
            logger.LogWarning("Subscriber {Address} suspended after {Count} hard bounces", subscriber.Email, max);
        return result.Outcome;
    }

    public async ValueTask EndRunAsync()
    {
        articleCache.Clear();
        contentCache.Clear();
        // Messages made ahead for deliveries this run did not send, each taken out first: a message is disposed only by
        // whoever took its delivery out (a send that finds its delivery gone composes it again).
        foreach (var id in prepared.Keys)
            if (prepared.TryRemove(id, out var left) && Volatile.Read(ref left.Composing) is { IsCompletedSuccessfully: true } composing)
                composing.Result.Message?.Dispose();
        for (var i = 0; i < lanes.Length; i++)
        {
            if (lanes[i] is { } connection) await connection.DisposeAsync();
            lanes[i] = null;
        }
    }

    /// <summary>The delivery's message, composing it if no send has started it yet: here, or with <paramref name="inline"/> false on the thread pool.</summary>
    private Task<Composed> Start(Prepared delivery, bool inline = false)
    {
        if (Volatile.Read(ref delivery.Composing) is { } started) return started;
        var composing = inline ? ComposeAsync(delivery.Delivery, delivery.Recipient) : Task.Run(() => ComposeAsync(delivery.Delivery, delivery.Recipient));
        return Interlocked.CompareExchange(ref delivery.Composing, composing, null) ?? composing;
    }

    private async Task<Composed> ComposeAsync(Delivery delivery, Recipient recipient)
    {
        var subscriber = recipient.Subscriber;
        if (subscriber is null) return new(null, new DeliveryOutcome.Permanent($"email: subscriber {delivery.Recipient.Id} no longer exists"), null);
        // Checked at every send, not only when planning: an address may be listed between planning and sending.
        if (recipient.Suppressed is { } suppressed)
            return new(null, new DeliveryOutcome.Permanent($"email: {suppressed}; not sent"), subscriber);
        // Made from the delivery's key: the same on every attempt, never the same for two messages.
        var key = composer.MessageKey(delivery.Key);
        if (delivery.Subject.Kind == SubjectKind.Confirmation)
        {
            // A confirmed reader signed up again (by themselves or a stranger) is told they already get the digest:
            // the form queues the same e-mail for every address, so its answer reveals nothing.
            return subscriber.State is SubscriberState.Pending or SubscriberState.Confirmed
                ? new Composed(composer.Confirmation(subscriber, key), null, subscriber)
                : new Composed(null, new DeliveryOutcome.Permanent($"email: {subscriber.Email} is {subscriber.State.ToString().ToLowerInvariant()}; no confirmation needed"), subscriber);
        }
        if (subscriber.State != SubscriberState.Confirmed)
            return new(null, new DeliveryOutcome.Permanent($"email: {subscriber.Email} is {subscriber.State.ToString().ToLowerInvariant()}; the digest was not sent"), subscriber);

        var ids = recipient.ArticleIds ?? [];
        var content = await contentCache.GetOrAdd(string.Join('\n', ids), _ => ContentAsync(ids));
        if (content is null) return new(null, new DeliveryOutcome.Permanent($"email: the articles of digest {delivery.Subject.Id} are no longer in the store"), subscriber);
        return new(composer.Digest(subscriber, content, key), null, subscriber);
    }

    private async Task<DigestContent?> ContentAsync(IReadOnlyList<string> ids)
    {
        var items = new List<Article>();
        foreach (var id in ids)
            if (await articleCache.GetOrAdd(id, key => articles.FindByIdAsync(key, CancellationToken.None)) is { } article) items.Add(article);
        return items.Count == 0 ? null : composer.Content(items);
    }
}
