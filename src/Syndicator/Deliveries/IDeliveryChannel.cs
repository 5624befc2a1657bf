namespace Syndicator.Deliveries;

/// <summary>How a channel makes sure a retry, a crash or a lost reply never delivers twice.</summary>
public enum DuplicateGuard
{
    /// <summary>The service takes a key and answers a repeat with what the first request made (Mastodon's Idempotency-Key, Bluesky's record key, a pickup file's name, a WebSub ping).</summary>
    IdempotencyKey,
    /// <summary>The service has no key: before a retry the channel looks for what an earlier attempt may have made (X's timeline).</summary>
    Reconciliation,
    /// <summary>
    /// The service cannot tell a repeat from a new one (an SMTP relay): the moment the message is handed over is
    /// written first, and a lost answer makes the delivery unconfirmed instead of resending it. At most once.
    /// </summary>
    HandOverMark,
}

/// <summary>
/// What a channel asks of the worker. <paramref name="Lanes"/>: sends at once (e-mail: relay connections).
/// <paramref name="OneLanePerRecipient"/>: a recipient's deliveries go one at a time and from one node at a time
/// (a social account and its rate limit), recipients side by side. <paramref name="PerSecond"/> and
/// <paramref name="MaxPerHour"/>: the channel's rate (per node) and hourly cap (counted in the database, so for
/// the cluster); null for none.
/// </summary>
public sealed record ChannelPolicy(
    RecipientKind Recipients,
    DuplicateGuard Guard,
    int Lanes = 1,
    bool OneLanePerRecipient = false,
    double? PerSecond = null,
    int? MaxPerHour = null);

/// <summary>
/// One way out: e-mail, X, Mastodon, Bluesky, WebSub. The worker claims, paces, renews leases, hands back on stop and
/// records; the channel composes and sends one delivery and says how it went. Errors start with the channel's
/// service name and are classed as transient or permanent (see <see cref="DeliveryOutcome"/>).
/// </summary>
public interface IDeliveryChannel
{
    /// <summary>The <c>channel</c> column's value: <c>email</c>, <c>x</c>, <c>mastodon</c>, <c>bluesky</c>, <c>websub</c>.</summary>
    string Name { get; }

    ChannelPolicy Policy { get; }

    /// <summary>
    /// Sends one delivery. A <see cref="DuplicateGuard.HandOverMark"/> channel calls <see cref="DeliveryAttempt.HandOverAsync"/>
    /// right before handing the message over, and must not send when it answers false.
    /// </summary>
    Task<DeliveryOutcome> SendAsync(Delivery delivery, DeliveryAttempt attempt, CancellationToken cancellationToken);

    /// <summary>
    /// The worker claimed <paramref name="batch"/> and is about to send it: a channel that needs the same rows for every
    /// message (e-mail: subscriber, suppression, digest contents) reads them here for the whole batch, in a few queries
    /// instead of a few per message. Whatever it reads is still checked per message before sending.
    /// </summary>
    Task BeginBatchAsync(IReadOnlyList<Delivery> batch, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A sending run is over: close what it kept open across batches (relay connections).</summary>
    ValueTask EndRunAsync() => ValueTask.CompletedTask;
}

/// <summary>The worker's side of one attempt: which lane sends it, and the hand-over mark.</summary>
public sealed class DeliveryAttempt(int lane, Func<string?, Task<bool>> handOver)
{
    /// <summary>0 .. Lanes−1: a channel with per-lane resources (one relay connection per lane) uses this one's.</summary>
    public int Lane { get; } = lane;

    /// <summary>What this attempt hands over, in the words the recipient sees (a post's text): recorded with the attempt for the publisher.</summary>
    public string? Message { get; set; }

    /// <summary>Set once <see cref="HandOverAsync"/> has answered true: the service may have the message from here on.</summary>
    public bool HandedOver { get; private set; }

    /// <summary>
    /// Writes that the message (carrying <paramref name="remoteId"/>) is about to be handed over. False when this
    /// node no longer holds the claim: another node has it, so nothing may be sent from here.
    /// </summary>
    public async Task<bool> HandOverAsync(string? remoteId) => HandedOver = await handOver(remoteId);
}
