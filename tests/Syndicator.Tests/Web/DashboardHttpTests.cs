using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Configuration;
using Syndicator.Deliveries;
using Syndicator.Hosting;
using Syndicator.Storage;
using Syndicator.Tests.Support;
using Syndicator.Web;

namespace Syndicator.Tests.Web;

/// <summary>Who may open <c>/status</c> and post to it, over real HTTP, and the start-up check that keeps it off the network unprotected.</summary>
public sealed class DashboardHttpTests
{
    private const int TestTimeout = 60_000;
    private const string Key = "dashboard-key-0123456789-abcdefghij";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The app with Dashboard:ApiKey pointing at a file holding <see cref="Key"/>, in <paramref name="dir"/>.</summary>
    private static Task<StatusServer> StartWithKeyAsync(TempDir dir, CancellationToken cancellationToken) =>
        StatusServer.StartAsync(cancellationToken, new() { ["Dashboard:ApiKey"] = "file:" + dir.File("dashboard.key", Key + "\n") });

    [Fact(Timeout = TestTimeout)]
    public async Task With_an_api_key_every_status_request_without_it_gets_401_with_a_challenge_that_names_the_fix()
    {
        using var keys = new TempDir();
        await using var server = await StartWithKeyAsync(keys, TestContext.Current.CancellationToken);

        foreach (var path in new[] { "/status", "/status/articles/anything", "/status/no-such-page" })
        {
            using var response = await server.Http.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var schemes = response.Headers.WwwAuthenticate.Select(h => h.Scheme).ToList();
            Assert.Contains("Basic", schemes);
            Assert.Contains("Bearer", schemes);
            Assert.Contains("realm=\"Syndicator status\"", response.Headers.WwwAuthenticate.First(h => h.Scheme == "Basic").Parameter);
            Assert.Contains("Dashboard:ApiKey", await response.Content.ReadAsStringAsync(Ct));
        }

        // The rest of the site is not behind the key.
        Assert.Equal(HttpStatusCode.OK, (await server.GetTextAsync("/health")).Status);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("bearer", Key, HttpStatusCode.OK)]
    [InlineData("x-api-key", Key, HttpStatusCode.OK)]
    [InlineData("basic-any-user", Key, HttpStatusCode.OK)]
    [InlineData("bearer", Key + "x", HttpStatusCode.Unauthorized)]
    [InlineData("x-api-key", "dashboard-key", HttpStatusCode.Unauthorized)]
    [InlineData("basic-any-user", "", HttpStatusCode.Unauthorized)]
    public async Task The_key_is_accepted_as_bearer_token_api_key_header_or_basic_password_and_nothing_else_is(string how, string offered, HttpStatusCode expected)
    {
        using var keys = new TempDir();
        await using var server = await StartWithKeyAsync(keys, TestContext.Current.CancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/status");
        switch (how)
        {
            case "bearer": request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", offered); break;
            case "x-api-key": request.Headers.Add("X-Api-Key", offered); break;
            default: request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("someone:" + offered))); break;
        }

        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.OK) Assert.Contains("Syndicator status", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Basic_auth_with_the_configured_user_and_password_opens_the_dashboard_and_a_wrong_password_does_not()
    {
        using var dir = new TempDir();
        var password = dir.File("password", "correct horse battery staple");
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken, new()
        {
            ["Dashboard:Username"] = "editor",
            ["Dashboard:Password"] = "file:" + password,
        });

        async Task<HttpStatusCode> TryAsync(string user, string pass)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/status");
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{pass}")));
            using var response = await server.Http.SendAsync(request, Ct);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await TryAsync("editor", "correct horse battery staple"));
        Assert.Equal(HttpStatusCode.Unauthorized, await TryAsync("editor", "correct horse battery"));
        Assert.Equal(HttpStatusCode.Unauthorized, await TryAsync("admin", "correct horse battery staple"));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_retry_post_without_the_key_is_refused_and_changes_nothing()
    {
        using var keys = new TempDir();
        await using var server = await StartWithKeyAsync(keys, TestContext.Current.CancellationToken);
        var seeded = await server.SeedAsync();

        using var response = await server.Http.PostAsync($"/status/deliveries/{seeded.FailedId}/retry", new FormUrlEncodedContent([new("csrf", "guess")]), Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(DeliveryState.Failed, (await server.Get<DeliveryStore>().GetAsync(seeded.FailedId, Ct))!.State);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("no-token")]
    [InlineData("wrong-token")]
    [InlineData("cross-site")]
    [InlineData("other-origin")]
    public async Task A_retry_post_that_did_not_come_from_the_status_page_is_refused_with_403_and_changes_nothing(string kind)
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        var seeded = await server.SeedAsync();
        var token = server.Get<DashboardAccess>().CsrfToken;

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/status/deliveries/{seeded.FailedId}/retry")
        {
            Content = new FormUrlEncodedContent(kind switch
            {
                "no-token" => [],
                "wrong-token" => [new("csrf", token[..^2] + "xx")],
                _ => [new KeyValuePair<string, string>("csrf", token)],
            }),
        };
        if (kind == "cross-site") request.Headers.Add("Sec-Fetch-Site", "cross-site");
        if (kind == "other-origin") request.Headers.Add("Origin", "https://evil.example");

        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("was not retried", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(DeliveryState.Failed, (await server.Get<DeliveryStore>().GetAsync(seeded.FailedId, Ct))!.State);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_retry_post_from_the_page_redirects_back_with_303_and_retrying_twice_says_nothing_changed()
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        var seeded = await server.SeedAsync();
        var token = server.Get<DashboardAccess>().CsrfToken;
        var articlePage = $"/status/articles/{seeded.Article.Id}";

        async Task<HttpResponseMessage> PostAsync(string returnTo)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/status/deliveries/{seeded.FailedId}/retry")
            {
                Content = new FormUrlEncodedContent([new("csrf", token), new("return", returnTo)]),
            };
            request.Headers.Add("Sec-Fetch-Site", "same-origin");
            request.Headers.Add("Origin", server.Address.GetLeftPart(UriPartial.Authority));
            return await server.Http.SendAsync(request, Ct);
        }

        using var first = await PostAsync(articlePage);
        Assert.Equal(HttpStatusCode.SeeOther, first.StatusCode);
        Assert.Equal($"{articlePage}?retried={seeded.FailedId}", first.Headers.Location?.OriginalString);
        Assert.Equal(DeliveryState.Pending, (await server.Get<DeliveryStore>().GetAsync(seeded.FailedId, Ct))!.State);

        // Not failed any more: nothing to do, and the redirect never leaves /status whatever "return" says.
        using var second = await PostAsync("https://evil.example/status");
        Assert.Equal(HttpStatusCode.SeeOther, second.StatusCode);
        Assert.Equal($"/status?unchanged={seeded.FailedId}", second.Headers.Location?.OriginalString);
        Assert.Equal(DeliveryState.Pending, (await server.Get<DeliveryStore>().GetAsync(seeded.FailedId, Ct))!.State);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.PostgreSql)]
    public async Task The_overview_the_article_page_and_metrics_show_the_same_numbers_on_either_database(StorageProvider provider)
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken, provider: provider);
        var seeded = await server.SeedAsync();
        await server.RunJobAsync(Syndicator.Scheduling.JobCatalog.EmailSend);

        var (status, overview) = await server.GetTextAsync("/status/operations");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("<tr data-channel=\"bluesky\">", overview);
        Assert.Matches("<tr data-channel=\"mastodon\">.*<td class=\"num\" data-state=\"sent\">1</td>", overview);
        Assert.Contains($"<tr data-delivery=\"{seeded.FailedId}\" data-state=\"failed\">", overview);
        Assert.Contains(WebUtility.HtmlEncode(StatusServer.BlueskyError), overview);
        Assert.Contains("data-outcome=\"Skipped\"", overview);
        Assert.Contains("<g data-bucket=", overview);
        Assert.DoesNotContain("Could not read", overview);
        var (_, daily) = await server.GetTextAsync("/status/operations?runs=days");
        Assert.Contains("Job runs, last 14 days, per day", daily);
        Assert.Contains($"<g data-bucket=\"{DateTimeOffset.UtcNow:yyyy-MM-dd}T00:00:00.0000000+00:00\" data-runs=\"1\">", daily);

        var (articleStatus, article) = await server.GetTextAsync($"/status/articles/{seeded.Article.Id}");
        Assert.Equal(HttpStatusCode.OK, articleStatus);
        Assert.Contains($"href=\"{StatusServer.PostUrl}\"", article);
        Assert.Contains("data-digests=\"1\"", article);
        Assert.Contains("<tr data-feed=\"site\"><td>Site</td><td>current feed</td>", article);
        Assert.DoesNotContain("Could not read", article);

        var metrics = await server.Http.GetStringAsync("/metrics", Ct);
        Assert.Contains("syndicator_deliveries{channel=\"bluesky\",state=\"failed\"} 1", metrics);
        Assert.Contains("syndicator_deliveries_sent_total{channel=\"email\"} 1", metrics);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Status_pages_forbid_framing_scripts_and_caching()
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);

        using var response = await server.Http.GetAsync("/status", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.DoesNotContain("script-src", csp);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.True(response.Headers.CacheControl?.NoStore);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task An_unknown_article_answers_404_with_a_way_back()
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);

        var (status, body) = await server.GetTextAsync("/status/articles/no-such-article");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("There is no article with that slug or id", body);
        Assert.Contains("href=\"/status\"", body);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task With_the_dashboard_turned_off_status_answers_404()
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken, new() { ["Dashboard:Enabled"] = "false" });

        Assert.Equal(HttpStatusCode.NotFound, (await server.GetTextAsync("/status")).Status);
    }

    public static TheoryData<string, string?, string?, string> Refused => new()
    {
        // Http:Urls, Dashboard:ApiKey, a file's content for file: keys, what the message must say
        { "http://0.0.0.0:5080", null, null, "Http:Urls listens on http://0.0.0.0:5080, which other machines can reach, but the /status dashboard has no credentials. Set Dashboard:ApiKey" },
        { "http://127.0.0.1:5080;http://*:8080", null, null, "Http:Urls listens on http://*:8080" },
        { "http://192.0.2.10:5080", null, null, "Dashboard:Enabled=false" },
        { "http://127.0.0.1:5080", "dashboard-key-written-into-config", null, "Dashboard:ApiKey holds the secret itself; write a reference such as env:SYNDICATOR_DASHBOARD_KEY" },
        { "http://127.0.0.1:5080", "env:SYNDICATOR_TEST_UNSET_DASHBOARD_KEY", null, "Dashboard:ApiKey (env:SYNDICATOR_TEST_UNSET_DASHBOARD_KEY) cannot be read: the environment variable SYNDICATOR_TEST_UNSET_DASHBOARD_KEY is not set" },
        { "http://0.0.0.0:5080", "file:KEYFILE", "short", "Dashboard:ApiKey (file:KEYFILE) is 5 characters long; use at least 16" },
    };

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Refused))]
    public async Task The_service_refuses_to_start_with_a_dashboard_open_to_the_network_or_an_unusable_key(string urls, string? apiKey, string? keyFileContent, string message)
    {
        using var dir = new TempDir();
        var keyFile = dir.File("dashboard.key", keyFileContent ?? "");
        apiKey = apiKey?.Replace("KEYFILE", keyFile);
        message = message.Replace("KEYFILE", keyFile);
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        var settings = store.Settings();
        settings["Http:Urls"] = urls;
        settings["Dashboard:ApiKey"] = apiKey;

        var problems = Assert.Throws<ConfigProblemsException>(() => { ConfigProblems.BuildValidated(() => SyndicatorHost.Build([], c => c.AddInMemoryCollection(settings))); }).Problems;

        Assert.Contains(problems, p => p.Contains(message, StringComparison.Ordinal));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("http://127.0.0.1:5080", null)]
    [InlineData("http://localhost:5080;http://[::1]:5081", null)]
    [InlineData("http://0.0.0.0:5080", "file:KEYFILE")]
    public async Task Loopback_without_credentials_or_any_address_with_a_good_key_starts(string urls, string? apiKey)
    {
        using var dir = new TempDir();
        var keyFile = dir.File("dashboard.key", Key);
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        var settings = store.Settings();
        settings["Http:Urls"] = urls;
        settings["Dashboard:ApiKey"] = apiKey?.Replace("KEYFILE", keyFile);

        var app = SyndicatorHost.Build([], c => c.AddInMemoryCollection(settings));
        await using var _ = app;

        Assert.DoesNotContain(ConfigProblems.Find(app.Services), p => p.Contains("Dashboard", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/status", true)]
    [InlineData("/status?x=1", true)]
    [InlineData("/status/articles/a1", true)]
    [InlineData("//evil.example/status", false)]
    [InlineData("https://evil.example/status", false)]
    [InlineData("/statusx", false)]
    [InlineData("/status/..//evil.example", false)]
    [InlineData("/status\\..\\x", false)]
    [InlineData("", false)]
    public void A_retry_returns_only_to_a_page_under_status(string value, bool kept) =>
        Assert.Equal(kept ? value : "/status", Dashboard.LocalReturn(value));

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_articles_import_warnings_show_on_its_page_as_text_never_as_links()
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        var path = server.Dir.File("warned/warned.md",
            "---\ntitle: پیام هشدار\nauthor: Jane Doe\ncommentUrl: javascript:alert(1)\n---\nBody with <a href=\"vbscript:msgbox(2)\">a link</a>.\n");
        var result = await server.Get<Syndicator.Articles.Import.ArticleFiles>().ImportPathsAsync([path], null, TestContext.Current.CancellationToken);
        var article = result.Files[0].Articles[0];
        Assert.Equal(2, article.Warnings.Count);

        var (status, body) = await server.GetTextAsync($"/status/articles/{article.Id}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("<section id=\"warnings\">", body);
        foreach (var warning in article.Warnings) Assert.Contains(System.Net.WebUtility.HtmlEncode(warning), body);
        Assert.DoesNotContain("href=\"javascript:", body);
        Assert.DoesNotContain("href=\"vbscript:", body);
    }
}
