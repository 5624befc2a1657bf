using System.Data.Common;
using System.Text;
using Dapper;
using Microsoft.Extensions.Logging;
using Quartz;
using Quartz.Extensibility;
using Syndicator.Storage;

namespace Syndicator.Scheduling;

/// <summary>
/// Quartz's execution history kept in our own database (<c>job_runs</c>, <c>job_status</c>, <c>job_misfires</c>,
/// migration 0004), so that every node of a cluster writes to and reads one history and a restart keeps it.
/// Quartz's recorder (installed by <c>AddQuartzExecutionHistory</c>) calls <see cref="AddExecution"/> after every run;
/// health checks' <c>RequireSuccessWithin</c> read <see cref="QueryJobRunStatuses"/>.
/// </summary>
/// <remarks>
/// Age bounds are not applied here: the Retention job deletes old rows (History:RetentionDays). The per-job status
/// is folded in SQL as Quartz's own stores fold it (counters incremented in the statement, last-run columns moved
/// only by a run that fired at or after the latest one), so two nodes recording at once lose nothing.
/// </remarks>
public sealed class DatabaseExecutionHistoryStore(Database database, ILogger<DatabaseExecutionHistoryStore> logger) : IExecutionHistoryStore
{
    private const string RunColumns = """
        id AS Id, entry_id AS EntryId, scheduler_name AS SchedulerName, node AS Node, job_group AS JobGroup, job_name AS JobName,
        trigger_group AS TriggerGroup, trigger_name AS TriggerName, fire_instance_id AS FireInstanceId, started_at AS StartedAt,
        duration_ms AS DurationMs, outcome AS Outcome, error AS Error, summary AS Summary, metrics_json AS MetricsJson,
        retry_attempt AS RetryAttempt, retry_scheduled AS RetryScheduled, manual AS Manual
        """;

    private const string StatusColumns = """
        scheduler_name AS SchedulerName, job_group AS JobGroup, job_name AS JobName, first_fired_at AS FirstFiredAt,
        last_fired_at AS LastFiredAt, last_outcome AS LastOutcome, last_duration_ms AS LastDurationMs, last_node AS LastNode,
        last_entry_id AS LastEntryId, last_summary AS LastSummary, last_succeeded_at AS LastSucceededAt, last_failed_at AS LastFailedAt,
        last_failure_message AS LastFailureMessage, consecutive_failures AS ConsecutiveFailures, run_count AS RunCount, failure_count AS FailureCount
        """;

    private const string MisfireColumns = """
        scheduler_name AS SchedulerName, node AS Node, job_group AS JobGroup, job_name AS JobName, trigger_group AS TriggerGroup,
        trigger_name AS TriggerName, misfired_at AS MisfiredAt, scheduled_fire_at AS ScheduledFireAt, reason AS Reason
        """;

    public async ValueTask AddExecution(ExecutionHistoryEntry entry, CancellationToken cancellationToken = default)
    {
        var outcome = entry.EffectiveResult;
        // A partly failed run completed its pass, so it answers "has the job run to the end lately?" (RequireSuccessWithin),
        // and it is a failure as well: it moves the last failure and counts in the failures in a row.
        var success = outcome is JobRunResult.Succeeded or JobRunResult.Skipped or JobRunOutcomes.PartlyFailed;
        var failed = JobRunOutcomes.IsFailure(outcome);
        var finalFailure = failed && !entry.RetryScheduled;
        var firedAt = entry.FiredAtUtc.ToStoredPrecision();
        var values = new
        {
            entryId = entry.EntryId ?? Guid.NewGuid().ToString("N"),
            schedulerName = entry.SchedulerName,
            node = entry.SchedulerInstanceId,
            jobGroup = entry.JobGroup,
            jobName = entry.JobName,
            triggerGroup = entry.TriggerGroup,
            triggerName = entry.TriggerName,
            fireInstanceId = entry.FireInstanceId,
            firedAt,
            durationMs = (long)entry.Duration.TotalMilliseconds,
            outcome = JobRunOutcomes.ToColumn(outcome),
            error = entry.ExceptionMessage,
            summary = entry.Summary,
            metricsJson = entry.MetricsJson,
            retryAttempt = entry.RetryAttempt,
            retryScheduled = entry.RetryScheduled,
            manual = entry.Manual,
            // The status row's view of this one run, which the upsert folds into what it already holds.
            succeededAt = success ? firedAt : (DateTimeOffset?)null,
            failedAt = failed ? firedAt : (DateTimeOffset?)null,
            // As Quartz's status has it: what the job threw, or else the run's own summary of its failure.
            failureMessage = failed ? entry.ExceptionMessage ?? entry.Summary : null,
            finalFailures = finalFailure ? 1 : 0,
        };

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO job_runs (entry_id, scheduler_name, node, job_group, job_name, trigger_group, trigger_name, fire_instance_id,
                                  started_at, duration_ms, outcome, error, summary, metrics_json, retry_attempt, retry_scheduled, manual)
            VALUES (@entryId, @schedulerName, @node, @jobGroup, @jobName, @triggerGroup, @triggerName, @fireInstanceId,
                    @firedAt, @durationMs, @outcome, @error, @summary, @metricsJson, @retryAttempt, @retryScheduled, @manual)
            """, values, transaction, cancellationToken: cancellationToken));

        // excluded.* is this run alone; a run that completes after a later-fired one is counted but moves no last-run column.
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO job_status (scheduler_name, job_group, job_name, first_fired_at, last_fired_at, last_outcome, last_duration_ms, last_node,
                                    last_entry_id, last_summary, last_succeeded_at, last_failed_at, last_failure_message,
                                    consecutive_failures, run_count, failure_count)
            VALUES (@schedulerName, @jobGroup, @jobName, @firedAt, @firedAt, @outcome, @durationMs, @node,
                    @entryId, @summary, @succeededAt, @failedAt, @failureMessage,
                    @finalFailures, 1, @finalFailures)
            ON CONFLICT (scheduler_name, job_group, job_name) DO UPDATE SET
                run_count = job_status.run_count + 1,
                failure_count = job_status.failure_count + excluded.failure_count,
                first_fired_at = CASE WHEN excluded.first_fired_at < job_status.first_fired_at THEN excluded.first_fired_at ELSE job_status.first_fired_at END,
                last_succeeded_at = CASE WHEN excluded.last_succeeded_at IS NOT NULL AND (job_status.last_succeeded_at IS NULL OR excluded.last_succeeded_at > job_status.last_succeeded_at)
                                         THEN excluded.last_succeeded_at ELSE job_status.last_succeeded_at END,
                last_failure_message = CASE WHEN excluded.last_failed_at IS NOT NULL AND (job_status.last_failed_at IS NULL OR excluded.last_failed_at > job_status.last_failed_at)
                                            THEN excluded.last_failure_message ELSE job_status.last_failure_message END,
                last_failed_at = CASE WHEN excluded.last_failed_at IS NOT NULL AND (job_status.last_failed_at IS NULL OR excluded.last_failed_at > job_status.last_failed_at)
                                      THEN excluded.last_failed_at ELSE job_status.last_failed_at END,
                consecutive_failures = CASE WHEN excluded.last_fired_at < job_status.last_fired_at THEN job_status.consecutive_failures
                                            WHEN excluded.last_outcome IN ('succeeded', 'skipped') THEN 0
                                            ELSE job_status.consecutive_failures + excluded.consecutive_failures END,
                last_outcome = CASE WHEN excluded.last_fired_at >= job_status.last_fired_at THEN excluded.last_outcome ELSE job_status.last_outcome END,
                last_duration_ms = CASE WHEN excluded.last_fired_at >= job_status.last_fired_at THEN excluded.last_duration_ms ELSE job_status.last_duration_ms END,
                last_node = CASE WHEN excluded.last_fired_at >= job_status.last_fired_at THEN excluded.last_node ELSE job_status.last_node END,
                last_entry_id = CASE WHEN excluded.last_fired_at >= job_status.last_fired_at THEN excluded.last_entry_id ELSE job_status.last_entry_id END,
                last_summary = CASE WHEN excluded.last_fired_at >= job_status.last_fired_at THEN excluded.last_summary ELSE job_status.last_summary END,
                last_fired_at = CASE WHEN excluded.last_fired_at >= job_status.last_fired_at THEN excluded.last_fired_at ELSE job_status.last_fired_at END
            """, values, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        logger.LogDebug("Recorded {Job} {Outcome} (retry {RetryAttempt})", entry.JobName, values.outcome, entry.RetryAttempt);
    }

    public async ValueTask<PagedResult<ExecutionHistoryEntry>> QueryExecutions(ExecutionHistoryQuery query, CancellationToken cancellationToken = default)
    {
        var parameters = new DynamicParameters();
        var where = new StringBuilder("1 = 1");
        Filter(where, parameters, "scheduler_name", "schedulerName", query.SchedulerName);
        Filter(where, parameters, "node", "node", query.SchedulerInstanceId);
        Filter(where, parameters, "fire_instance_id", "fireInstanceId", query.FireInstanceId);
        if (query.Job is { } job)
        {
            Filter(where, parameters, "job_group", "jobGroup", job.Group);
            Filter(where, parameters, "job_name", "jobName", job.Name);
        }
        if (query.Trigger is { } trigger)
        {
            Filter(where, parameters, "trigger_group", "triggerGroup", trigger.Group);
            Filter(where, parameters, "trigger_name", "triggerName", trigger.Name);
        }
        Contains(where, parameters, "job_group || '.' || job_name", "jobContains", query.JobContains);
        Contains(where, parameters, "trigger_group || '.' || trigger_name", "triggerContains", query.TriggerContains);
        if (query.FiredFrom is { } from)
        {
            where.Append(" AND started_at >= @firedFrom");
            parameters.Add("firedFrom", from.ToStoredPrecision());
        }
        if (query.FiredBefore is { } before)
        {
            where.Append(" AND started_at < @firedBefore");
            parameters.Add("firedBefore", before.ToStoredPrecision());
        }
        if (query.Results is { Count: > 0 } results)
            where.Append(" AND outcome IN ").Append(SqlList.In(parameters, "result", results.Select(JobRunOutcomes.ToColumn).ToList()));
        if (query.FailedFinally is { } failedFinally)
        {
            where.Append(failedFinally ? " AND outcome = 'failed' AND retry_scheduled = @no" : " AND NOT (outcome = 'failed' AND retry_scheduled = @no)");
            parameters.Add("no", false);
        }

        var (rows, hasMore, total) = await PageAsync<RunRow>($"SELECT {RunColumns} FROM job_runs WHERE {where} ORDER BY started_at DESC, id DESC",
            $"SELECT COUNT(*) FROM job_runs WHERE {where}", parameters, query, cancellationToken);
        return new PagedResult<ExecutionHistoryEntry>(rows.Select(r => r.ToEntry()).ToList(), hasMore, total);
    }

    public async ValueTask<ExecutionHistoryEntry?> GetExecution(string schedulerName, string entryId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<RunRow>(new CommandDefinition(
            $"SELECT {RunColumns} FROM job_runs WHERE scheduler_name = @schedulerName AND entry_id = @entryId",
            new { schedulerName, entryId }, cancellationToken: cancellationToken));
        return row?.ToEntry();
    }

    public async ValueTask AddMisfire(MisfireHistoryEntry entry, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO job_misfires (scheduler_name, node, job_group, job_name, trigger_group, trigger_name, misfired_at, scheduled_fire_at, reason)
            VALUES (@schedulerName, @node, @jobGroup, @jobName, @triggerGroup, @triggerName, @misfiredAt, @scheduledFireAt, @reason)
            """, new
        {
            schedulerName = entry.SchedulerName,
            node = entry.SchedulerInstanceId,
            jobGroup = entry.JobKey?.Group ?? "",
            jobName = entry.JobKey?.Name ?? "",
            triggerGroup = entry.TriggerGroup,
            triggerName = entry.TriggerName,
            misfiredAt = entry.MisfiredAtUtc.ToStoredPrecision(),
            scheduledFireAt = entry.ScheduledFireTimeUtc?.ToStoredPrecision(),
            reason = entry.Reason.ToString().ToLowerInvariant(),
        }, cancellationToken: cancellationToken));
    }

    public async ValueTask<PagedResult<MisfireHistoryEntry>> QueryMisfires(MisfireHistoryQuery query, CancellationToken cancellationToken = default)
    {
        var parameters = new DynamicParameters();
        var where = new StringBuilder("1 = 1");
        Filter(where, parameters, "scheduler_name", "schedulerName", query.SchedulerName);
        Filter(where, parameters, "node", "node", query.SchedulerInstanceId);
        if (query.Job is { } job)
        {
            Filter(where, parameters, "job_group", "jobGroup", job.Group);
            Filter(where, parameters, "job_name", "jobName", job.Name);
        }
        if (query.Trigger is { } trigger)
        {
            Filter(where, parameters, "trigger_group", "triggerGroup", trigger.Group);
            Filter(where, parameters, "trigger_name", "triggerName", trigger.Name);
        }
        Contains(where, parameters, "trigger_group || '.' || trigger_name", "triggerContains", query.TriggerContains);
        if (query.Reasons is { Count: > 0 } reasons)
            where.Append(" AND reason IN ").Append(SqlList.In(parameters, "reason", reasons.Select(r => r.ToString().ToLowerInvariant()).ToList()));

        var (rows, hasMore, total) = await PageAsync<MisfireRow>($"SELECT {MisfireColumns} FROM job_misfires WHERE {where} ORDER BY misfired_at DESC, id DESC",
            $"SELECT COUNT(*) FROM job_misfires WHERE {where}", parameters, query, cancellationToken);
        return new PagedResult<MisfireHistoryEntry>(rows.Select(r => r.ToEntry()).ToList(), hasMore, total);
    }

    /// <summary>Only missed firings count; those the overlap policy skipped or a listener vetoed are kept beside them but are not misfires.</summary>
    public async ValueTask<int> CountMisfires(string schedulerName, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT COUNT(*) FROM job_misfires WHERE scheduler_name = @schedulerName AND misfired_at >= @since AND reason = 'missed'",
            new { schedulerName, since = since.ToStoredPrecision() }, cancellationToken: cancellationToken));
    }

    public async ValueTask<PagedResult<JobRunStatus>> QueryJobRunStatuses(JobRunStatusQuery query, CancellationToken cancellationToken = default)
    {
        var parameters = new DynamicParameters();
        var where = new StringBuilder("1 = 1");
        Filter(where, parameters, "scheduler_name", "schedulerName", query.SchedulerName);
        if (query.Jobs is { } jobs)
        {
            // (group, name) pairs; no jobs asked for means none match, as an empty IN would.
            var pairs = jobs.Select((key, i) =>
            {
                parameters.Add($"g{i}", key.Group);
                parameters.Add($"n{i}", key.Name);
                return $"(job_group = @g{i} AND job_name = @n{i})";
            }).ToList();
            where.Append(" AND (").Append(pairs.Count == 0 ? "1 = 0" : string.Join(" OR ", pairs)).Append(')');
        }
        if (query.Failing is { } failing) where.Append(failing ? " AND consecutive_failures > 0" : " AND consecutive_failures = 0");

        var (rows, hasMore, total) = await PageAsync<StatusRow>($"SELECT {StatusColumns} FROM job_status WHERE {where} ORDER BY job_group, job_name",
            $"SELECT COUNT(*) FROM job_status WHERE {where}", parameters, query, cancellationToken);
        return new PagedResult<JobRunStatus>(rows.Select(r => r.ToStatus()).ToList(), hasMore, total);
    }

    public async ValueTask<JobRunStatus?> GetJobRunStatus(string schedulerName, JobKey jobKey, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<StatusRow>(new CommandDefinition(
            $"SELECT {StatusColumns} FROM job_status WHERE scheduler_name = @schedulerName AND job_group = @jobGroup AND job_name = @jobName",
            new { schedulerName, jobGroup = jobKey.Group, jobName = jobKey.Name }, cancellationToken: cancellationToken));
        return row?.ToStatus();
    }

    /// <summary>The newest run's id, or 0: what <see cref="FindRunAfterAsync"/> waits past, whatever the nodes' clocks say.</summary>
    public async Task<long> LatestRunIdAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long?>(new CommandDefinition("SELECT MAX(id) FROM job_runs", cancellationToken: cancellationToken)) ?? 0;
    }

    /// <summary>The first run of <paramref name="job"/> recorded after run <paramref name="afterId"/>, manual runs only when asked.</summary>
    public async Task<ExecutionHistoryEntry?> FindRunAfterAsync(JobKey job, long afterId, bool manualOnly, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QueryFirstOrDefaultAsync<RunRow>(new CommandDefinition($"""
            SELECT {RunColumns} FROM job_runs
            WHERE id > @afterId AND job_group = @jobGroup AND job_name = @jobName {(manualOnly ? "AND manual = @manual" : "")}
            ORDER BY id
            LIMIT 1
            """, new { afterId, jobGroup = job.Group, jobName = job.Name, manual = true }, cancellationToken: cancellationToken));
        return row?.ToEntry();
    }

    private async Task<(IReadOnlyList<T> Rows, bool HasMore, int? Total)> PageAsync<T>(string select, string count, DynamicParameters parameters, PagedQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        // One row more than the page tells whether there is another page without counting them all.
        var take = Math.Max(0, query.Take);
        parameters.Add("limit", take == int.MaxValue ? int.MaxValue : take + 1);
        parameters.Add("offset", Math.Max(0, query.Skip));
        var rows = (await connection.QueryAsync<T>(new CommandDefinition($"{select} LIMIT @limit OFFSET @offset", parameters, cancellationToken: cancellationToken))).ToList();
        var hasMore = rows.Count > take;
        if (hasMore) rows.RemoveRange(take, rows.Count - take);
        int? total = query.IncludeTotalCount
            ? await connection.ExecuteScalarAsync<int>(new CommandDefinition(count, parameters, cancellationToken: cancellationToken))
            : null;
        return (rows, hasMore, total);
    }

    private static void Filter(StringBuilder where, DynamicParameters parameters, string column, string name, string? value)
    {
        if (value is null) return;
        where.Append($" AND {column} = @{name}");
        parameters.Add(name, value);
    }

    private static void Contains(StringBuilder where, DynamicParameters parameters, string expression, string name, string? value)
    {
        if (string.IsNullOrEmpty(value)) return;
        where.Append($" AND LOWER({expression}) LIKE @{name} ESCAPE '\\'");
        parameters.Add(name, "%" + value.ToLowerInvariant().Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%");
    }

    private sealed class RunRow
    {
        public long Id { get; init; }
        public string EntryId { get; init; } = "";
        public string SchedulerName { get; init; } = "";
        public string Node { get; init; } = "";
        public string JobGroup { get; init; } = "";
        public string JobName { get; init; } = "";
        public string TriggerGroup { get; init; } = "";
        public string TriggerName { get; init; } = "";
        public string? FireInstanceId { get; init; }
        public DateTimeOffset StartedAt { get; init; }
        public long DurationMs { get; init; }
        public string Outcome { get; init; } = "";
        public string? Error { get; init; }
        public string? Summary { get; init; }
        public string? MetricsJson { get; init; }
        public int RetryAttempt { get; init; }
        public bool RetryScheduled { get; init; }
        public bool Manual { get; init; }

        public ExecutionHistoryEntry ToEntry()
        {
            var result = JobRunOutcomes.FromColumn(Outcome);
            return new ExecutionHistoryEntry(SchedulerName, Node, JobGroup, JobName, TriggerGroup, TriggerName, StartedAt,
                TimeSpan.FromMilliseconds(DurationMs), result is JobRunResult.Succeeded or JobRunResult.Skipped, Error)
            {
                EntryId = EntryId,
                Result = result,
                Summary = Summary,
                MetricsJson = MetricsJson,
                RetryAttempt = RetryAttempt,
                RetryScheduled = RetryScheduled,
                Manual = Manual,
                FireInstanceId = FireInstanceId,
            };
        }
    }

    private sealed class StatusRow
    {
        public string SchedulerName { get; init; } = "";
        public string JobGroup { get; init; } = "";
        public string JobName { get; init; } = "";
        public DateTimeOffset FirstFiredAt { get; init; }
        public DateTimeOffset LastFiredAt { get; init; }
        public string LastOutcome { get; init; } = "";
        public long LastDurationMs { get; init; }
        public string LastNode { get; init; } = "";
        public string LastEntryId { get; init; } = "";
        public string? LastSummary { get; init; }
        public DateTimeOffset? LastSucceededAt { get; init; }
        public DateTimeOffset? LastFailedAt { get; init; }
        public string? LastFailureMessage { get; init; }
        public int ConsecutiveFailures { get; init; }
        public long RunCount { get; init; }
        public long FailureCount { get; init; }

        public JobRunStatus ToStatus() => new(SchedulerName, new JobKey(JobName, JobGroup), LastFiredAt, JobRunOutcomes.FromColumn(LastOutcome))
        {
            FirstFiredAtUtc = FirstFiredAt,
            LastDuration = TimeSpan.FromMilliseconds(LastDurationMs),
            LastSchedulerInstanceId = LastNode,
            LastEntryId = LastEntryId,
            LastSummary = LastSummary,
            LastSucceededAtUtc = LastSucceededAt,
            LastFailedAtUtc = LastFailedAt,
            LastFailureMessage = LastFailureMessage,
            ConsecutiveFailures = ConsecutiveFailures,
            RunCount = RunCount,
            FailureCount = FailureCount,
        };
    }

    private sealed class MisfireRow
    {
        public string SchedulerName { get; init; } = "";
        public string Node { get; init; } = "";
        public string JobGroup { get; init; } = "";
        public string JobName { get; init; } = "";
        public string TriggerGroup { get; init; } = "";
        public string TriggerName { get; init; } = "";
        public DateTimeOffset MisfiredAt { get; init; }
        public DateTimeOffset? ScheduledFireAt { get; init; }
        public string Reason { get; init; } = "";

        public MisfireHistoryEntry ToEntry() => new(SchedulerName, Node, TriggerGroup, TriggerName, new JobKey(JobName, JobGroup), MisfiredAt, ScheduledFireAt)
        {
            Reason = Enum.TryParse<MisfireReason>(Reason, ignoreCase: true, out var reason) ? reason : MisfireReason.Missed,
        };
    }
}

/// <summary>
/// The spelling of a run's outcome in <c>job_runs.outcome</c> and <c>job_status.last_outcome</c>: <c>succeeded</c>,
/// <c>failed</c>, <c>partly-failed</c>, <c>skipped</c>, <c>cancelled</c>.
/// </summary>
public static class JobRunOutcomes
{
    /// <summary>
    /// The run did its work but left part of it undone (a feed scope not built, deliveries that failed). Outside
    /// Quartz's enum, far from its members so an appended one cannot collide; see <see cref="JobRunReports"/>.
    /// </summary>
    public const JobRunResult PartlyFailed = (JobRunResult)64;

    /// <summary>The outcome's name for metric labels and reports: the enum member's, or <c>PartlyFailed</c>.</summary>
    public static string Name(JobRunResult result) => result == PartlyFailed ? nameof(PartlyFailed) : result.ToString();

    /// <summary>Whether the run left work failed, wholly or in part.</summary>
    public static bool IsFailure(JobRunResult result) => result is JobRunResult.Failed or PartlyFailed;

    public static string ToColumn(JobRunResult result) => result switch
    {
        PartlyFailed => "partly-failed",
        JobRunResult.Succeeded => "succeeded",
        JobRunResult.Failed => "failed",
        JobRunResult.Skipped => "skipped",
        JobRunResult.Cancelled => "cancelled",
        // A result a later Quartz adds is still recorded rather than lost with the run's row.
        _ => result.ToString().ToLowerInvariant(),
    };

    public static JobRunResult FromColumn(string value) => value switch
    {
        "succeeded" => JobRunResult.Succeeded,
        "failed" => JobRunResult.Failed,
        "partly-failed" => PartlyFailed,
        "skipped" => JobRunResult.Skipped,
        "cancelled" => JobRunResult.Cancelled,
        // Neither a success nor a failure, as Quartz treats a result it does not know.
        _ => Enum.TryParse<JobRunResult>(value, ignoreCase: true, out var known) ? known : JobRunResult.Cancelled,
    };
}
