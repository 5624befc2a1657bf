using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;
using Syndicator.Articles;
using Syndicator.Deliveries;

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
    DigestPlanner planner,
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

    private bool UsesRelay => !string.IsNullOrWhiteSpace(options.Value.Smtp.Host);

    public string Name => ChannelName;

    public ChannelPolicy Policy => UsesRelay
        ? new ChannelPolicy(RecipientKind.Subscriber, DuplicateGuard.HandOverMark, Lanes: lanes.Length,
            PerSecond: options.Value.Smtp.MessagesPerSecond, MaxPerHour: options.Value.Smtp.MaxPerHour > 0 ? options.Value.Smtp.MaxPerHour : null)
        : new ChannelPolicy(RecipientKind.Subscriber, DuplicateGuard.IdempotencyKey, PerSecond: options.Value.Smtp.MessagesPerSecond);

    public async Task<DeliveryOutcome> SendAsync(Delivery delivery, DeliveryAttempt attempt, CancellationToken cancellationToken)
    {
        var (message, problem, subscriber) = await ComposeAsync(delivery, cancellationToken);
        if (message is null) return problem!;
        if (!UsesRelay) return await pickup.WriteAsync(delivery.Id, message, cancellationToken);
        if (!await attempt.HandOverAsync(message.MessageId))
            return new DeliveryOutcome.Transient($"email: the claim on delivery {delivery.Id} ran out before sending and another node holds it; not sent from here");
        var connection = lanes[attempt.Lane] ??= new MailConnection(options.Value.Smtp, environment.ContentRootPath);
        var result = await connection.SendAsync(message, composer.ReturnPath(delivery.Key), cancellationToken);
        var max = options.Value.MaxHardBounces;
        if (result.HardBounce && subscriber is not null && await subscribers.RecordHardBounceAsync(subscriber.Id, max, CancellationToken.None))
            logger.LogWarning("Subscriber {Address} suspended after {Count} hard bounces", subscriber.Email, max);
        return result.Outcome;
    }

    public async ValueTask EndRunAsync()
    {
        articleCache.Clear();
        for (var i = 0; i < lanes.Length; i++)
        {
            if (lanes[i] is { } connection) await connection.DisposeAsync();
            lanes[i] = null;
        }
    }

    private async Task<(MimeMessage? Message, DeliveryOutcome? Problem, Subscriber? Subscriber)> ComposeAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        var subscriber = await subscribers.FindAsync(delivery.Recipient.Id, cancellationToken);
        if (subscriber is null) return (null, new DeliveryOutcome.Permanent($"email: subscriber {delivery.Recipient.Id} no longer exists"), null);
        // Checked at every send, not only when planning: an address may be listed between planning and sending.
        if (await suppressions.FindAsync(subscriber.Email, cancellationToken) is { } suppressed)
            return (null, new DeliveryOutcome.Permanent($"email: {suppressed}; not sent"), subscriber);
        // Random per delivery and kept on its row: the same on every attempt, never the same for two messages.
        var key = $"syndicator-{delivery.Key}";
        if (delivery.Subject.Kind == SubjectKind.Confirmation)
        {
            // A confirmed reader signed up again (by themselves or a stranger) is told they already get the digest:
            // the form queues the same e-mail for every address, so its answer reveals nothing.
            return subscriber.State is SubscriberState.Pending or SubscriberState.Confirmed
                ? (composer.Confirmation(subscriber, key), null, subscriber)
                : (null, new DeliveryOutcome.Permanent($"email: {subscriber.Email} is {subscriber.State.ToString().ToLowerInvariant()}; no confirmation needed"), subscriber);
        }
        if (subscriber.State != SubscriberState.Confirmed)
            return (null, new DeliveryOutcome.Permanent($"email: {subscriber.Email} is {subscriber.State.ToString().ToLowerInvariant()}; the digest was not sent"), subscriber);

        var items = new List<Article>();
        foreach (var id in await planner.ArticleIdsAsync(delivery.Subject.Id, cancellationToken))
            if (await articleCache.GetOrAdd(id, key => articles.FindByIdAsync(key, CancellationToken.None)) is { } article) items.Add(article);
        if (items.Count == 0) return (null, new DeliveryOutcome.Permanent($"email: the articles of digest {delivery.Subject.Id} are no longer in the store"), subscriber);
        return (composer.Digest(subscriber, items, key), null, subscriber);
    }
}
