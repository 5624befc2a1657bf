using System.Text;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Quartz;
using Quartz.Extensibility;
using Syndicator.Deliveries;
using Microsoft.Extensions.Options;
using Syndicator.Feeds;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Shared;

namespace Syndicator.Web;

/// <summary>
/// <c>/ready</c>: 200 while the service can do its work, 503 otherwise. Checked: the database answers (and holds the
/// schema), the Quartz scheduler runs and fires its triggers on time, and, when job history is recorded, every
/// enabled job has succeeded recently. Degraded (still 200, naming what and why): a feed scope that failed
/// <c>Feeds:DegradedAfterFailedBuilds</c> builds in a row, a channel whose every attempt in the last hour failed, and
/// an account still paused past its window. <c>/health</c> stays a bare liveness answer that needs nothing.
/// </summary>
public static class Readiness
{
    public const string Path = "/ready";
    public const string Tag = "ready";

    /// <summary>
    /// A job is overdue when it has not succeeded for three of its periods (at least ten minutes): one slow or failed
    /// run is normal, three in a row, or a scheduler that stopped firing it, is not.
    /// </summary>
    internal const int PeriodsBeforeOverdue = 3;
    internal static readonly TimeSpan MinimumWindow = TimeSpan.FromMinutes(10);

    public static void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        // RequireSuccessWithin reads the execution history; without a store Quartz refuses to start, so ask only when one is registered.
        var historyKept = services.Any(d => d.ServiceType == typeof(IExecutionHistoryStore));
        var required = historyKept ? RequiredJobs(JobCatalog.Registered(services), ConfigSections.ReadOrDefault<ScheduleOptions>(configuration, ScheduleOptions.Section), DateTimeOffset.UtcNow) : [];

        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: [Tag])
            .AddCheck<FeedBuildsHealthCheck>("feeds", tags: [Tag])
            .AddCheck<DeliveriesHealthCheck>("deliveries", tags: [Tag])
            .AddQuartz(o =>
            {
                o.Tags.Add(Tag);
                // Standby and "not started yet" are Degraded by default, which still answers 200; a scheduler that does not run is not ready.
                o.StandbyStatus = HealthStatus.Unhealthy;
                // The silent stall: a trigger overdue by 3 misfire thresholds is Degraded, by 6 Unhealthy, whatever else looks fine.
                o.StaleFiringTolerance = 3;
                foreach (var (key, within) in required) o.RequireSuccessWithin(key, within, HealthStatus.Unhealthy);
            });
    }

    /// <summary>
    /// Maps <c>/ready</c> by hand rather than with MapHealthChecks, which builds the health check service while the app
    /// is built: Quartz's check then resolves the job history and through it the database, so a bad Storage section
    /// would throw there instead of being reported with every other configuration problem.
    /// </summary>
    public static void Map(WebApplication app) =>
        app.MapMethods(Path, [HttpMethods.Get, HttpMethods.Head], async (HttpContext context, HealthCheckService health) =>
        {
            var report = await health.CheckHealthAsync(check => check.Tags.Contains(Tag), context.RequestAborted);
            // Degraded (e.g. a trigger running a little late) still serves; only Unhealthy takes the node out.
            context.Response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            await WriteAsync(context, report);
        });

    /// <summary>Each enabled job with how long it may go without a success.</summary>
    internal static IReadOnlyList<(JobKey Key, TimeSpan Within)> RequiredJobs(IEnumerable<ScheduledJob> jobs, ScheduleOptions schedules, DateTimeOffset now)
    {
        var required = new List<(JobKey, TimeSpan)>();
        foreach (var job in jobs)
        {
            var schedule = schedules.TryGetValue(job.Name, out var configured) ? configured : job.Default;
            if (!schedule.Enabled || Period(schedule, now) is not { } period) continue;
            var within = period * PeriodsBeforeOverdue;
            required.Add((job.Key, within < MinimumWindow ? MinimumWindow : within));
        }
        return required;
    }

    /// <summary>The time between two runs: the interval, or the gap between a cron expression's next two fire times.</summary>
    private static TimeSpan? Period(JobSchedule schedule, DateTimeOffset now)
    {
        if (schedule.Cron is null) return schedule.IntervalSeconds is { } s and > 0 ? TimeSpan.FromSeconds(s) : null;
        try
        {
            var cron = new CronExpression(schedule.Cron, TimeZoneLookup.Find(schedule.TimeZone) ?? TimeZoneInfo.Utc);
            if (cron.GetNextValidTimeAfter(now) is not { } first || cron.GetNextValidTimeAfter(first) is not { } second) return null;
            return second - first;
        }
        catch (FormatException)
        {
            return null; // the schedule validator reports it, with its key
        }
    }

    /// <summary>Plain text a person can read in a terminal: the verdict, then one line per check with its reason.</summary>
    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var text = new StringBuilder().Append(report.Status).Append('\n');
        foreach (var (name, entry) in report.Entries.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Append(name).Append(": ").Append(entry.Status);
            if (!string.IsNullOrWhiteSpace(entry.Description)) text.Append(" - ").Append(entry.Description.ReplaceLineEndings(" "));
            text.Append('\n');
        }
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(text.ToString());
    }
}

/// <summary>The database answers a query on Syndicator's own schema within a few seconds.</summary>
internal sealed class DatabaseHealthCheck(Database database, ILogger<DatabaseHealthCheck> logger) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await using var connection = await database.OpenAsync(timeout.Token);
            // A table rather than SELECT 1: SQLite "opens" a missing file by creating an empty one, which is not our database.
            await connection.ExecuteScalarAsync<long?>(new CommandDefinition("SELECT id FROM deliveries LIMIT 1", cancellationToken: timeout.Token));
            return HealthCheckResult.Healthy($"{database.Provider} answers");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The reply is unauthenticated: it names the kind of failure; the log has the details.
            logger.LogWarning(e, "Readiness: the database does not answer");
            var what = e is OperationCanceledException ? $"no answer within {Timeout.TotalSeconds:0} s" : e.GetType().Name;
            return HealthCheckResult.Unhealthy($"{database.Provider} does not answer ({what}); see the service log");
        }
    }
}

/// <summary>Degraded while a feed scope has failed to build, or left articles out, <c>Feeds:DegradedAfterFailedBuilds</c> builds in a row.</summary>
internal sealed class FeedBuildsHealthCheck(FeedStore feeds, IOptions<FeedOptions> options, ILogger<FeedBuildsHealthCheck> logger) : IHealthCheck
{
    /// <summary>How many scopes, and articles per scope, the reply names; the dashboard and the history have the rest.</summary>
    private const int Named = 5;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var threshold = options.Value.DegradedAfterFailedBuilds;
        IReadOnlyList<FailingScope> failing;
        try
        {
            failing = await feeds.FailingScopesAsync(threshold, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Readiness: the feed build failures could not be read");
            return HealthCheckResult.Degraded($"feed build failures could not be read ({e.GetType().Name}); see the database check and the service log");
        }
        if (failing.Count == 0) return HealthCheckResult.Healthy($"no feed has failed {threshold} builds in a row");
        var named = failing.Take(Named).Select(f =>
        {
            var what = $"{f.Scope} failed {f.ConsecutiveFailures} builds in a row since {Shared.IsoTime.Utc(f.FirstFailedAt)}: {f.LastError}";
            if (f.LeftOut.Count > 0) what += " (" + string.Join(", ", f.LeftOut.Take(Named)) + (f.LeftOut.Count > Named ? $", and {f.LeftOut.Count - Named} more" : "") + ")";
            return what;
        });
        return HealthCheckResult.Degraded(string.Join("; ", named) + (failing.Count > Named ? $"; and {failing.Count - Named} more feeds" : "") +
            ". Fix the articles named and import them again.");
    }
}

/// <summary>
/// Degraded while a channel is stuck (every attempt of the last hour failed or waits for a retry, none was sent) or an
/// account is still paused a while after its pause should have ended.
/// </summary>
/// <remarks>
/// The reply is unauthenticated: it names the channel and account and counts, not the services' error texts, which
/// <c>syndicator status</c> and the dashboard show.
/// </remarks>
internal sealed class DeliveriesHealthCheck(DeliveryStore deliveries, TimeProvider time, ILogger<DeliveriesHealthCheck> logger) : IHealthCheck
{
    internal static readonly TimeSpan StuckWindow = TimeSpan.FromHours(1);

    /// <summary>A pause ends when the channel's next run sees it has; this long past its end it has not been.</summary>
    internal static readonly TimeSpan PauseGrace = TimeSpan.FromMinutes(10);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var problems = new List<string>();
        try
        {
            foreach (var c in await deliveries.StuckChannelsAsync(now - StuckWindow, cancellationToken))
                problems.Add($"{c.Channel} is stuck: all {c.Failed + c.Retrying} attempts in the last hour failed ({c.Failed} for good, {c.Retrying} waiting to retry), none was sent");
            foreach (var p in await deliveries.OverduePausesAsync(now - PauseGrace, cancellationToken))
                problems.Add($"{p.Channel} account {p.Recipient} is still paused {(now - p.PausedUntil).TotalMinutes:N0} min after its pause ended at {Shared.IsoTime.Utc(p.PausedUntil)}");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Readiness: the deliveries could not be read");
            return HealthCheckResult.Degraded($"deliveries could not be read ({e.GetType().Name}); see the database check and the service log");
        }
        return problems.Count == 0
            ? HealthCheckResult.Healthy("no channel stuck, no pause overdue")
            : HealthCheckResult.Degraded(string.Join("; ", problems) + ". See syndicator status or the dashboard for the errors.");
    }
}
