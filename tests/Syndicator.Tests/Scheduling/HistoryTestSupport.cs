using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Scheduling;

/// <summary>One row of <c>job_runs</c> as the tests read it straight from the table.</summary>
public sealed record StoredRun
{
    public long Id { get; init; }
    public string JobName { get; init; } = "";
    public string Node { get; init; } = "";
    public string Outcome { get; init; } = "";
    public string? Error { get; init; }
    public string? Summary { get; init; }
    public int RetryAttempt { get; init; }
    public bool RetryScheduled { get; init; }
    public bool Manual { get; init; }
    public long DurationMs { get; init; }
    public DateTimeOffset StartedAt { get; init; }
}

internal static class HistoryTestSupport
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    /// <summary>
    /// A real app with its scheduler running on a test store. Samples are off and every job but those named in
    /// <paramref name="settings"/> keeps its default schedule, so the interval jobs fire once at start.
    /// </summary>
    public static async Task<TestApp> StartAsync(StorageProvider provider, Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Http:Urls"] = "http://127.0.0.1:0",
            ["Import:SamplesPath"] = "",
        };
        foreach (var (key, value) in settings ?? []) all[key] = value;
        var app = await TestApp.CreateAsync(provider, all, services);
        await app.App.StartAsync(Ct);
        var scheduler = await app.Get<ISchedulerFactory>().GetScheduler(Ct);
        // The hosted service starts the scheduler once the application has started, just after StartAsync returns.
        for (var i = 0; i < 100 && scheduler.Status != SchedulerStatus.Running; i++) await Task.Delay(50, Ct);
        Assert.Equal(SchedulerStatus.Running, scheduler.Status);
        return app;
    }

    public static async Task<IReadOnlyList<StoredRun>> RunsAsync(Database database, string? job = null)
    {
        await using var connection = await database.OpenAsync(Ct);
        var rows = await connection.QueryAsync<StoredRun>("""
            SELECT id AS Id, job_name AS JobName, node AS Node, outcome AS Outcome, error AS Error, summary AS Summary, retry_attempt AS RetryAttempt,
                   retry_scheduled AS RetryScheduled, manual AS Manual, duration_ms AS DurationMs, started_at AS StartedAt
            FROM job_runs WHERE (@job IS NULL OR job_name = @job) ORDER BY id
            """, new { job });
        return rows.ToList();
    }

    /// <summary>Polls the history until <paramref name="done"/> holds for one job's rows; fails with what it saw after <paramref name="seconds"/>.</summary>
    public static async Task<IReadOnlyList<StoredRun>> WaitForRunsAsync(Database database, string job, Func<IReadOnlyList<StoredRun>, bool> done, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        IReadOnlyList<StoredRun> runs = [];
        while (DateTime.UtcNow < deadline)
        {
            runs = await RunsAsync(database, job);
            if (done(runs)) return runs;
            await Task.Delay(100, Ct);
        }
        Assert.Fail($"The history of {job} never got there in {seconds} s. It has:{Environment.NewLine}{string.Join(Environment.NewLine, runs)}");
        return runs;
    }
}
