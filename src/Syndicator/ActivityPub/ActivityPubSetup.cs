using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Scheduling;
using Syndicator.Shared;

namespace Syndicator.ActivityPub;

public static class ActivityPubSetup
{
    /// <summary>
    /// ActivityPub's services. The stores, documents, channel and job are always there (the CLI lists followers of a
    /// configuration that was switched off, and every job is known to status and configuration); the endpoints and
    /// the planning of deliveries only when ActivityPub:Enabled is true, and the job then skips its runs.
    /// </summary>
    public static IServiceCollection AddActivityPub(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IValidateOptions<ActivityPubOptions>, ActivityPubOptionsValidator>();
        services.AddSingleton<LocalActors>();
        services.AddSingleton<ActorKeys>();
        services.AddSingleton<FollowerStore>();
        services.AddSingleton<InboxHealth>();
        services.AddSingleton<HostGate>();
        services.AddSingleton<ActivityPubStatus>();
        services.AddSingleton<ActivityDocuments>();
        services.AddSingleton<ArticleRounds>();
        services.AddSingleton<ActivityPubPlanner>();
        services.AddSingleton<RemoteActors>();
        services.AddSingleton<ConnectGuard>();
        services.AddTransient<Inbox>();
        services.AddTransient<ActivityPubChannel>();
        services.AddHttpClient(RemoteActors.HttpClientName, c =>
            {
                c.Timeout = TimeSpan.FromSeconds(20);
                c.DefaultRequestHeaders.UserAgent.ParseAdd("Syndicator (ActivityPub)");
            })
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<ConnectGuard>().Handler());
        services.AddScheduledJob<ActivityPubJob>(JobCatalog.ActivityPub, new JobSchedule { IntervalSeconds = 30, Misfire = MisfirePolicy.Skip });
        if (!ConfigSections.ReadOrDefault<ActivityPubOptions>(configuration, ActivityPubOptions.Section).Enabled) return services;

        services.AddSingleton<IArticleChangeHandler>(sp => sp.GetRequiredService<ActivityPubPlanner>());
        return services.AddRateLimiter(limiter => limiter.AddPolicy<string, ActivityPubEndpoints.InboxRateLimit>(ActivityPubEndpoints.InboxPolicy));
    }

    /// <summary>Maps the endpoints when enabled. Needs the rate limiter middleware, which the web set-up adds once for every capability.</summary>
    public static void MapActivityPub(this WebApplication app)
    {
        // Read as registration reads it, not through the validated options: a bad setting is then reported with every
        // other problem by the start-up check instead of failing the build of the app.
        if (ConfigSections.ReadOrDefault<ActivityPubOptions>(app.Configuration, ActivityPubOptions.Section).Enabled) ActivityPubEndpoints.Map(app);
    }
}
