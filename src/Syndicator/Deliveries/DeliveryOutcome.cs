namespace Syndicator.Deliveries;

/// <summary>What a channel's client reports for one attempt. Error texts start with the service's name ("websub: 503 ...").</summary>
public abstract record DeliveryOutcome
{
    /// <summary>
    /// When the service said the account may make no more requests until a time (a 429, or a response whose
    /// remaining-count header reached 0): every delivery to that recipient waits until then, on every node.
    /// </summary>
    public DateTimeOffset? PauseRecipientUntil { get; init; }

    /// <summary>What kind of failure this was, for the advice the publisher reads (see <see cref="FailureAdvice"/>).</summary>
    public FailureCause Cause { get; init; } = FailureCause.Other;

    /// <summary>The service's HTTP status, when it answered.</summary>
    public int? Status { get; init; }

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

/// <summary>The kinds of failure a publisher is told about differently: stored with each attempt.</summary>
public enum FailureCause
{
    /// <summary>Anything else: the error's words say it.</summary>
    Other,
    /// <summary>The service answered with an error status (<see cref="DeliveryOutcome.Status"/>).</summary>
    Answered,
    /// <summary>The service did not answer in time.</summary>
    Timeout,
    /// <summary>The service could not be reached or dropped the connection.</summary>
    Unreachable,
    /// <summary>The service answered with something that could not be read.</summary>
    UnreadableAnswer,
    /// <summary>A credential is missing or its env: variable or file: cannot be read.</summary>
    Credential,
}
