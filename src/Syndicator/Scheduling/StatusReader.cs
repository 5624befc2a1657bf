using Microsoft.Extensions.Options;
using Quartz;
using Syndicator.Deliveries;

namespace Syndicator.Scheduling;

/// <summary>
/// One job as <c>syndicator status</c> and the dashboard show it: its configured schedule, its next firing (the
/// earliest of all its triggers in the job store: the schedule's, a manual firing, a retry), the state of its own
/// trigger, and its last run from the history (<see cref="LastOutcome"/> in the history's spelling).
/// </summary>
public sealed record JobState(
    string Name,
    bool Enabled,
    string Schedule,
    string? RetryPolicy,
    string? TriggerState,
    DateTimeOffset? NextFireAt,
    DateTimeOffset? LastRunAt,
    string? LastOutcome,
    string? LastSummary,
    DateTimeOffset? LastSucceededAt,
    int ConsecutiveFailures,
    long Runs,
    string? LastError,
    DateTimeOffset? PreviousFireAt,
    TimeSpan? LastDuration)
{
    /// <summary>Whether the job store holds a trigger for it at all.</summary>
    public bool Scheduled => TriggerState is not null || NextFireAt is not null;
}

/// <summary>One channel's deliveries counted by state (the <c>state</c> column's spelling: pending, in-flight, sent, retry-wait, failed).</summary>
public sealed record ChannelDeliveries(string Channel, long Total, IReadOnlyDictionary<string, long> ByState);

/// <summary>A job run that failed; <see cref="WillRetry"/> when Quartz scheduled another attempt.</summary>
public sealed record JobFailure(string Job, DateTimeOffset At, int RetryAttempt, bool WillRetry, bool Manual, string Node, string? Error, string? Summary);

/// <summary>A delivery that failed for good, with the service's last words.</summary>
/// <summary>A failed or unconfirmed delivery, its subject and recipient named as the publisher knows them.</summary>
public sealed record DeliveryFailure(long Id, string Channel, string State, string Subject, string Recipient, int Attempts, DateTimeOffset UpdatedAt, string? Error);

public sealed record StatusSnapshot(
    DateTimeOffset At,
    string SchedulerName,
    IReadOnlyList<JobState> Jobs,
    IReadOnlyList<ChannelDeliveries> Deliveries,
    IReadOnlyList<JobFailure> JobFailures,
    IReadOnlyList<DeliveryFailure> DeliveryFailures);

/// <summary>
/// Gathers what an operator asks first (for <c>syndicator status</c>; the dashboard shows <see cref="JobsAsync"/> too): are the jobs running and succeeding, and is anything stuck or failed.
/// Reads the persistent job store through a scheduler that is never started here, so it works from the CLI
/// while the service runs elsewhere.
/// </summary>
public sealed class StatusReader(
    ISchedulerFactory schedulers,
    DatabaseExecutionHistoryStore history,
    DeliveryStore deliveries,
    DeliveryDirectory directory,
    JobCatalog catalog,
    IOptions<ScheduleOptions> schedules,
    TimeProvider time)
{
    public async Task<StatusSnapshot> ReadAsync(int failures, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var jobs = await JobsAsync(cancellationToken);

        var counts = await deliveries.CountByChannelAndStateAsync(cancellationToken);
        var channels = counts.GroupBy(c => c.Channel)
            .Select(g => new ChannelDeliveries(g.Key, g.Sum(c => c.Count), g.ToDictionary(c => c.State.ToColumn(), c => c.Count)))
            .ToList();

        var failedRuns = await history.QueryExecutions(new ExecutionHistoryQuery
        {
            SchedulerName = scheduler.SchedulerName,
            Results = [JobRunResult.Failed, JobRunOutcomes.PartlyFailed],
            Take = failures,
        }, cancellationToken);
        var failedDeliveries = (await deliveries.ListAsync(DeliveryState.Unconfirmed, null, null, failures, cancellationToken))
            .Concat(await deliveries.ListAsync(DeliveryState.Failed, null, null, failures, cancellationToken))
            .OrderByDescending(d => d.UpdatedAt).Take(failures).ToList();
        var names = await directory.NameAsync(failedDeliveries, cancellationToken);

        return new StatusSnapshot(time.GetUtcNow(), scheduler.SchedulerName, jobs, channels,
            failedRuns.Items.Select(r => new JobFailure(r.JobName, r.FiredAtUtc, r.RetryAttempt, r.RetryScheduled, r.Manual, r.SchedulerInstanceId, r.ExceptionMessage, r.Summary)).ToList(),
            failedDeliveries.Select(d => new DeliveryFailure(d.Id, d.Channel, d.State.ToColumn(), names.Of(d.Subject), names.Of(d.Recipient), d.Attempts, d.UpdatedAt, d.LastError)).ToList());
    }

    /// <summary>Every job of the catalogue, as the job store and the history know it: the one computation the CLI and the dashboard show.</summary>
    public async Task<IReadOnlyList<JobState>> JobsAsync(CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var statuses = (await history.QueryJobRunStatuses(new JobRunStatusQuery { SchedulerName = scheduler.SchedulerName, Take = PagedQuery.All }, cancellationToken))
            .Items.ToDictionary(s => s.Job);

        var jobs = new List<JobState>();
        foreach (var job in catalog.All)
        {
            var schedule = schedules.Value.TryGetValue(job.Name, out var configured) ? configured : job.Default;
            // Every trigger of the job counts: its schedule's, a manual firing waiting to run, a retry.
            var triggers = await scheduler.Exists(job.Key, cancellationToken) ? await scheduler.GetTriggersOfJob(job.Key, cancellationToken) : [];
            var next = triggers.Select(t => t.NextFireTimeUtc).Where(t => t is not null).Min();
            var previous = triggers.Select(t => t.PreviousFireTimeUtc).Where(t => t is not null).Max();
            string? state = null;
            if (await scheduler.GetTrigger(new TriggerKey(job.Name, JobCatalog.Group), cancellationToken) is { } own)
                state = (await scheduler.GetTriggerState(own.Key, cancellationToken)).ToString();
            statuses.TryGetValue(job.Key, out var status);
            jobs.Add(new JobState(job.Name, schedule.Enabled, Describe(schedule), JobRetries.Describe(JobRetries.For(schedule) ?? JobRetries.Default), state, next,
                status?.LastFiredAtUtc, status is null ? null : JobRunOutcomes.ToColumn(status.LastResult), status?.LastSummary, status?.LastSucceededAtUtc,
                status?.ConsecutiveFailures ?? 0, status?.RunCount ?? 0, status?.LastFailureMessage, previous, status?.LastDuration));
        }
        return jobs;
    }

    public static string Describe(JobSchedule schedule) =>
        !schedule.Enabled ? "disabled"
        : schedule.Cron is not null ? $"cron {schedule.Cron} ({schedule.TimeZone})"
        : $"every {schedule.IntervalSeconds ?? 60} s";
}
