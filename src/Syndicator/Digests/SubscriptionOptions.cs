using System.ComponentModel.DataAnnotations;

namespace Syndicator.Digests;

/// <summary>
/// The <c>Subscriptions</c> section: how much the public sign-up form may be used, and how long a confirmation link
/// lives. The limits count POSTs to <c>/subscribe</c> in a fixed window, per client address (IPv6 clients per /64, the
/// block one machine usually has) and over all clients; past either, the form answers 429 with Retry-After.
/// </summary>
public sealed class SubscriptionOptions
{
    public const string Section = "Subscriptions";

    [Range(1, 10_000, ErrorMessage = "Subscriptions:SignUpsPerClient must be between 1 and 10000 sign-ups per window.")]
    public int SignUpsPerClient { get; set; } = 5;

    [Range(1, 1_000_000, ErrorMessage = "Subscriptions:SignUpsOverall must be between 1 and 1000000 sign-ups per window.")]
    public int SignUpsOverall { get; set; } = 100;

    [Range(1, 86_400, ErrorMessage = "Subscriptions:WindowSeconds must be between 1 and 86400 (a day).")]
    public int WindowSeconds { get; set; } = 600;

    /// <summary>A confirmation link older than this is refused; the page it opens offers to sign up again.</summary>
    [Range(1, 24 * 30, ErrorMessage = "Subscriptions:ConfirmationHours must be between 1 and 720 (30 days).")]
    public int ConfirmationHours { get; set; } = 48;

    /// <summary>A preferences link (in every digest) older than this is refused; the next digest brings a fresh one.</summary>
    [Range(1, 3650, ErrorMessage = "Subscriptions:PreferencesLinkDays must be between 1 and 3650 days.")]
    public int PreferencesLinkDays { get; set; } = 90;

    public TimeSpan PreferencesLinkLifetime => TimeSpan.FromDays(PreferencesLinkDays);

    public TimeSpan Window => TimeSpan.FromSeconds(WindowSeconds);

    public TimeSpan ConfirmationLifetime => TimeSpan.FromHours(ConfirmationHours);
}
