using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Announcements.X;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.X;

/// <summary>The fake must refuse what X refuses, or the client tests against it prove nothing.</summary>
public sealed class FakeXServerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static OAuth1Credentials Credentials(FakeXServer server, string consumerSecret = FakeXServer.ConsumerSecret) =>
        new(FakeXServer.ConsumerKey, consumerSecret, server.AccessToken, FakeXServer.AccessTokenSecret);

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, OAuth1Signer signer, OAuth1Credentials credentials, string method, string signedUrl, string? sentUrl = null, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), signedUrl) { Content = content };
        await signer.SignAsync(request, credentials, Ct);
        if (sentUrl is not null) request.RequestUri = new Uri(sentUrl);
        return await http.SendAsync(request, Ct);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_correctly_signed_request_is_answered()
    {
        await using var server = await FakeXServer.StartAsync();
        using var http = new HttpClient();

        using var response = await SendAsync(http, new OAuth1Signer(TimeProvider.System), Credentials(server), "GET", server.BaseUrl + "/2/users/me");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(FakeXServer.UserId, json.RootElement.GetProperty("data").GetProperty("id").GetString());
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_query_changed_after_signing_is_refused_with_401_and_x_problem_body()
    {
        await using var server = await FakeXServer.StartAsync();
        using var http = new HttpClient();
        var timeline = $"{server.BaseUrl}/2/users/{FakeXServer.UserId}/tweets?tweet.fields=entities&max_results=";

        using var response = await SendAsync(http, new OAuth1Signer(TimeProvider.System), Credentials(server), "GET", timeline + "20", sentUrl: timeline + "100");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("Unauthorized", json.RootElement.GetProperty("title").GetString());
        Assert.Equal("about:blank", json.RootElement.GetProperty("type").GetString());
        Assert.StartsWith("signature mismatch", Assert.Single(server.Rejections));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_wrong_secret_is_refused()
    {
        await using var server = await FakeXServer.StartAsync();
        using var http = new HttpClient();

        using var response = await SendAsync(http, new OAuth1Signer(TimeProvider.System), Credentials(server, "wrong"), "GET", server.BaseUrl + "/2/users/me");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_reused_nonce_is_refused_even_with_a_valid_signature()
    {
        await using var server = await FakeXServer.StartAsync();
        using var http = new HttpClient();
        var signer = new OAuth1Signer(TimeProvider.System, () => "the-same-nonce");

        using var first = await SendAsync(http, signer, Credentials(server), "GET", server.BaseUrl + "/2/users/me");
        using var second = await SendAsync(http, signer, Credentials(server), "GET", server.BaseUrl + "/2/users/me");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.StartsWith("nonce reused", Assert.Single(server.Rejections));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(-6 * 60, HttpStatusCode.Unauthorized)]
    [InlineData(+6 * 60, HttpStatusCode.Unauthorized)]
    [InlineData(-4 * 60, HttpStatusCode.OK)]
    public async Task A_timestamp_more_than_five_minutes_off_is_refused(int offsetSeconds, HttpStatusCode expected)
    {
        await using var server = await FakeXServer.StartAsync();
        using var http = new HttpClient();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow.AddSeconds(offsetSeconds));

        using var response = await SendAsync(http, new OAuth1Signer(clock), Credentials(server), "GET", server.BaseUrl + "/2/users/me");

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_form_encoded_body_is_part_of_the_signature_the_server_checks()
    {
        await using var server = await FakeXServer.StartAsync();
        using var http = new HttpClient();
        var signer = new OAuth1Signer(TimeProvider.System);

        using (var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/1.1/statuses/update.json") { Content = new FormUrlEncodedContent([new("status", "Hello Ladies + Gentlemen")]) })
        {
            await signer.SignAsync(request, Credentials(server), Ct);
            using var honest = await http.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.NotFound, honest.StatusCode); // authenticated, then no such route
        }
        using (var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/1.1/statuses/update.json") { Content = new FormUrlEncodedContent([new("status", "Hello Ladies + Gentlemen")]) })
        {
            await signer.SignAsync(request, Credentials(server), Ct);
            request.Content = new FormUrlEncodedContent([new("status", "Tampered")]);
            using var tampered = await http.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);
        }
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_request_without_oauth_is_refused()
    {
        await using var server = await FakeXServer.StartAsync();
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "app-only");

        using var response = await http.GetAsync(server.BaseUrl + "/2/users/me", Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_same_text_twice_is_refused_as_duplicate_content_and_counted_once()
    {
        await using var server = await FakeXServer.StartAsync();
        using var http = new HttpClient();
        var signer = new OAuth1Signer(TimeProvider.System);

        using var first = await SendAsync(http, signer, Credentials(server), "POST", server.BaseUrl + "/2/tweets", content: System.Net.Http.Json.JsonContent.Create(new { text = "Hello https://magazine.example/a" }));
        using var second = await SendAsync(http, signer, Credentials(server), "POST", server.BaseUrl + "/2/tweets", content: System.Net.Http.Json.JsonContent.Create(new { text = "Hello https://magazine.example/a" }));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        using var created = JsonDocument.Parse(await first.Content.ReadAsStringAsync(Ct));
        Assert.StartsWith("Hello https://t.co/", created.RootElement.GetProperty("data").GetProperty("text").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, second.StatusCode);
        Assert.Contains("You are not allowed to create a Tweet with duplicate content.", await second.Content.ReadAsStringAsync(Ct));
        Assert.Equal(1, server.AcceptedPosts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_timeline_shows_t_co_links_in_text_and_the_original_urls_in_entities_newest_first()
    {
        await using var server = await FakeXServer.StartAsync();
        using var http = new HttpClient();
        var older = server.Seed("Older https://magazine.example/older");
        var newer = server.Seed("Newer https://magazine.example/newer");

        using var response = await SendAsync(http, new OAuth1Signer(TimeProvider.System), Credentials(server), "GET", $"{server.BaseUrl}/2/users/{FakeXServer.UserId}/tweets?max_results=5&tweet.fields=entities");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var data = json.RootElement.GetProperty("data");
        Assert.Equal([newer, older], data.EnumerateArray().Select(t => t.GetProperty("id").GetString()));
        Assert.DoesNotContain("magazine.example", data[0].GetProperty("text").GetString());
        Assert.Equal("https://magazine.example/newer", data[0].GetProperty("entities").GetProperty("urls")[0].GetProperty("expanded_url").GetString());
    }
}
