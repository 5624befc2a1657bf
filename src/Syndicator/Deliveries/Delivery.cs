namespace Syndicator.Deliveries;

/// <summary>
/// Where a delivery stands. Every channel (feeds' WebSub pings, social announcements, email digests) moves
/// its deliveries through the same states:
/// <code>
///  pending ──claim──▶ in-flight ──▶ sent
///     ▲                   │  └────▶ failed ──retry (by hand)──▶ pending
///     │                   ▼
///     └──(lease expired)  retry-wait ──claim when due──▶ in-flight
/// </code>
/// </summary>
public enum DeliveryState
{
    Pending,
    InFlight,
    Sent,
    RetryWait,
    Failed,
}

public static class DeliveryStates
{
    private static readonly Dictionary<DeliveryState, DeliveryState[]> Allowed = new()
    {
        [DeliveryState.Pending] = [DeliveryState.InFlight],
        [DeliveryState.InFlight] = [DeliveryState.Sent, DeliveryState.RetryWait, DeliveryState.Failed, DeliveryState.Pending],
        [DeliveryState.RetryWait] = [DeliveryState.InFlight],
        [DeliveryState.Failed] = [DeliveryState.Pending],
        [DeliveryState.Sent] = [],
    };

    public static bool CanMove(DeliveryState from, DeliveryState to) => Allowed[from].Contains(to);

    /// <summary>The spelling stored in the <c>state</c> column: <c>pending</c>, <c>in-flight</c>, <c>sent</c>, <c>retry-wait</c>, <c>failed</c>.</summary>
    public static string ToColumn(this DeliveryState state) => state switch
    {
        DeliveryState.Pending => "pending",
        DeliveryState.InFlight => "in-flight",
        DeliveryState.Sent => "sent",
        DeliveryState.RetryWait => "retry-wait",
        DeliveryState.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public static DeliveryState FromColumn(string value) => value switch
    {
        "pending" => DeliveryState.Pending,
        "in-flight" => DeliveryState.InFlight,
        "sent" => DeliveryState.Sent,
        "retry-wait" => DeliveryState.RetryWait,
        "failed" => DeliveryState.Failed,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown delivery state."),
    };
}

/// <summary>
/// One thing sent to one recipient over one channel: an article announced on one account, a digest mailed to
/// one subscriber, a feed change pinged to one hub. The (channel, subject, recipient) triple is unique, which is
/// what makes "exactly once" hold across crashes, restarts and re-imports. <see cref="ClaimedBy"/> names the node
/// that holds the claim, or that made the last attempt once it is finished. <see cref="HandedOverAt"/> is set while
/// an attempt has handed its message over and waits for the answer.
/// </summary>
public sealed record Delivery(
    long Id,
    string Channel,
    string SubjectKind,
    string SubjectId,
    string Recipient,
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
