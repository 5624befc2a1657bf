using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Digests.Feedback;

public enum FeedbackResult
{
    /// <summary>Stored, and the subscriber changed as the event asks.</summary>
    Recorded,
    /// <summary>This source was recorded before: nothing changed.</summary>
    AlreadyRecorded,
    /// <summary>The event names no delivery or subscriber of this store: nothing stored, the message is not ours.</summary>
    NotOurs,
}

public sealed record FeedbackOutcome(FeedbackResult Result, string Detail, long? DeliveryId = null, string? SubscriberId = null);

/// <summary>
/// Applies feedback, once per source (<c>mail_feedback.source</c> is unique, and the insert is the first write of the
/// transaction): a hard bounce marks the subscriber bounced, a complaint marks them complained (no more mail at once),
/// a mailed unsubscribe unsubscribes, each putting the address on the suppression list; a soft bounce is counted once
/// per delivery, and Digests:Feedback:SoftBounceLimit of them mark the subscriber bounced. The delivery keeps its
/// state: it was sent, and the relay took it; what happened next is the mail_feedback row that names it.
/// </summary>
public sealed class FeedbackRecorder(
    Database database,
    DeliveryStore deliveries,
    SubscriberStore subscribers,
    SuppressionList suppressions,
    SubscriberTokens tokens,
    IOptions<DigestOptions> options,
    TimeProvider time,
    ILogger<FeedbackRecorder> logger)
{
    /// <param name="source">Where the event came from, unique per event: <c>message-id:…</c>, <c>imap:…</c>, <c>mailgun:…</c>, <c>ses:…</c>, <c>postmark:…</c>.</param>
    /// <param name="channel">How it reached us, for the suppression list's source column: <c>mailbox</c>, <c>webhook:mailgun</c>, …</param>
    public async Task<FeedbackOutcome> RecordAsync(FeedbackEvent feedback, string source, string channel, CancellationToken cancellationToken)
    {
        Delivery? delivery = null;
        var subscriberId = feedback.SubscriberId;
        if (feedback.DeliveryKey is { } key)
        {
            // Messages show the key masked (SubscriberTokens.MessageKey); those sent before it was masked show it as it is.
            delivery = await deliveries.FindByKeyAsync(EmailChannel.ChannelName, tokens.DeliveryKey(key), cancellationToken)
                       ?? await deliveries.FindByKeyAsync(EmailChannel.ChannelName, key, cancellationToken);
            if (delivery is null) return new FeedbackOutcome(FeedbackResult.NotOurs, $"no e-mail delivery in this store has the key {key}");
            subscriberId = delivery.Recipient.Id;
        }
        if (subscriberId is null) return new FeedbackOutcome(FeedbackResult.NotOurs, "it names neither a delivery nor a subscriber");

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var earlierSoftBounce = feedback.Kind == FeedbackKind.SoftBounce && delivery is not null && await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM mail_feedback WHERE delivery_id = @id AND kind = 'soft-bounce'", new { id = delivery.Id }, transaction, cancellationToken: cancellationToken)) > 0;
        var inserted = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO mail_feedback (source, kind, delivery_id, subscriber_id, email, status, detail, received_at)
            VALUES (@source, @kind, @deliveryId, @subscriberId, @email, @status, @detail, @now)
            ON CONFLICT (source) DO NOTHING
            """, new
            {
                source = SuppressionList.Clip(source), kind = feedback.Kind.Column(), deliveryId = delivery?.Id, subscriberId, email = SuppressionList.Clip(feedback.Recipient),
                status = SuppressionList.Clip(feedback.Status), detail = SuppressionList.Clip(feedback.Detail), now = time.GetUtcNow().ToStoredPrecision(),
            }, transaction, cancellationToken: cancellationToken));
        if (inserted == 0) return new FeedbackOutcome(FeedbackResult.AlreadyRecorded, $"{source} was recorded before", delivery?.Id, subscriberId);

        var subscriber = await subscribers.GetAsync(connection, transaction, "id = @value", subscriberId, cancellationToken);
        var what = $"{feedback.Kind.Column()} {feedback.Status}".Trim();
        if (subscriber is not null)
        {
            var active = subscriber.State is SubscriberState.Pending or SubscriberState.Confirmed or SubscriberState.Suspended;
            switch (feedback.Kind)
            {
                case FeedbackKind.HardBounce when active:
                    await subscribers.MarkAsync(connection, transaction, subscriber, SubscriberState.Bounced, SuppressionReason.Bounced, channel, feedback.Detail, cancellationToken);
                    break;
                case FeedbackKind.Complaint when subscriber.State != SubscriberState.Complained:
                    await subscribers.MarkAsync(connection, transaction, subscriber, SubscriberState.Complained, SuppressionReason.Complained, channel, feedback.Detail, cancellationToken);
                    break;
                case FeedbackKind.Unsubscribe when active:
                    await subscribers.MarkAsync(connection, transaction, subscriber, SubscriberState.Unsubscribed, SuppressionReason.Unsubscribed, channel, null, cancellationToken);
                    break;
                case FeedbackKind.SoftBounce when !earlierSoftBounce:
                    var count = await subscribers.CountSoftBounceAsync(connection, transaction, subscriber.Id, cancellationToken);
                    var limit = options.Value.Feedback.SoftBounceLimit;
                    what += $" ({count} of {limit})";
                    if (count >= limit && active)
                        await subscribers.MarkAsync(connection, transaction, subscriber, SubscriberState.Bounced, SuppressionReason.Bounced, channel,
                            $"{count} soft bounces (Digests:Feedback:SoftBounceLimit {limit}); last: {feedback.Detail}", cancellationToken);
                    break;
                case FeedbackKind.SoftBounce:
                    what += " (this delivery's soft bounce was counted before)";
                    break;
                default:
                    // Already bounced, complained or unsubscribed: the event is kept, and the address stays suppressed.
                    await suppressions.AddAsync(connection, transaction, subscriber.Email,
                            feedback.Kind == FeedbackKind.Complaint ? SuppressionReason.Complained : feedback.Kind == FeedbackKind.Unsubscribe ? SuppressionReason.Unsubscribed : SuppressionReason.Bounced,
                            channel, feedback.Detail, cancellationToken);
                    break;
            }
        }
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Mail feedback {Kind} for subscriber {Subscriber} (delivery {Delivery}) from {Source}", what, subscriberId, delivery?.Id, source);
        return new FeedbackOutcome(FeedbackResult.Recorded, what, delivery?.Id, subscriberId);
    }

    /// <summary>The feedback stored for one delivery, oldest first.</summary>
    public async Task<IReadOnlyList<StoredFeedback>> ForDeliveryAsync(long deliveryId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<StoredFeedback>(new CommandDefinition(
            $"SELECT {StoredFeedback.Columns} FROM mail_feedback WHERE delivery_id = @deliveryId ORDER BY id", new { deliveryId }, cancellationToken: cancellationToken))).ToList();
    }

    /// <summary>The newest feedback first.</summary>
    public async Task<IReadOnlyList<StoredFeedback>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<StoredFeedback>(new CommandDefinition(
            $"SELECT {StoredFeedback.Columns} FROM mail_feedback ORDER BY id DESC LIMIT @limit", new { limit }, cancellationToken: cancellationToken))).ToList();
    }
}

/// <summary>One row of <c>mail_feedback</c>.</summary>
public sealed class StoredFeedback
{
    internal const string Columns = "id AS Id, source AS Source, kind AS Kind, delivery_id AS DeliveryId, subscriber_id AS SubscriberId, email AS Email, status AS Status, detail AS Detail, received_at AS ReceivedAt";

    public long Id { get; init; }
    public string Source { get; init; } = "";
    public string Kind { get; init; } = "";
    public long? DeliveryId { get; init; }
    public string? SubscriberId { get; init; }
    public string? Email { get; init; }
    public string? Status { get; init; }
    public string? Detail { get; init; }
    public DateTimeOffset ReceivedAt { get; init; }
}
