using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Announcements;
using Syndicator.Announcements.Mastodon;
using Syndicator.Deliveries;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Mastodon;

/// <summary>The Mastodon client against a loopback Mastodon, its token in a file: reference.</summary>
public sealed class MastodonClientTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly TempDir dir = new();
    private readonly FakeTimeProvider clock = new(new DateTimeOffset(2026, 11, 23, 8, 30, 0, TimeSpan.Zero));

    public void Dispose() => dir.Dispose();

    private SocialAccount Account(FakeMastodonServer server, string? token = null) => new()
    {
        Name = "magazine-mastodon",
        Network = Network.Mastodon,
        BaseUrl = server.BaseUrl,
        Credentials = new(StringComparer.OrdinalIgnoreCase) { ["AccessToken"] = "file:" + dir.File($"secrets/{Guid.NewGuid():N}", token ?? server.Token) },
    };

    private MastodonClient Client(TimeSpan? timeout = null) =>
        new(new HttpClient { Timeout = timeout ?? TimeSpan.FromSeconds(10) }, new HostingEnvironment { ContentRootPath = dir.Path }, clock);

    private static ComposedPost Post(int n = 1) =>
        new($"مقاله {n} — the regime's mystique 🕊 https://magazine.example/{n}", $"https://magazine.example/{n}", "Title", "Summary", null, "fa", $"delivery-{n}");

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_post_is_sent_with_its_id_and_url_and_no_pause_while_requests_are_left()
    {
        await using var server = await FakeMastodonServer.StartAsync();

        var sent = Assert.IsType<DeliveryOutcome.Sent>(await Client().PostAsync(Account(server), Post(), isRetry: false, Ct));

        Assert.Equal(server.BaseUrl + "/@magazine/" + sent.RemoteId, sent.RemoteUrl);
        Assert.Null(sent.PauseRecipientUntil);
        Assert.Equal(Post().Text, Assert.Single(server.Posts).Status);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_window_of_two_sends_two_pauses_on_the_second_and_the_third_is_a_429_until_mastodons_reset()
    {
        await using var server = await FakeMastodonServer.StartAsync();
        server.Time = clock;
        server.LimitRate(2, TimeSpan.FromHours(3));
        var reset = new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero); // Mastodon's 3-hour windows: 06:00, 09:00...
        var client = Client();
        var account = Account(server);

        var first = Assert.IsType<DeliveryOutcome.Sent>(await client.PostAsync(account, Post(1), false, Ct));
        var second = Assert.IsType<DeliveryOutcome.Sent>(await client.PostAsync(account, Post(2), false, Ct));
        var third = Assert.IsType<DeliveryOutcome.Transient>(await client.PostAsync(account, Post(3), false, Ct));

        Assert.Null(first.PauseRecipientUntil);
        Assert.Equal(reset, second.PauseRecipientUntil);
        Assert.Equal(reset, third.NotBefore);
        Assert.Equal(reset, third.PauseRecipientUntil);
        Assert.StartsWith($"mastodon: POST /api/v1/statuses at {server.BaseUrl} answered 429 Too Many Requests: Too many requests; paused until 2026-11-23T09:00:00Z (X-RateLimit-Reset)", third.Error);
        Assert.Equal(2, server.Posts.Count);

        clock.SetUtcNow(reset);
        Assert.IsType<DeliveryOutcome.Sent>(await client.PostAsync(account, Post(3), false, Ct));
        Assert.Equal(3, server.Posts.Count);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_missing_access_token_is_permanent_and_nothing_is_sent()
    {
        await using var server = await FakeMastodonServer.StartAsync();
        var account = Account(server);
        account.Credentials.Clear();

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(await Client().PostAsync(account, Post(), false, Ct));

        Assert.Equal("mastodon: Announcements account magazine-mastodon Credentials:AccessToken is missing; Mastodon needs AccessToken, each as env:VARIABLE or file:/path.", failed.Error);
        Assert.Empty(server.Posts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_access_token_that_cannot_be_read_is_permanent_and_names_the_file()
    {
        await using var server = await FakeMastodonServer.StartAsync();
        var folder = Directory.CreateDirectory(Path.Combine(dir.Path, "token-is-a-folder")).FullName;
        var account = Account(server);
        account.Credentials["AccessToken"] = "file:" + folder;

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(await Client().PostAsync(account, Post(), false, Ct));

        Assert.StartsWith("mastodon: Announcements account magazine-mastodon Credentials:AccessToken (file:", failed.Error);
        Assert.Contains($"{folder} is a folder, not a file", failed.Error);
        Assert.Empty(server.Posts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_revoked_token_is_permanent_with_mastodons_words()
    {
        await using var server = await FakeMastodonServer.StartAsync();

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(await Client().PostAsync(Account(server, token: "revoked"), Post(), false, Ct));

        Assert.Equal($"mastodon: POST /api/v1/statuses at {server.BaseUrl} answered 401 Unauthorized: The access token is invalid", failed.Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_503_with_retry_after_is_transient_until_then()
    {
        await using var server = await FakeMastodonServer.StartAsync();
        server.Fail = _ => new Reply(503, "<html>Mastodon is down for maintenance</html>", ("Retry-After", "300"));

        var transient = Assert.IsType<DeliveryOutcome.Transient>(await Client().PostAsync(Account(server), Post(), false, Ct));

        Assert.Equal(clock.GetUtcNow().AddMinutes(5), transient.NotBefore);
        Assert.Null(transient.PauseRecipientUntil);
        Assert.EndsWith("answered 503 Service Unavailable: <html>Mastodon is down for maintenance</html>", transient.Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_connection_dropped_before_the_answer_is_transient()
    {
        await using var server = await FakeMastodonServer.StartAsync();
        server.Fail = _ => new Drop();

        var transient = Assert.IsType<DeliveryOutcome.Transient>(await Client().PostAsync(Account(server), Post(), false, Ct));

        Assert.StartsWith($"mastodon: {server.BaseUrl} could not be reached (POST /api/v1/statuses): ", transient.Error);
        Assert.Null(transient.NotBefore);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_instance_that_does_not_answer_in_time_is_transient()
    {
        await using var server = await FakeMastodonServer.StartAsync();
        server.Fail = _ => new Slow();

        var transient = Assert.IsType<DeliveryOutcome.Transient>(await Client(TimeSpan.FromMilliseconds(300)).PostAsync(Account(server), Post(), false, Ct));

        Assert.Equal($"mastodon: {server.BaseUrl} did not answer within 0.3 s (POST /api/v1/statuses)", transient.Error);
    }

    private sealed class Reply(int status, string body, params (string Name, string Value)[] headers) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = status;
            foreach (var (name, value) in headers) context.Response.Headers[name] = value;
            return context.Response.WriteAsync(body);
        }
    }

    private sealed class Drop : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Abort();
            return Task.CompletedTask;
        }
    }

    private sealed class Slow : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            try { await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted); } catch (OperationCanceledException) { }
        }
    }
}
