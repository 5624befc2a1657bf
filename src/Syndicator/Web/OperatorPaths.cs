using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Syndicator.Web;

/// <summary>
/// Keeps readers' paths and operators' paths apart. Readers' paths are the ones a reverse proxy passes to the internet
/// (<see cref="ReaderPrefixes"/>); every other path is an operator's (dashboard, /metrics, /ready, /health, /articles),
/// so a path added later is private until it is named here.
/// </summary>
/// <remarks>
/// With <c>Http:OperatorUrls</c> set, a request is told apart by the local port it arrived on (not by its Host header,
/// which the client writes): operators' paths answer 404 on the readers' ports and readers' paths 404 on the
/// operators'. Without it, everything shares <c>Http:Urls</c>, and the operators' paths other than /health (which says
/// only "alive") want the dashboard's credentials from a caller that is not on this machine.
/// </remarks>
public static class OperatorPaths
{
    internal static readonly PathString[] ReaderPrefixes =
        [FeedFileEndpoint.Prefix, "/subscribe", "/unsubscribe", "/preferences", .. ActivityPub.ActivityPubEndpoints.ReaderPrefixes.Select(p => new PathString(p))];

    public static void Use(WebApplication app)
    {
        // Read at the first request, not here: a bad Http section is reported with every other problem at start-up.
        var operatorPorts = new Lazy<HashSet<int>>(() =>
            app.Services.GetRequiredService<IOptions<HttpOptions>>().Value.OperatorUrlList.Select(HttpOptions.Port).OfType<int>().ToHashSet());
        // Not async: a reader's request (the feeds above all) passes straight on, with no state machine of its own.
        app.Use((context, next) =>
        {
            var path = context.Request.Path;
            if (operatorPorts.Value.Count > 0)
            {
                if (IsReaders(path) != operatorPorts.Value.Contains(context.Connection.LocalPort)) return next(context);
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            // /status has its own guard (Dashboard.Map); /health tells nothing but "alive", and container probes use it.
            if (IsReaders(path) || path.StartsWithSegments(Dashboard.Path) || path.StartsWithSegments("/health")
                || context.Connection.RemoteIpAddress is not { } remote || IPAddress.IsLoopback(remote))
                return next(context);
            return AdmittedAsync(context, next);
        });
    }

    private static async Task AdmittedAsync(HttpContext context, RequestDelegate next)
    {
        if (await context.RequestServices.GetRequiredService<DashboardAccess>().AdmitAsync(context)) await next(context);
    }

    public static bool IsReaders(PathString path)
    {
        foreach (var prefix in ReaderPrefixes)
            if (path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
