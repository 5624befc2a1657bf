using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Quartz;
using Syndicator.Storage;
using Syndicator.Shared;

namespace Syndicator.Scheduling;

/// <summary>
/// Quartz on the same database as the articles, with its schema created by Quartz itself. Triggers come from the
/// <c>Jobs</c> section; restarting with a changed schedule replaces the stored trigger rather than adding a second one.
/// </summary>
public static class SchedulingSetup
{
    /// <summary>Quartz with the jobs the capabilities registered before it, job history and retention, status. Call it after them.</summary>
    public static void Add(IServiceCollection services, IConfiguration configuration, string contentRoot)
    {
        services.AddScheduledJob<RetentionJob>(JobCatalog.Retention, new JobSchedule { Cron = "0 30 3 * * ?", TimeZone = "UTC", Misfire = MisfirePolicy.FireNow });
        services.AddSingleton<JobCatalog>();
        services.AddSingleton<JobTrigger>();
        services.AddSingleton<HistoryRetention>();
        services.AddSingleton<StatusReader>();
        var storage = ConfigSections.ReadOrDefault<StorageOptions>(configuration, StorageOptions.Section);
        var schedules = ConfigSections.ReadOrDefault<ScheduleOptions>(configuration, ScheduleOptions.Section);
        var connectionString = TryResolve(storage, contentRoot);

        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = "syndicator";
                if (storage.Clustered) s.InstanceId = $"{Environment.MachineName}-{Environment.ProcessId}";
            });
            // A run that throws is tried again; a Jobs:NAME section's RetryAttempts/RetryDelaySeconds override this on its trigger.
            q.UseDefaultRetryPolicy(JobRetries.Default);
            if (connectionString is not null)
            {
                q.UsePersistentStore(store =>
                {
                    if (storage.Provider == StorageProvider.Sqlite) store.UseSqlite(connectionString);
                    else store.UsePostgres(connectionString);
                    store.ProvisionSchema();
                    store.ConfigureStore(o => o.TablePrefix = "qrtz_");
                    if (storage.Clustered && storage.Provider == StorageProvider.PostgreSql) store.UseClustering();
                });
            }

            foreach (var job in JobCatalog.Registered(services))
            {
                var schedule = schedules.TryGetValue(job.Name, out var configured) ? configured : job.Default;
                if (!schedule.Enabled) continue;
                var timeZone = TimeZoneLookup.Find(schedule.TimeZone) ?? TimeZoneInfo.Utc;
                q.AddJob(job.JobType, j => j.WithIdentity(job.Key).StoreDurably().RequestRecovery());
                q.AddTrigger(t =>
                {
                    t.ForJob(job.Key).WithIdentity(job.Name, JobCatalog.Group);
                    if (JobRetries.For(schedule) is { } retry) t.WithRetryPolicy(retry);
                    if (schedule.Cron is not null)
                        t.WithCronSchedule(schedule.Cron, c => c.InTimeZone(timeZone).WithMisfireInstruction(
                            schedule.Misfire == MisfirePolicy.Skip ? CronTriggerMisfireInstruction.DoNothing : CronTriggerMisfireInstruction.FireAndProceed));
                    else
                        t.WithSimpleSchedule(s => s.WithInterval(TimeSpan.FromSeconds(schedule.IntervalSeconds ?? 60)).RepeatForever().WithMisfireInstruction(
                            schedule.Misfire == MisfirePolicy.Skip ? SimpleTriggerMisfireInstruction.NextWithRemainingCount : SimpleTriggerMisfireInstruction.NowWithRemainingCount));
                });
            }
        });
        // A replaced trigger keeps its place in time, so a restart neither re-fires every job at once nor stacks triggers.
        services.Configure<QuartzOptions>(o => o.Scheduling.ScheduleTriggerRelativeToReplacedTrigger = true);
        services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        // History in our database, shared by a cluster. The store must be registered before AddQuartzExecutionHistory
        // (which only adds its in-memory store if none is), and that call is still needed: it installs the recorder,
        // without which nothing is recorded and nothing complains.
        services.AddSingleton<DatabaseExecutionHistoryStore>();
        services.AddSingleton<Quartz.Extensibility.IExecutionHistoryStore>(sp => sp.GetRequiredService<DatabaseExecutionHistoryStore>());
        services.AddQuartzExecutionHistory();
        services.AddHostedService<DisabledJobCleanup>();
    }

    /// <summary>Null when the storage settings are invalid: validation reports that, with the key, before anything starts.</summary>
    private static string? TryResolve(StorageOptions storage, string contentRoot)
    {
        try
        {
            return Database.FromOptions(storage, contentRoot).ConnectionString;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException or IOException or SqliteException)
        {
            return null;
        }
    }
}
