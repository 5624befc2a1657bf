using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Syndicator.Shared;
using Syndicator.Announcements.Bluesky;
using Syndicator.Announcements.Mastodon;
using Syndicator.Announcements.X;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Scheduling;

namespace Syndicator.Announcements;

public static class AnnouncementsSetup
{
    /// <summary>Announcements: planning per new article, one client and one delivery channel per network, and the job.</summary>
    public static IServiceCollection AddAnnouncements(this IServiceCollection services)
    {
        services.AddSingleton<AnnouncementPlanner>();
        services.AddSingleton<IArticleChangeHandler>(sp => sp.GetRequiredService<AnnouncementPlanner>());
        services.AddSingleton<PostComposer>();
        services.AddSingleton<IArticleReviewer, AnnouncementReview>();
        services.AddTransient<AnnouncementMedia>();
        services.AddHttpClient<ImageFetcher>(c => c.Timeout = TimeSpan.FromSeconds(130)) // the fetcher's own, shorter, limit applies first
            .ConfigurePrimaryHttpMessageHandler(sp => ImageFetcher.Handler(sp.GetRequiredService<IOptions<SiteOptions>>().Value.AllowLocalUrls));
        services.AddSingleton<IDeliveryNamer, ArticleNamer>();
        services.AddTransient<Announcer>();
        // The publisher's desk: one service per thing a person asks for, used by the CLI and the dashboard alike.
        services.AddTransient<AnnounceNow>();
        services.AddTransient<AnnounceAgain>();
        services.AddTransient<HoldAnnouncements>();
        services.AddTransient<MissedAnnouncements>();
        services.AddHttpClient<MastodonClient>(c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddHttpClient<XClient>(c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddSingleton<BlueskySessions>();
        services.AddHttpClient<BlueskyClient>(c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddTransient(sp => ActivatorUtilities.CreateInstance<AnnouncementChannel>(sp, sp.GetRequiredService<MastodonClient>()));
        services.AddTransient(sp => ActivatorUtilities.CreateInstance<AnnouncementChannel>(sp, sp.GetRequiredService<XClient>()));
        services.AddTransient(sp => ActivatorUtilities.CreateInstance<AnnouncementChannel>(sp, sp.GetRequiredService<BlueskyClient>()));
        return services.AddScheduledJob<AnnouncementJob>(JobCatalog.Announcements, new JobSchedule { IntervalSeconds = 60, Misfire = MisfirePolicy.Skip });
    }
}
