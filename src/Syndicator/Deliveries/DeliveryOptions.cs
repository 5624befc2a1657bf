using System.ComponentModel.DataAnnotations;

namespace Syndicator.Deliveries;

/// <summary>The <c>Deliveries</c> section: how failed deliveries are retried, for every channel.</summary>
public sealed class DeliveryOptions
{
    public const string Section = "Deliveries";

    /// <summary>Attempts before a delivery that keeps failing transiently is marked failed.</summary>
    [Range(1, 100, ErrorMessage = "Deliveries:MaxAttempts must be between 1 and 100.")]
    public int MaxAttempts { get; set; } = 8;

    /// <summary>The first retry waits about this long; each further one waits twice as long, with jitter.</summary>
    [Range(1, 86400, ErrorMessage = "Deliveries:RetryBaseSeconds must be between 1 and 86400.")]
    public int RetryBaseSeconds { get; set; } = 30;

    [Range(1, 86400, ErrorMessage = "Deliveries:RetryMaxSeconds must be between 1 and 86400.")]
    public int RetryMaxSeconds { get; set; } = 3600;

    /// <summary>How long a claim holds a delivery; a node that dies mid-send loses it after this long.</summary>
    [Range(10, 86400, ErrorMessage = "Deliveries:LeaseSeconds must be between 10 and 86400.")]
    public int LeaseSeconds { get; set; } = 300;

    /// <summary>How many due deliveries one run of a channel's job claims at once.</summary>
    [Range(1, 10000, ErrorMessage = "Deliveries:BatchSize must be between 1 and 10000.")]
    public int BatchSize { get; set; } = 100;

    /// <summary>In a cluster every node sends due e-mail; an idle node looks for more this often.</summary>
    [Range(1, 3600, ErrorMessage = "Deliveries:PollSeconds must be between 1 and 3600.")]
    public int PollSeconds { get; set; } = 5;
}
