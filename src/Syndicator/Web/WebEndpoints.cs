using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Syndicator.Articles;
using Syndicator.Shared;

namespace Syndicator.Web;

/// <summary>The HTTP side: the server's address and the endpoints each capability exposes.</summary>
public static class WebEndpoints
{
    private const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public static void AddServer(WebApplicationBuilder builder)
    {
        // No Server header: it tells a stranger what to attack and costs bytes on every response.
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
        // ASP.NET Core opens a logging scope and an Activity for every request whenever its hosting category logs at any
        // level, though it writes only Information lines (hidden by default) and nothing here prints scopes: measured,
        // that was a fifth of the CPU of a feed 304. Off unless the configuration names the category (to see those lines);
        // an OpenTelemetry exporter still gets its spans, which it asks for itself.
        if (builder.Configuration["Logging:LogLevel:" + HostingDiagnostics] is null) builder.Logging.AddFilter(HostingDiagnostics, LogLevel.None);
        builder.Services.AddRoutingCore();
        var http = ConfigSections.ReadOrDefault<HttpOptions>(builder.Configuration, HttpOptions.Section);
        builder.WebHost.UseUrls([.. http.ReaderUrlList, .. http.OperatorUrlList]);
        FeedFileSendFile.Configure(builder.Services, http);
        HostAllowList.AddServices(builder.Services);
        Digests.SubscriptionEndpoints.AddServices(builder.Services);
        Dashboard.AddServices(builder.Services);
        builder.Services.AddTransient<Articles.Intake.IArticleChannelStatus, ArticleChannelStatus>();
        Readiness.AddServices(builder.Services, builder.Configuration);
        SyndicatorMetrics.AddServices(builder.Services);
        builder.Services.AddSingleton<FeedFileEndpoint>();
    }

    public static void Map(WebApplication app)
    {
        // First, so a request for a host we do not serve (DNS rebinding) reaches nothing.
        app.UseHostFiltering();
        SecurityHeaders.Use(app);
        OperatorPaths.Use(app);
        FeedFileEndpoint.Use(app);
        app.UseRouting();
        app.MapGet("/health", () => Results.Text("alive\n"));
        // The address printed at start-up is the first thing a new publisher opens: it leads to the desk, not a blank 404.
        // An operators' path like any other, so off this machine it wants the dashboard's credentials first.
        app.MapGet("/", () => Results.Redirect(Dashboard.Path));
        Readiness.Map(app);
        SyndicatorMetrics.Map(app);
        Dashboard.Map(app);
        app.MapGet("/articles", async (ArticleStore store, CancellationToken cancellationToken) =>
            Results.Json((await store.ListAsync(100, cancellationToken)).Where(a => !a.Unpublished).Select(a => new { a.Id, a.Slug, a.Title, Author = a.Author.Name, a.PublishedAt })));
        Digests.SubscriptionEndpoints.Map(app);
        Articles.Intake.IntakeSetup.Map(app);
        Digests.Feedback.RelayWebhooks.Map(app);
        ActivityPub.ActivityPubSetup.MapActivityPub(app);
    }
}
