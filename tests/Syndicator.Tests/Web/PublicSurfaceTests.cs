using System.Net;
using System.Text.Json;
using Syndicator.Scheduling;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Web;

/// <summary>What every endpoint answers whoever asks: security headers on every page, and nothing for a Host we do not serve.</summary>
public sealed class PublicSurfaceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Every path the app maps (Web and Digests), readers' and operators'.</summary>
    public static TheoryData<string> Paths() =>
    [
        "/subscribe", "/subscribe/confirm?token=x", "/unsubscribe?token=x", "/preferences?token=x", "/feeds/rss.xml", "/feeds/missing.xml",
        "/", "/status", "/status/digests", "/health", "/ready", "/metrics", "/articles", "/webhooks/ses", "/webhooks/mailgun", "/webhooks/postmark", "/no-such-page",
    ];

    [Theory(Timeout = TestTimeouts.Default)]
    [MemberData(nameof(Paths))]
    public async Task Every_page_forbids_framing_script_sniffing_and_referrers(string path)
    {
        await using var server = await StatusServer.StartAsync(Ct);

        using var response = await server.Http.GetAsync(path, Ct);

        var headers = response.Headers;
        Assert.Equal("DENY", headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", headers.GetValues("Referrer-Policy").Single());
        var policy = headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-ancestors 'none'", policy);
        Assert.Contains("default-src 'none'", policy);
        // The sign-up page's one script (it preselects the browser's time zone) is allowed by its hash, nothing else.
        if (path == "/subscribe") Assert.Matches("; script-src 'sha256-[A-Za-z0-9+/]+={0,2}'$", policy);
        else Assert.DoesNotContain("script-src", policy);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("/status")]
    [InlineData("/subscribe")]
    [InlineData("/health")]
    [InlineData("/feeds/rss.xml")]
    public async Task A_request_for_a_foreign_host_gets_400_on_every_endpoint(string path)
    {
        await using var server = await StatusServer.StartAsync(Ct);
        foreach (var host in new[] { "evil.example", $"evil.example:{server.Address.Port}", "127.0.0.1.evil.example", "magazine.example.evil.example" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = host;
            using var response = await server.Http.SendAsync(request, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"Host: {host} got {(int)response.StatusCode}");
            Assert.DoesNotContain("Status", await response.Content.ReadAsStringAsync(Ct));
        }
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("magazine.example")]
    [InlineData("syndicator.magazine.example")]
    [InlineData("proxy.internal")]
    public async Task The_listening_addresses_the_public_hosts_and_the_configured_extras_are_served(string host)
    {
        await using var server = await StatusServer.StartAsync(Ct, new()
        {
            ["Site:BaseUrl"] = "https://magazine.example",
            ["Digests:PublicUrl"] = "https://syndicator.magazine.example",
            ["Http:AllowedHosts:0"] = "proxy.internal",
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/status");
        request.Headers.Host = $"{host}:{server.Address.Port}";

        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_dashboard_and_the_status_command_show_the_same_jobs_from_one_computation()
    {
        await using var server = await StatusServer.StartAsync(Ct);
        var jobs = await server.Get<StatusReader>().JobsAsync(Ct);
        var (_, page) = await server.GetTextAsync("/status/operations");

        foreach (var job in jobs)
        {
            var row = page[page.IndexOf($"data-job=\"{job.Name}\"", StringComparison.Ordinal)..];
            row = row[..row.IndexOf("</tr>", StringComparison.Ordinal)];
            Assert.Contains($"data-next=\"{job.NextFireAt?.ToUniversalTime():O}\"", row);
            Assert.Contains(WebUtility.HtmlEncode(job.Schedule), row);
        }
        var snapshot = await server.Get<StatusReader>().ReadAsync(10, Ct);
        Assert.Equal(JsonSerializer.Serialize(jobs.Select(j => new { j.Name, j.NextFireAt, j.Schedule })), JsonSerializer.Serialize(snapshot.Jobs.Select(j => new { j.Name, j.NextFireAt, j.Schedule })));
    }
}
