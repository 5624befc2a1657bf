using Microsoft.Extensions.Options;
using Quartz;

namespace Syndicator.Scheduling;

/// <summary>
/// Whole-job retries with Quartz's retry policies. A job that throws is run again after a delay, as a fresh firing
/// (so it does not hold a worker thread while it waits) that Quartz persists in the job store; every attempt is a
/// row in the job history with its attempt number. Deliveries have their own, per-delivery retries (the
/// <c>Deliveries</c> section); this is for a job failing as a whole, e.g. its database being briefly unreachable.
/// </summary>
public static class JobRetries
{
    public const int DefaultAttempts = 3;
    public static readonly TimeSpan DefaultDelay = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromHours(1);

    /// <summary>
    /// Every job's unless its <c>Jobs:NAME</c> section says otherwise: three retries after about 30 s, 60 s and 120 s
    /// (±20 % jitter, so that jobs failing together do not retry in step).
    /// </summary>
    public static RetryPolicy Default { get; } = RetryPolicy.Exponential(DefaultAttempts, DefaultDelay, 2.0, MaxDelay, 0.2);

    /// <summary>"3 retries, first after 30 s", or "no retries".</summary>
    public static string Describe(RetryPolicy policy) =>
        policy.MaxAttempts == 0 ? "no retries" : $"{policy.MaxAttempts} retr{(policy.MaxAttempts == 1 ? "y" : "ies")}, first after {policy.InitialDelay.TotalSeconds:0} s";

    /// <summary>The policy a job's trigger carries, or null to leave it to <see cref="Default"/>.</summary>
    public static RetryPolicy? For(JobSchedule schedule) => schedule switch
    {
        { RetryAttempts: null, RetryDelaySeconds: null } => null,
        { RetryAttempts: 0 } => RetryPolicy.None,
        _ => RetryPolicy.Exponential(schedule.RetryAttempts ?? DefaultAttempts,
            schedule.RetryDelaySeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultDelay, 2.0, MaxDelay),
    };
}

/// <summary>Checks the retry keys of the <c>Jobs</c> section (data annotations do not reach into its per-job entries).</summary>
internal sealed class JobRetriesValidator : IValidateOptions<ScheduleOptions>
{
    public ValidateOptionsResult Validate(string? name, ScheduleOptions options)
    {
        var errors = new List<string>();
        foreach (var (job, schedule) in options)
        {
            var key = $"{ScheduleOptions.Section}:{job}";
            if (schedule.RetryAttempts is < 0 or > 100)
                errors.Add($"{key}:RetryAttempts is {schedule.RetryAttempts}; it must be between 0 (never retry) and 100.");
            if (schedule.RetryDelaySeconds is < 1 or > 86400)
                errors.Add($"{key}:RetryDelaySeconds is {schedule.RetryDelaySeconds}; it must be between 1 and 86400 seconds.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
