using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Quartz;
using Quartz.Extensibility;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Scheduling;

/// <summary>
/// Quartz's own health check with <c>RequireSuccessWithin</c>, answered by our database history. A host of its own
/// (one scheduler allows one Quartz check, and the app's belongs to /ready), wired as SchedulingSetup wires the app's.
/// </summary>
public sealed class HealthCheckHistoryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly JobKey Flaky = new("flaky", "health-test");
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2);

    /// <summary>Fails while <see cref="Failing"/> is set, reporting a success otherwise.</summary>
    private sealed class FlakyJob(Switch behaviour) : IJob
    {
        public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
        {
            if (behaviour.Failing) throw new InvalidOperationException("the flaky job is failing on purpose");
            context.Result = JobRunReport.Succeeded("fine again");
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Switch
    {
        public volatile bool Failing = true;
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(HistoryTestSupport.Providers), MemberType = typeof(HistoryTestSupport))]
    public async Task RequireSuccessWithin_turns_unhealthy_while_a_job_fails_and_healthy_once_it_succeeds(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await new SchemaMigrator(store.Database, NullLogger<SchemaMigrator>.Instance).MigrateAsync(Ct);
        var behaviour = new Switch();

        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(store.Database);
        builder.Services.AddSingleton(behaviour);
        builder.Services.AddSingleton<DatabaseExecutionHistoryStore>();
        builder.Services.AddSingleton<IExecutionHistoryStore>(sp => sp.GetRequiredService<DatabaseExecutionHistoryStore>());
        builder.Services.AddQuartzExecutionHistory();
        builder.Services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s => s.InstanceName = "health-test");
            q.UseDefaultRetryPolicy(RetryPolicy.None);
            q.ScheduleJob<FlakyJob>(t => t.WithIdentity("flaky", "health-test").StartNow().WithSimpleSchedule(TimeSpan.FromMilliseconds(300)),
                j => j.WithIdentity(Flaky));
        });
        builder.Services.AddQuartzHostedService();
        builder.Services.AddHealthChecks().AddQuartz(o => o.RequireSuccessWithin(Flaky, Window, HealthStatus.Unhealthy));
        using var host = builder.Build();
        await host.StartAsync(Ct);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var history = host.Services.GetRequiredService<DatabaseExecutionHistoryStore>();

        // A job that never succeeded is timed from the check's first evaluation of a running scheduler (before that it only says "not started").
        var scheduler = await host.Services.GetRequiredService<ISchedulerFactory>().GetScheduler(Ct);
        await WaitAsync(() => Task.FromResult(scheduler.Status == SchedulerStatus.Running));
        await health.CheckHealthAsync(Ct);
        var firstEvaluation = System.Diagnostics.Stopwatch.StartNew();
        await WaitAsync(async () => (await history.GetJobRunStatus("health-test", Flaky, Ct))?.ConsecutiveFailures >= 2);
        if (firstEvaluation.Elapsed < Window + TimeSpan.FromSeconds(0.5)) await Task.Delay(Window + TimeSpan.FromSeconds(0.5) - firstEvaluation.Elapsed, Ct);
        var failing = await health.CheckHealthAsync(Ct);
        Assert.True(failing.Status == HealthStatus.Unhealthy, Describe(failing));
        Assert.Contains("health-test.flaky", Describe(failing));

        behaviour.Failing = false;
        await WaitAsync(async () => (await history.GetJobRunStatus("health-test", Flaky, Ct))?.LastSucceededAtUtc is not null);
        var recovered = await health.CheckHealthAsync(Ct);
        Assert.True(recovered.Status == HealthStatus.Healthy, Describe(recovered));
        await host.StopAsync(Ct);
    }

    private static string Describe(HealthReport report) =>
        string.Join(Environment.NewLine, report.Entries.Select(e => $"{e.Key}: {e.Value.Status} {e.Value.Description} {string.Join(", ", e.Value.Data.Select(d => $"{d.Key}={d.Value}"))}"));

    private static async Task WaitAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await condition()) return;
            await Task.Delay(50, Ct);
        }
        Assert.Fail("The history never got there in 10 s.");
    }
}
