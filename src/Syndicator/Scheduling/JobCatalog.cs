using Quartz;
using Syndicator.Articles.Import;
using Syndicator.Feeds;

namespace Syndicator.Scheduling;

/// <summary>A job Syndicator schedules: its name under the <c>Jobs</c> section, its class, and the schedule used when the section leaves it out.</summary>
public sealed record ScheduledJob(string Name, Type JobType, JobSchedule Default)
{
    public JobKey Key => new(Name, JobCatalog.Group);
}

public static class JobCatalog
{
    public const string Group = "syndicator";
    public const string DropFolderImport = "DropFolderImport";
    public const string FeedBuild = "FeedBuild";
    public const string WebSubPing = "WebSubPing";
    public const string Announcements = "Announcements";
    public const string DailyDigest = "DailyDigest";
    public const string WeeklyDigest = "WeeklyDigest";
    public const string EmailSend = "EmailSend";
    public const string Retention = "Retention";

    public static readonly IReadOnlyList<ScheduledJob> All =
    [
        new(DropFolderImport, typeof(DropFolderImportJob), new JobSchedule { IntervalSeconds = 15, Misfire = MisfirePolicy.Skip }),
        new(FeedBuild, typeof(FeedBuildJob), new JobSchedule { IntervalSeconds = 300, Misfire = MisfirePolicy.Skip }),
        new(WebSubPing, typeof(Feeds.WebSub.WebSubPingJob), new JobSchedule { IntervalSeconds = 60, Misfire = MisfirePolicy.Skip }),
        new(Announcements, typeof(Announcements.AnnouncementJob), new JobSchedule { IntervalSeconds = 60, Misfire = MisfirePolicy.Skip }),
        new(DailyDigest, typeof(Digests.DailyDigestJob), new JobSchedule { Cron = "0 0 7 * * ?", TimeZone = "UTC", Misfire = MisfirePolicy.FireNow }),
        new(WeeklyDigest, typeof(Digests.WeeklyDigestJob), new JobSchedule { Cron = "0 0 7 ? * MON", TimeZone = "UTC", Misfire = MisfirePolicy.FireNow }),
        new(EmailSend, typeof(Digests.EmailSendJob), new JobSchedule { IntervalSeconds = 60, Misfire = MisfirePolicy.Skip }),
        new(Retention, typeof(RetentionJob), new JobSchedule { Cron = "0 30 3 * * ?", TimeZone = "UTC", Misfire = MisfirePolicy.FireNow }),
    ];

    public static IEnumerable<string> Names => All.Select(j => j.Name);
}
