using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Syndicator.Tests.Hosting;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Web;

/// <summary>
/// Readers' and operators' paths on listeners of their own (Http:Urls and Http:OperatorUrls), over real HTTP to the
/// real executable; and, on one shared listener, the operators' paths closed to other machines without the dashboard key.
/// </summary>
public sealed class OperatorPathsTests
{
    private const string Key = "an-operator-key-long-enough-1234";
    private static readonly HttpClient Http = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(10) };

    private static readonly string[] OperatorsPaths = ["/status", "/metrics", "/ready", "/health", "/articles", "/METRICS", "/feeds/../status", "/feeds/%2E%2E/metrics", "/no-such-page"];

    [Fact(Timeout = 60_000)]
    public async Task Operators_paths_answer_only_on_the_operators_listener_and_readers_paths_only_on_the_readers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sandbox = new SyndicatorSandbox(ct);
        var operatorPort = FreePort();
        var operators = $"http://127.0.0.1:{operatorPort}";
        sandbox.Set("Http:OperatorUrls", operators);
        await using var service = sandbox.Start([]);
        await service.WaitForHttpAsync($"{operators}/health", TimeSpan.FromSeconds(30), ct);
        await service.WaitUntilAsync(() => service.Stderr.Contains("feed(s) rebuilt", StringComparison.Ordinal), "the feeds written", TimeSpan.FromSeconds(30), ct);

        foreach (var path in OperatorsPaths)
            Assert.True(await StatusAsync(sandbox.BaseUrl + path, ct) is HttpStatusCode.NotFound, $"{path} on the readers' listener");
        foreach (var path in new[] { "/status", "/metrics", "/ready", "/health", "/articles" })
            Assert.True(await StatusAsync(operators + path, ct) is HttpStatusCode.OK, $"{path} on the operators' listener");
        // The root leads to the desk on the operators' listener, and is nobody's page on the readers'.
        using (var root = await Http.GetAsync(operators + "/", ct))
        {
            Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
            Assert.Equal("/status", root.Headers.Location?.OriginalString);
        }
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(sandbox.BaseUrl + "/", ct));

        foreach (var path in new[] { "/subscribe", "/feeds/site/rss.xml" })
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(sandbox.BaseUrl + path, ct));
            Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(operators + path, ct));
        }
        // A Host header naming the operators' port does not open them on the readers' one.
        using var spoofed = new HttpRequestMessage(HttpMethod.Get, sandbox.BaseUrl + "/metrics");
        spoofed.Headers.Host = $"127.0.0.1:{operatorPort}";
        using (var response = await Http.SendAsync(spoofed, ct)) Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);

        // The container's HEALTHCHECK verb asks the operators' listener.
        var health = await sandbox.RunAsync("health");
        Assert.True(health.ExitCode == 0, health.ToString());
    }

    [Fact(Timeout = 60_000)]
    public async Task On_one_shared_listener_other_machines_need_the_dashboard_key_for_metrics_ready_and_articles()
    {
        var ct = TestContext.Current.CancellationToken;
        var address = NonLoopbackAddress();
        Assert.SkipWhen(address is null, "this machine has no non-loopback IPv4 address to call from");
        await using var sandbox = new SyndicatorSandbox(ct);
        var port = FreePort();
        sandbox.Set("Http:Urls", $"http://0.0.0.0:{port}");
        sandbox.Set("Http:AllowedHosts", new System.Text.Json.Nodes.JsonArray(address!.ToString()));
        sandbox.Set("Dashboard:ApiKey", "file:" + sandbox.File("dashboard.key", Key));
        await using var service = sandbox.Start([]);
        var outside = $"http://{address}:{port}";
        await service.WaitForHttpAsync($"{outside}/health", TimeSpan.FromSeconds(30), ct);

        foreach (var path in new[] { "/metrics", "/ready", "/articles", "/status" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(outside + path, ct));
            using var withKey = new HttpRequestMessage(HttpMethod.Get, outside + path);
            withKey.Headers.Add("X-Api-Key", Key);
            using var response = await Http.SendAsync(withKey, ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path} with the key: {(int)response.StatusCode}");
            // From this machine, as before: Prometheus or a probe beside the service needs no key.
            if (path != "/status") Assert.Equal(HttpStatusCode.OK, await StatusAsync($"http://127.0.0.1:{port}{path}", ct));
        }
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(outside + "/subscribe", ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task Operators_listener_on_the_readers_port_is_refused_at_start_naming_both_keys()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sandbox = new SyndicatorSandbox(ct);
        sandbox.Set("Http:OperatorUrls", $"http://localhost:{sandbox.Port};javascript:alert(1)");
        var result = await sandbox.RunAsync("config", "check");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"Http:OperatorUrls and Http:Urls both use port {sandbox.Port}", result.Flat);
        Assert.Contains("Http:OperatorUrls has", result.Flat);
        Assert.Contains("javascript:alert(1)", result.Flat);
    }

    private static async Task<HttpStatusCode> StatusAsync(string url, CancellationToken ct)
    {
        using var response = await Http.GetAsync(url, ct);
        return response.StatusCode;
    }

    private static IPAddress? NonLoopbackAddress() =>
        NetworkInterface.GetAllNetworkInterfaces().Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
