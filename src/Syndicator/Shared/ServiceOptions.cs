using System.ComponentModel.DataAnnotations;

namespace Syndicator.Shared;

/// <summary>The <c>Service</c> section: how the running service behaves as a process.</summary>
public sealed class ServiceOptions
{
    public const string Section = "Service";

    /// <summary>
    /// How long a stop (SIGTERM, <c>systemctl stop</c>, <c>docker stop</c>) waits for sends in progress to finish.
    /// A sender starts nothing new once the stop begins and hands back what it claimed but did not start; the
    /// supervisor's own limit (TimeoutStopSec, stop_grace_period) must be longer than this.
    /// </summary>
    [Range(5, 3600, ErrorMessage = "Service:ShutdownTimeoutSeconds must be between 5 and 3600; keep it below the supervisor's own stop timeout (systemd TimeoutStopSec, compose stop_grace_period).")]
    public int ShutdownTimeoutSeconds { get; set; } = 30;
}
