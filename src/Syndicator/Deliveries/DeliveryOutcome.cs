namespace Syndicator.Deliveries;

/// <summary>What a channel's client reports for one attempt. Error texts start with the service's name ("websub: 503 ...").</summary>
public abstract record DeliveryOutcome
{
    /// <summary>
    /// When the service said the account may make no more requests until a time (a 429, or a response whose
    /// remaining-count header reached 0): every delivery to that recipient waits until then, on every node.
    /// </summary>
    public DateTimeOffset? PauseRecipientUntil { get; init; }

    public sealed record Sent(string? RemoteId, string? RemoteUrl) : DeliveryOutcome;

    /// <summary>Worth trying again: timeouts, dropped connections, 5xx, 429. <paramref name="NotBefore"/> is the service's own reset time, when it gave one.</summary>
    public sealed record Transient(string Error, DateTimeOffset? NotBefore = null) : DeliveryOutcome;

    /// <summary>Trying again would fail the same way (bad credentials, rejected content): fail now, keeping the service's words.</summary>
    public sealed record Permanent(string Error) : DeliveryOutcome;

    /// <summary>
    /// The whole message reached a service that cannot tell a repeat from a new one, and its answer was lost: it may
    /// have been delivered, so it is not resent on its own (see <see cref="DeliveryState.Unconfirmed"/>).
    /// </summary>
    public sealed record Unconfirmed(string Error, string? RemoteId = null) : DeliveryOutcome;
}
