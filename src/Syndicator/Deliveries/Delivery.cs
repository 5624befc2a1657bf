namespace Syndicator.Deliveries;

/// <summary>
/// Where a delivery stands. Every channel (feeds' WebSub pings, social announcements, e-mail) moves its deliveries
/// through the same states, and only along the arrows of <see cref="DeliveryStates.Transitions"/>:
/// <code>
///  pending ──claim──▶ in-flight ──▶ sent
///     ▲  ▲               │ │ └────▶ failed ──────────resend (by hand)──┐
///     │  └──hand back────┘ └──────▶ unconfirmed ─────resend (by hand)──┤
///     │                  ▼                                             │
///     └─(lease ran out)  retry-wait ──claim when due──▶ in-flight      │
///     └────────────────────────────────────────────────────────────────┘
/// </code>
/// <see cref="Unconfirmed"/>: the message was handed to a service that cannot tell a repeat from a new one (an SMTP
/// relay) and its answer was lost (the connection dropped, timed out, or the node died). It may have arrived, so it
/// is never resent on its own.
/// </summary>
public enum DeliveryState
{
    Pending,
    InFlight,
    Sent,
    RetryWait,
    Failed,
    Unconfirmed,
}

public static class DeliveryStates
{
    /// <summary>Every move a delivery may make. <see cref="DeliveryStore"/> checks each state change against it.</summary>
    public static readonly IReadOnlyDictionary<DeliveryState, DeliveryState[]> Transitions = new Dictionary<DeliveryState, DeliveryState[]>
    {
        [DeliveryState.Pending] = [DeliveryState.InFlight],
        [DeliveryState.RetryWait] = [DeliveryState.InFlight],
        // In flight → in flight: a lease that ran out is claimed again by another node.
        [DeliveryState.InFlight] = [DeliveryState.Sent, DeliveryState.RetryWait, DeliveryState.Failed, DeliveryState.Unconfirmed, DeliveryState.Pending, DeliveryState.InFlight],
        [DeliveryState.Failed] = [DeliveryState.Pending],
        [DeliveryState.Unconfirmed] = [DeliveryState.Pending],
        [DeliveryState.Sent] = [],
    };

    public static bool CanMove(DeliveryState from, DeliveryState to) => Transitions[from].Contains(to);

    /// <summary>The states a move to <paramref name="to"/> may start from, as stored: the WHERE clause of that move.</summary>
    public static IReadOnlyList<string> From(DeliveryState to) =>
        Transitions.Where(t => t.Value.Contains(to)).Select(t => t.Key.ToColumn()).ToList();

    /// <summary>The spelling stored in the <c>state</c> column: <c>pending</c>, <c>in-flight</c>, <c>sent</c>, <c>retry-wait</c>, <c>failed</c>, <c>unconfirmed</c>.</summary>
    public static string ToColumn(this DeliveryState state) => state switch
    {
        DeliveryState.Pending => "pending",
        DeliveryState.InFlight => "in-flight",
        DeliveryState.Sent => "sent",
        DeliveryState.RetryWait => "retry-wait",
        DeliveryState.Failed => "failed",
        DeliveryState.Unconfirmed => "unconfirmed",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public static DeliveryState FromColumn(string value) => value switch
    {
        "pending" => DeliveryState.Pending,
        "in-flight" => DeliveryState.InFlight,
        "sent" => DeliveryState.Sent,
        "retry-wait" => DeliveryState.RetryWait,
        "failed" => DeliveryState.Failed,
        "unconfirmed" => DeliveryState.Unconfirmed,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown delivery state."),
    };

    public static bool TryParse(string value, out DeliveryState state)
    {
        foreach (var s in Enum.GetValues<DeliveryState>())
            if (s.ToColumn() == value) { state = s; return true; }
        state = default;
        return false;
    }
}

/// <summary>What is delivered, stored as kind, id and version in their own columns.</summary>
public enum SubjectKind
{
    /// <summary>An article announced on an account. Id: the article's id.</summary>
    Article,
    /// <summary>A digest mailed to a subscriber. Id: the digest's id.</summary>
    Digest,
    /// <summary>A sign-up confirmation. Id: the subscriber's id; version: the sign-up it confirms.</summary>
    Confirmation,
    /// <summary>A changed feed pinged to a hub. Id: the feed's URL; version: a hash of its new bytes.</summary>
    Feed,
    /// <summary>An ActivityPub follow answered. Id: the follower row's id; version: which Follow activity it answers.</summary>
    Follow,
}

public readonly record struct DeliverySubject(SubjectKind Kind, string Id, string Version = "")
{
    public static DeliverySubject Article(string articleId) => new(SubjectKind.Article, articleId);
    public static DeliverySubject Digest(string digestId) => new(SubjectKind.Digest, digestId);
    public static DeliverySubject Confirmation(string subscriberId, string signUp) => new(SubjectKind.Confirmation, subscriberId, signUp);
    public static DeliverySubject Feed(string feedUrl, string contentHash) => new(SubjectKind.Feed, feedUrl, contentHash);
    public static DeliverySubject Follow(long followerId, string followActivity) => new(SubjectKind.Follow, followerId.ToString(System.Globalization.CultureInfo.InvariantCulture), followActivity);

    public string KindColumn => Kind.ToString().ToLowerInvariant();

    public static SubjectKind ParseKind(string column) => Enum.Parse<SubjectKind>(column, ignoreCase: true);

    public override string ToString() => Version.Length == 0 ? $"{KindColumn} {Id}" : $"{KindColumn} {Id} ({Version})";
}

/// <summary>Who a delivery goes to: what the recipient column holds.</summary>
public enum RecipientKind
{
    /// <summary>A configured social account, by its name in Announcements:Accounts.</summary>
    Account,
    /// <summary>A subscriber, by id.</summary>
    Subscriber,
    /// <summary>A WebSub hub, by URL.</summary>
    Hub,
    /// <summary>An ActivityPub inbox (a server's shared inbox, or one account's), by URL.</summary>
    Inbox,
}

public readonly record struct DeliveryRecipient(RecipientKind Kind, string Id)
{
    public static DeliveryRecipient Account(string name) => new(RecipientKind.Account, name);
    public static DeliveryRecipient Subscriber(string subscriberId) => new(RecipientKind.Subscriber, subscriberId);
    public static DeliveryRecipient Hub(string url) => new(RecipientKind.Hub, url);
    public static DeliveryRecipient Inbox(string url) => new(RecipientKind.Inbox, url);

    public string KindColumn => Kind.ToString().ToLowerInvariant();

    public static RecipientKind ParseKind(string column) => Enum.Parse<RecipientKind>(column, ignoreCase: true);

    public override string ToString() => $"{KindColumn} {Id}";
}

/// <summary>
/// One thing sent to one recipient over one channel: an article announced on one account, a digest mailed to
/// one subscriber, a feed change pinged to one hub. The (channel, subject, recipient) triple is unique, which is
/// what makes "exactly once" hold across crashes, restarts and re-imports. <see cref="Key"/> is random, fixed when
/// the row is made: the channel's Message-ID or idempotency key, the same on every attempt and unique across
/// stores. <see cref="ClaimedBy"/> names the node that holds the claim, or that made the last attempt once it is
/// finished. <see cref="HandedOverAt"/> is set while an attempt has handed its message over and waits for the answer.
/// </summary>
public sealed record Delivery(
    long Id,
    string Channel,
    DeliverySubject Subject,
    DeliveryRecipient Recipient,
    string Key,
    DeliveryState State,
    int Attempts,
    DateTimeOffset NextAttemptAt,
    string? LastError,
    string? RemoteId,
    string? RemoteUrl,
    string? ClaimedBy,
    DateTimeOffset? LeaseExpiresAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? SentAt,
    DateTimeOffset? HandedOverAt);
