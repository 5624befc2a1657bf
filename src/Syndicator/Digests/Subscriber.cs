namespace Syndicator.Digests;

public enum DigestFrequency
{
    Daily,
    Weekly,
}

public enum SubscriberState
{
    /// <summary>Signed up over HTTP and not yet confirmed: receives nothing but the confirmation e-mail.</summary>
    Pending,
    Confirmed,
    Unsubscribed,
    /// <summary>Too many hard bounces at the relay (RCPT TO refused): the address does not take mail.</summary>
    Suspended,
    /// <summary>The receiving server bounced a digest for good (5.x.x) after the relay took it, or soft bounces passed Digests:Feedback:SoftBounceLimit.</summary>
    Bounced,
    /// <summary>The reader reported a digest as spam: unsubscribed at once.</summary>
    Complained,
}

/// <summary>
/// A reader who gets digests. <see cref="CoveredUntil"/> is the import time up to which articles have been planned
/// into this subscriber's digests: the next digest holds exactly the articles imported after it. <see cref="SignUpId"/>
/// and <see cref="SignUpAt"/> name the sign-up awaiting confirmation (or last confirmed): a confirmation link carries
/// the id, and is good for Subscriptions:ConfirmationHours from that time.
/// </summary>
public sealed record Subscriber(
    string Id,
    string Email,
    string? Name,
    DigestFrequency Frequency,
    string TimeZone,
    SubscriberState State,
    int HardBounces,
    DateTimeOffset CoveredUntil,
    string? LastPeriod,
    IReadOnlyList<string> FollowedAuthors,
    IReadOnlyList<string> FollowedTags,
    DateTimeOffset CreatedAt,
    string? SignUpId = null,
    DateTimeOffset? SignUpAt = null);
