using System.ComponentModel.DataAnnotations;

namespace Syndicator.Scheduling;

/// <summary>The <c>History</c> section: how long job history (and, if asked, sent deliveries) is kept before the Retention job deletes it.</summary>
public sealed class HistoryOptions
{
    public const string Section = "History";

    /// <summary>Job runs and misfires older than this many days are deleted. The per-job status (last success, counts) is kept regardless.</summary>
    [Range(1, 36500, ErrorMessage = "History:RetentionDays must be between 1 and 36500.")]
    public int RetentionDays { get; set; } = 30;

    /// <summary>
    /// Sent deliveries whose sending is older than this many days are deleted; unset (the default) keeps them for ever.
    /// Off by default because a delivery row is also the record that something was sent: once it is gone,
    /// <c>syndicator announce</c> on that article announces it again.
    /// </summary>
    [Range(7, 36500, ErrorMessage = "History:SentDeliveryRetentionDays must be between 7 and 36500, or left out to keep sent deliveries.")]
    public int? SentDeliveryRetentionDays { get; set; }
}
