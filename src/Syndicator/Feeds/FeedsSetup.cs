using Microsoft.Extensions.DependencyInjection;
using Syndicator.Articles;
using Syndicator.Feeds.WebSub;
using Syndicator.Scheduling;

namespace Syndicator.Feeds;

public static class FeedsSetup
{
    /// <summary>Feed building (RSS, Atom, JSON Feed per scope), WebSub pings as a delivery channel, and their jobs.</summary>
    public static IServiceCollection AddFeeds(this IServiceCollection services)
    {
        services.AddSingleton<IArticleChangeHandler, FeedInvalidation>();
        services.AddSingleton<FeedLinks>();
        services.AddSingleton<FeedStore>();
        services.AddTransient<FeedBuilder>();
        services.AddHttpClient<WebSubClient>(c => c.Timeout = TimeSpan.FromSeconds(15));
        services.AddTransient<WebSubPings>();
        services.AddScheduledJob<FeedBuildJob>(JobCatalog.FeedBuild, new JobSchedule { IntervalSeconds = 300, Misfire = MisfirePolicy.Skip });
        return services.AddScheduledJob<WebSubPingJob>(JobCatalog.WebSubPing, new JobSchedule { IntervalSeconds = 60, Misfire = MisfirePolicy.Skip });
    }
}
