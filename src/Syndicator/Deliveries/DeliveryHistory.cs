namespace Syndicator.Deliveries;

/// <summary>How one attempt ended, as the <c>delivery_attempts.outcome</c> column spells it.</summary>
public enum AttemptOutcome
{
    Sent,
    /// <summary>Failed for now; the delivery waits for its next attempt.</summary>
    Retry,
    Failed,
    Unconfirmed,
    /// <summary>The network told the account to wait; the attempt did not count.</summary>
    Deferred,
}

public static class AttemptOutcomes
{
    public static AttemptOutcome ToAttemptOutcome(this DeliveryState state) => state switch
    {
        DeliveryState.Sent => AttemptOutcome.Sent,
        DeliveryState.RetryWait => AttemptOutcome.Retry,
        DeliveryState.Failed => AttemptOutcome.Failed,
        DeliveryState.Unconfirmed => AttemptOutcome.Unconfirmed,
        DeliveryState.Pending => AttemptOutcome.Deferred,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "An attempt does not end in this state."),
    };

    public static string ToColumn(this AttemptOutcome outcome) => outcome.ToString().ToLowerInvariant();

    public static AttemptOutcome FromColumn(string value) => Enum.Parse<AttemptOutcome>(value, ignoreCase: true);
}

/// <summary>
/// One attempt of a delivery as it ended: its number, the node that made it, how it went, the service's HTTP status
/// and the class of failure, the service's words, and what was handed over (a post's text).
/// </summary>
public sealed record DeliveryAttemptRecord(
    long DeliveryId,
    int Attempt,
    string Node,
    AttemptOutcome Outcome,
    int? Status,
    FailureCause Cause,
    string? Error,
    string? Message,
    DateTimeOffset At);

/// <summary>
/// Which deliveries <see cref="DeliveryStore.ListAsync(DeliveryQuery, CancellationToken)"/> lists: each filter
/// given narrows the list; <paramref name="Since"/> keeps those changed at or after it.
/// </summary>
public sealed record DeliveryQuery(
    DeliveryState? State = null,
    string? Channel = null,
    DeliverySubject? Subject = null,
    DeliveryRecipient? Recipient = null,
    DateTimeOffset? Since = null,
    int Limit = 50);
