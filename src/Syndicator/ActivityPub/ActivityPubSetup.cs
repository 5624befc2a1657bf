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
    /// ActivityPub's services. The stores, documents and channel are always there (the CLI lists followers of a
    /// configuration that was switched off); the endpoints, the planning of deliveries and the job only when
    /// ActivityPub:Enabled is true.
    /// </summary>
    public static IServiceCollection AddActivityPub(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IValidateOptions<ActivityPubOptions>, ActivityPubOptionsValidator>();
        services.AddSingleton<LocalActors>();
        services.AddSingleton<ActorKeys>();
        services.AddSingleton<FollowerStore>();
        services.AddSingleton<ActivityDocuments>();
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
        if (!ConfigSections.ReadOrDefault<ActivityPubOptions>(configuration, ActivityPubOptions.Section).Enabled) return services;

        services.AddSingleton<IArticleChangeHandler>(sp => sp.GetRequiredService<ActivityPubPlanner>());
        services.AddRateLimiter(limiter => limiter.AddPolicy<string, ActivityPubEndpoints.InboxRateLimit>(ActivityPubEndpoints.InboxPolicy));
        return services.AddScheduledJob<ActivityPubJob>(JobCatalog.ActivityPub, new JobSchedule { IntervalSeconds = 30, Misfire = MisfirePolicy.Skip });
    }

    /// <summary>Maps the endpoints when enabled. Needs the rate limiter middleware, which the web set-up adds once for every capability.</summary>
    public static void MapActivityPub(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<ActivityPubOptions>>().Value.Enabled) ActivityPubEndpoints.Map(app);
    }
}
