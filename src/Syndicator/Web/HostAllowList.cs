using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Syndicator.Digests;
using Syndicator.Feeds;
using Syndicator.Shared;

namespace Syndicator.Web;

/// <summary>
/// Which Host headers the server answers (ASP.NET Core's host filtering, on every endpoint): the public hosts the
/// configuration names, the hosts Http:Urls and Http:OperatorUrls listen on, the loopback names, and Http:AllowedHosts. A page on another
/// site that rebinds its own name to 127.0.0.1 (DNS rebinding) sends its own name as Host, so it gets 400 and cannot
/// read the dashboard or press its buttons.
/// </summary>
public static class HostAllowList
{
    private static readonly string[] Loopback = ["localhost", "127.0.0.1", "[::1]"];

    public static void AddServices(IServiceCollection services)
    {
        services.AddHostFiltering(_ => { });
        services.AddOptions<HostFilteringOptions>()
            .Configure<IOptions<SiteOptions>, IOptions<DigestOptions>, IOptions<FeedOptions>, IOptions<HttpOptions>>((filtering, site, digests, feeds, http) =>
            {
                filtering.AllowedHosts = Hosts(site.Value, digests.Value, feeds.Value, http.Value);
                // The reason stays in the log: a stranger learns nothing about which names would be answered.
                filtering.IncludeFailureMessage = false;
            });
    }

    internal static List<string> Hosts(SiteOptions site, DigestOptions digests, FeedOptions feeds, HttpOptions http)
    {
        var urls = new[] { site.BaseUrl, digests.PublicUrl, feeds.PublicUrl }
            .Concat(http.ReaderUrlList).Concat(http.OperatorUrlList);
        var hosts = new List<string>(Loopback);
        foreach (var url in urls)
        {
            // Kestrel's wildcards (*, +, 0.0.0.0, [::]) are addresses to listen on, never a Host a client sends.
            if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host is "0.0.0.0" or "[::]") continue;
            hosts.Add(uri.IdnHost.Contains(':') && !uri.IdnHost.StartsWith('[') ? $"[{uri.IdnHost}]" : uri.IdnHost);
        }
        hosts.AddRange(http.AllowedHosts.Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim()));
        return hosts.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }
}
