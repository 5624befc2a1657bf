using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Syndicator.Scheduling;

namespace Syndicator.Articles.Intake;

public static class IntakeSetup
{
    /// <summary>API keys, the article API, Ghost's webhooks, the pull sources and their job, and the OpenAPI description.</summary>
    public static IServiceCollection AddIntake(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<IntakeOptions>, IntakeOptionsValidator>();
        services.AddSingleton<ApiKeys>();
        services.AddSingleton<ArticleIntake>();
        services.AddSingleton<ArticleApi>();
        services.AddSingleton<GhostWebhook>();
        services.AddSingleton<SourcePuller>();
        services.AddHttpClient(SourcePuller.HttpClientName, c => c.DefaultRequestHeaders.UserAgent.ParseAdd("Syndicator/1.0 (+article intake)"));
        // The description covers what a CMS calls, not the dashboard's or the readers' pages.
        services.AddOpenApi(o => o.ShouldInclude = d => d.RelativePath is { } path
            && (path.StartsWith(ArticleApi.Path.TrimStart('/'), StringComparison.Ordinal) || path == GhostWebhook.Path.TrimStart('/')));
        return services.AddScheduledJob<IntakePullJob>(JobCatalog.IntakePull, new JobSchedule { IntervalSeconds = 60, Misfire = MisfirePolicy.Skip });
    }

    /// <summary>The endpoints: <c>/api/articles</c>, <c>/webhooks/ghost</c>, and the OpenAPI description at <c>/openapi/v1.json</c>.</summary>
    public static void Map(WebApplication app)
    {
        ArticleApi.Map(app);
        GhostWebhook.Map(app);
        app.MapOpenApi();
    }
}
