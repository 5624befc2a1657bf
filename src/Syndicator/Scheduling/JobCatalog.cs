using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace Syndicator.Scheduling;

/// <summary>A job Syndicator schedules: its name under the <c>Jobs</c> section, its class, and the schedule used when the section leaves it out.</summary>
public sealed record ScheduledJob(string Name, Type JobType, JobSchedule Default)
{
    public JobKey Key => new(Name, JobCatalog.Group);
}

/// <summary>
/// The jobs. Each capability registers its own (<see cref="AddScheduledJob{TJob}"/>, from its <c>Add...</c> method),
/// so scheduling knows jobs by name and never by the capability that runs them.
/// </summary>
public sealed class JobCatalog(IEnumerable<ScheduledJob> jobs)
{
    public const string Group = "syndicator";
    public const string DropFolderImport = "DropFolderImport";
    public const string IntakePull = "IntakePull";
    public const string FeedBuild = "FeedBuild";
    public const string WebSubPing = "WebSubPing";
    public const string Announcements = "Announcements";
    public const string DailyDigest = "DailyDigest";
    public const string WeeklyDigest = "WeeklyDigest";
    public const string EmailSend = "EmailSend";
    public const string ActivityPub = "ActivityPub";
    public const string Retention = "Retention";

    /// <summary>Every job's name, in the order status lists them (the CLI's help and the configuration check need them before any service exists).</summary>
    public static IReadOnlyList<string> Names => Order;

    private static readonly string[] Order = [DropFolderImport, IntakePull, FeedBuild, WebSubPing, Announcements, ActivityPub, DailyDigest, WeeklyDigest, EmailSend, Retention];

    public IReadOnlyList<ScheduledJob> All { get; } = Ordered(jobs);

    public ScheduledJob? Find(string name) => All.FirstOrDefault(j => string.Equals(j.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The jobs registered so far, while the services are still being composed (Quartz's set-up needs them then).</summary>
    public static IReadOnlyList<ScheduledJob> Registered(IServiceCollection services) =>
        Ordered(services.Where(d => d.ServiceType == typeof(ScheduledJob)).Select(d => (ScheduledJob)d.ImplementationInstance!));

    private static IReadOnlyList<ScheduledJob> Ordered(IEnumerable<ScheduledJob> jobs) =>
        jobs.OrderBy(j => Array.IndexOf(Order, j.Name) is var i and >= 0 ? i : int.MaxValue).ThenBy(j => j.Name, StringComparer.Ordinal).ToList();
}

public static class ScheduledJobs
{
    /// <summary>Registers a capability's job under <paramref name="name"/> with the schedule it runs on unless <c>Jobs:NAME</c> says otherwise.</summary>
    public static IServiceCollection AddScheduledJob<TJob>(this IServiceCollection services, string name, JobSchedule schedule) where TJob : IJob
    {
        if (!JobCatalog.Names.Contains(name)) throw new ArgumentException($"'{name}' is not in JobCatalog.Names; add it there so the configuration check and the CLI know it.", nameof(name));
        return services.AddSingleton(new ScheduledJob(name, typeof(TJob), schedule));
    }
}
