using Microsoft.Extensions.DependencyInjection;
using Syndicator.Deliveries;
using Syndicator.Scheduling;

namespace Syndicator.Digests;

public static class DigestsSetup
{
    /// <summary>Subscribers, digest planning and composing, e-mail as a delivery channel, and the digest and sending jobs.</summary>
    public static IServiceCollection AddDigests(this IServiceCollection services)
    {
        services.AddSingleton<SubscriberStore>();
        services.AddSingleton<SubscriberTokens>();
        services.AddSingleton<Subscriptions>();
        services.AddSingleton<FollowCatalog>();
        services.AddSingleton<DigestComposer>();
        services.AddSingleton<DigestPlanner>();
        services.AddSingleton<PickupFolder>();
        services.AddSingleton<EmailChannel>();
        services.AddSingleton<DigestNamer>();
        services.AddSingleton<IDeliveryNamer>(sp => sp.GetRequiredService<DigestNamer>());
        services.AddHostedService<ClusterEmailSender>();

        // Mail feedback (bounces, complaints, mailed unsubscribes) and the suppression list
        services.AddSingleton<SuppressionList>();
        services.AddSingleton<DigestPreview>();
        services.AddSingleton<DigestTestSend>();
        services.AddSingleton<DigestReports>();
        services.AddSingleton<Feedback.FeedbackClassifier>();
        services.AddSingleton<Feedback.FeedbackRecorder>();
        services.AddSingleton<Feedback.FeedbackMailbox>();
        services.AddHostedService<Feedback.FeedbackMailboxService>();
        Feedback.RelayWebhooks.AddServices(services);
        services.AddScheduledJob<DailyDigestJob>(JobCatalog.DailyDigest, new JobSchedule { Cron = "0 0 7 * * ?", TimeZone = "UTC", Misfire = MisfirePolicy.FireNow });
        services.AddScheduledJob<WeeklyDigestJob>(JobCatalog.WeeklyDigest, new JobSchedule { Cron = "0 0 7 ? * MON", TimeZone = "UTC", Misfire = MisfirePolicy.FireNow });
        return services.AddScheduledJob<EmailSendJob>(JobCatalog.EmailSend, new JobSchedule { IntervalSeconds = 60, Misfire = MisfirePolicy.Skip });
    }
}
