namespace Syndicator.Digests.Feedback;

/// <summary>What a bounce report, complaint or mailed unsubscribe says happened.</summary>
public enum FeedbackKind
{
    /// <summary>The receiving server refused the message for good (status 5.x.x): the address does not take mail.</summary>
    HardBounce,
    /// <summary>A temporary failure or a delay (status 4.x.x); counted toward Digests:Feedback:SoftBounceLimit.</summary>
    SoftBounce,
    /// <summary>The reader reported the message as spam (an ARF report, or a relay's complaint event).</summary>
    Complaint,
    /// <summary>The reader mailed the List-Unsubscribe address with their signed token.</summary>
    Unsubscribe,
}

public static class FeedbackKinds
{
    /// <summary>The spelling stored in <c>mail_feedback.kind</c>.</summary>
    public static string Column(this FeedbackKind kind) => kind switch
    {
        FeedbackKind.HardBounce => "hard-bounce",
        FeedbackKind.SoftBounce => "soft-bounce",
        FeedbackKind.Complaint => "complaint",
        FeedbackKind.Unsubscribe => "unsubscribe",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>
/// One piece of feedback, tied to what Syndicator put in the original and nothing else: <see cref="DeliveryKey"/>
/// from our Message-ID (<c>syndicator-{key}@domain</c>) in the report or from the VERP address it was sent to
/// (<c>bounces+{key}@domain</c>), the key as messages show it (<see cref="SubscriberTokens.MessageKey"/>), or for an unsubscribe <see cref="SubscriberId"/> from its signed token.
/// <see cref="Recipient"/>, <see cref="Status"/> and <see cref="Detail"/> are what the report claims, kept for a
/// person to read; none of them decides which subscriber is meant.
/// </summary>
public sealed record FeedbackEvent(FeedbackKind Kind, string? DeliveryKey, string? SubscriberId, string? Recipient, string? Status, string Detail);

/// <summary>The classifier's answer: an event, or null with the reason the message is left alone.</summary>
public sealed record FeedbackVerdict(FeedbackEvent? Event, string Reason)
{
    public static FeedbackVerdict Ignore(string reason) => new(null, reason);
}
