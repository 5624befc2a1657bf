namespace Syndicator.Scheduling;

public enum MisfirePolicy
{
    /// <summary>Run once as soon as the scheduler notices the missed firing, then carry on with the schedule.</summary>
    FireNow,

    /// <summary>Skip missed firings and wait for the next scheduled one.</summary>
    Skip,
}

/// <summary>When one job runs: a Quartz cron expression in a time zone, or a fixed interval.</summary>
public sealed class JobSchedule
{
    public bool Enabled { get; set; } = true;

    /// <summary>Quartz cron, with seconds: <c>0 0 7 * * ?</c> is 07:00 every day.</summary>
    public string? Cron { get; set; }

    /// <summary>IANA (or Windows) time zone id that <see cref="Cron"/> is read in.</summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>Alternative to <see cref="Cron"/>: run every this many seconds.</summary>
    public int? IntervalSeconds { get; set; }

    public MisfirePolicy Misfire { get; set; } = MisfirePolicy.FireNow;

    /// <summary>
    /// How many times a run that throws is tried again, 0 for never; unset keeps the scheduler-wide default
    /// (<see cref="JobRetries.Default"/>). Only a throw is retried; a retry never runs on or after the next regular firing.
    /// </summary>
    public int? RetryAttempts { get; set; }

    /// <summary>How long the first retry waits; each further one waits twice as long as the one before (at most an hour).</summary>
    public int? RetryDelaySeconds { get; set; }
}

/// <summary>The <c>Jobs</c> section: one <see cref="JobSchedule"/> per job, keyed by the job's name.</summary>
public sealed class ScheduleOptions() : Dictionary<string, JobSchedule>(StringComparer.OrdinalIgnoreCase)
{
    public const string Section = "Jobs";
}
