using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Syndicator.Announcements.Bluesky;
using Syndicator.Deliveries;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Bluesky;

/// <summary>
/// Failures a real PDS will not produce on demand (expiring tokens, rate limits, outages, lost answers), from a small
/// XRPC fake on loopback that speaks the same endpoints.
/// </summary>
public sealed class BlueskyClientFakeServerTests : IDisposable
{
    private readonly BlueskyTestSupport support = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => support.Dispose();

    /// <summary>
    /// The XRPC endpoints the client uses. Tokens are "access-N"/"refresh-N" (N counts logins and refreshes); a hook
    /// may answer a call instead of the default behaviour.
    /// </summary>
    private sealed class FakePds
    {
        public const string Did = "did:plc:fakefakefakefakefakefake";
        public const string Handle = "fake.test";

        private int generation;
        public string AccessToken { get; private set; } = "";
        public string RefreshToken { get; private set; } = "";
        public ConcurrentQueue<(string Nsid, string? Bearer)> Calls { get; } = new();
        public ConcurrentDictionary<string, JsonNode> Records { get; } = new();
        public Func<string, int, IResult?> Hook { get; set; } = (_, _) => null;
        private readonly ConcurrentDictionary<string, int> counts = new();

        public int Count(string nsid) => Calls.Count(c => c.Nsid == nsid);

        public static IResult Error(int status, string error, string message, Action<HttpResponse>? headers = null) =>
            new ErrorResult(status, error, message, headers);

        private sealed class ErrorResult(int status, string error, string message, Action<HttpResponse>? headers) : IResult
        {
            public Task ExecuteAsync(HttpContext context)
            {
                headers?.Invoke(context.Response);
                return Results.Json(new { error, message }, statusCode: status).ExecuteAsync(context);
            }
        }

        public void Map(WebApplication app)
        {
            app.MapPost("/xrpc/com.atproto.server.createSession", async (HttpRequest r) => await HandleAsync(r, "com.atproto.server.createSession", async () =>
            {
                var body = await JsonNode.ParseAsync(r.Body);
                if (body?["password"]?.GetValue<string>() != "good-app-password") return Error(401, "AuthenticationRequired", "Invalid identifier or password");
                return NewSession();
            }));
            app.MapPost("/xrpc/com.atproto.server.refreshSession", (HttpRequest r) => HandleAsync(r, "com.atproto.server.refreshSession", () =>
                Task.FromResult(Bearer(r) == RefreshToken ? NewSession() : Error(400, "ExpiredToken", "Token has been revoked"))));
            app.MapGet("/xrpc/com.atproto.repo.getRecord", (HttpRequest r) => HandleAsync(r, "com.atproto.repo.getRecord", () =>
                Task.FromResult(Records.TryGetValue(r.Query["rkey"].ToString(), out var record)
                    ? Results.Json(new { uri = $"at://{Did}/app.bsky.feed.post/{r.Query["rkey"]}", cid = "bafyfake", value = record })
                    : Error(400, "RecordNotFound", "Could not locate record"))));
            app.MapPost("/xrpc/com.atproto.repo.createRecord", async (HttpRequest r) => await HandleAsync(r, "com.atproto.repo.createRecord", async () =>
            {
                if (Bearer(r) != AccessToken) return Error(400, "ExpiredToken", "Token has expired");
                var body = (await JsonNode.ParseAsync(r.Body))!;
                var rkey = body["rkey"]!.GetValue<string>();
                if (!Records.TryAdd(rkey, body["record"]!.DeepClone())) return Error(500, "InternalServerError", "Internal Server Error");
                return Results.Json(new { uri = $"at://{Did}/app.bsky.feed.post/{rkey}", cid = "bafyfake" });
            }));
        }

        /// <summary>Stores the record as createRecord would, then answers with <paramref name="answer"/> (an answer lost after the write).</summary>
        public async Task<IResult> StoreThenAnswerAsync(HttpRequest request, IResult answer)
        {
            var body = (await JsonNode.ParseAsync(request.Body))!;
            Records.TryAdd(body["rkey"]!.GetValue<string>(), body["record"]!.DeepClone());
            return answer;
        }

        private async Task<IResult> HandleAsync(HttpRequest request, string nsid, Func<Task<IResult>> normal)
        {
            Calls.Enqueue((nsid, Bearer(request)));
            var n = counts.AddOrUpdate(nsid, 1, (_, c) => c + 1);
            if (Hook(nsid, n) is { } hooked)
                return hooked is HookThenStore ? await StoreThenAnswerAsync(request, ((HookThenStore)hooked).Answer) : hooked;
            return await normal();
        }

        private IResult NewSession()
        {
            var n = Interlocked.Increment(ref generation);
            AccessToken = $"access-{n}";
            RefreshToken = $"refresh-{n}";
            return Results.Json(new { accessJwt = AccessToken, refreshJwt = RefreshToken, did = Did, handle = Handle });
        }

        private static string? Bearer(HttpRequest request) =>
            request.Headers.Authorization.ToString() is { Length: > 7 } h && h.StartsWith("Bearer ", StringComparison.Ordinal) ? h[7..] : null;
    }

    /// <summary>A hook answer meaning "create the record, then answer this".</summary>
    private sealed class HookThenStore(IResult answer) : IResult
    {
        public IResult Answer { get; } = answer;
        public Task ExecuteAsync(HttpContext context) => Answer.ExecuteAsync(context);
    }

    private async Task<(FakePds Fake, LoopbackServer Server)> StartAsync()
    {
        var fake = new FakePds();
        var server = await LoopbackServer.StartAsync(fake.Map);
        return (fake, server);
    }

    private Syndicator.Announcements.SocialAccount Account(LoopbackServer server, string password = "good-app-password") =>
        support.Account(server.BaseUrl, FakePds.Handle, password);

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_ExpiredToken_answer_refreshes_the_session_with_the_refresh_token_and_repeats_the_call()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        var client = support.Client();
        Assert.IsType<DeliveryOutcome.Sent>(await client.PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct));
        // The PDS moves on (the token expired): only a refreshed token is accepted now.
        var stale = fake.AccessToken;
        fake.Hook = (nsid, _) => nsid == "com.atproto.repo.createRecord" && fake.AccessToken == stale ? FakePds.Error(400, "ExpiredToken", "Token has expired") : null;

        var outcome = await client.PostAsync(Account(server), BlueskyTestSupport.Post("k2"), false, Ct);

        var sent = Assert.IsType<DeliveryOutcome.Sent>(outcome);
        Assert.Equal($"https://bsky.app/profile/{FakePds.Handle}/post/{BlueskyRecordKey.FromIdempotencyKey("k2")}", sent.RemoteUrl);
        Assert.Equal(1, fake.Count("com.atproto.server.createSession"));
        var refresh = Assert.Single(fake.Calls, c => c.Nsid == "com.atproto.server.refreshSession");
        Assert.Equal("refresh-1", refresh.Bearer);
        Assert.Equal(["access-1", "access-1", "access-2"], fake.Calls.Where(c => c.Nsid == "com.atproto.repo.createRecord").Select(c => c.Bearer));
        Assert.Equal("access-2", support.Sessions.Get(server.BaseUrl, FakePds.Handle)!.AccessJwt);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task When_the_refresh_fails_the_client_logs_in_again_once()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        support.Sessions.Set(server.BaseUrl, FakePds.Handle, new BlueskySession("old-access", "old-refresh", FakePds.Did, FakePds.Handle));

        var outcome = await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct);

        Assert.IsType<DeliveryOutcome.Sent>(outcome);
        Assert.Equal("old-refresh", Assert.Single(fake.Calls, c => c.Nsid == "com.atproto.server.refreshSession").Bearer);
        Assert.Equal(1, fake.Count("com.atproto.server.createSession"));
        Assert.Single(fake.Records);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_session_is_reused_across_posts()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;

        for (var i = 0; i < 3; i++)
            Assert.IsType<DeliveryOutcome.Sent>(await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post($"k{i}"), false, Ct));

        Assert.Equal(1, fake.Count("com.atproto.server.createSession"));
        Assert.Equal(3, fake.Records.Count);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_429_is_transient_until_RateLimit_Reset()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        fake.Hook = (nsid, _) => nsid == "com.atproto.repo.createRecord"
            ? FakePds.Error(429, "RateLimitExceeded", "Rate Limit Exceeded", r =>
            {
                r.Headers["RateLimit-Limit"] = "5000";
                r.Headers["RateLimit-Remaining"] = "0";
                r.Headers["RateLimit-Reset"] = "1795000000";
            })
            : null;

        var outcome = await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(outcome);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795000000), transient.NotBefore);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795000000), transient.PauseRecipientUntil);
        Assert.StartsWith("bluesky: com.atproto.repo.createRecord", transient.Error);
        Assert.Contains("429", transient.Error);
        Assert.Contains("RateLimitExceeded: Rate Limit Exceeded", transient.Error);
        Assert.Empty(fake.Records);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_429_on_login_is_transient_too()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        fake.Hook = (nsid, _) => nsid == "com.atproto.server.createSession"
            ? FakePds.Error(429, "RateLimitExceeded", "Rate Limit Exceeded", r => r.Headers["RateLimit-Reset"] = "1795000300")
            : null;

        var outcome = await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct);

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795000300), Assert.IsType<DeliveryOutcome.Transient>(outcome).NotBefore);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_post_that_spent_the_last_write_points_is_sent_and_pauses_the_account_until_RateLimit_Reset()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        var rkey = BlueskyRecordKey.FromIdempotencyKey("k1");
        // As atproto's xrpc-server writes them: lower case on the wire, reset in epoch seconds.
        fake.Hook = (nsid, _) => nsid == "com.atproto.repo.createRecord"
            ? new HookThenStore(new JsonAnswer(200, $"{{\"uri\":\"at://{FakePds.Did}/app.bsky.feed.post/{rkey}\",\"cid\":\"bafyfake\"}}",
                ("ratelimit-limit", "5000"), ("ratelimit-remaining", "0"), ("ratelimit-reset", "1795003600"), ("ratelimit-policy", "5000;w=3600")))
            : null;

        var outcome = await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct);

        var sent = Assert.IsType<DeliveryOutcome.Sent>(outcome);
        Assert.Equal($"at://{FakePds.Did}/app.bsky.feed.post/{rkey}", sent.RemoteId);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795003600), sent.PauseRecipientUntil);
        Assert.Single(fake.Records);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_post_with_write_points_left_does_not_pause()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        var rkey = BlueskyRecordKey.FromIdempotencyKey("k1");
        fake.Hook = (nsid, _) => nsid == "com.atproto.repo.createRecord"
            ? new HookThenStore(new JsonAnswer(200, $"{{\"uri\":\"at://{FakePds.Did}/app.bsky.feed.post/{rkey}\"}}", ("RateLimit-Remaining", "4997"), ("RateLimit-Reset", "1795003600")))
            : null;

        var sent = Assert.IsType<DeliveryOutcome.Sent>(await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct));

        Assert.Null(sent.PauseRecipientUntil);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("Identifier")]
    [InlineData("AppPassword")]
    public async Task A_missing_credential_is_permanent_and_the_PDS_is_not_called(string credential)
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        var account = Account(server);
        account.Credentials.Remove(credential);

        var outcome = await support.Client().PostAsync(account, BlueskyTestSupport.Post("k1"), false, Ct);

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(outcome);
        Assert.Equal($"bluesky: Announcements account magazine-bluesky Credentials:{credential} is missing; Bluesky needs Identifier, AppPassword, each as env:VARIABLE or file:/path.", failed.Error);
        Assert.Empty(fake.Calls);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_app_password_file_that_was_removed_is_permanent_and_names_the_file()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        var account = Account(server);
        var file = account.Credentials["AppPassword"]["file:".Length..];
        File.Delete(file);

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(await support.Client().PostAsync(account, BlueskyTestSupport.Post("k1"), false, Ct));

        Assert.Contains($"Credentials:AppPassword (file:{file}) cannot be read: the file {file} does not exist", failed.Error);
        Assert.StartsWith("bluesky: ", failed.Error);
        Assert.Empty(fake.Calls);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_503_with_retry_after_is_transient_until_then_without_pausing_the_account()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        fake.Hook = (nsid, _) => nsid == "com.atproto.server.createSession"
            ? FakePds.Error(503, "ServiceUnavailable", "the PDS is restarting", r => r.Headers["Retry-After"] = "45")
            : null;

        var transient = Assert.IsType<DeliveryOutcome.Transient>(await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct));

        Assert.Equal(support.Time.GetUtcNow().AddSeconds(45), transient.NotBefore);
        Assert.Null(transient.PauseRecipientUntil);
        Assert.Equal($"bluesky: com.atproto.server.createSession at {server.BaseUrl} answered 503 Service Unavailable: ServiceUnavailable: the PDS is restarting", transient.Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_PDS_that_drops_the_connection_before_answering_is_transient_and_names_the_call()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        fake.Hook = (nsid, _) => nsid == "com.atproto.server.createSession" ? new DropResult() : null;

        var transient = Assert.IsType<DeliveryOutcome.Transient>(await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct));

        Assert.StartsWith($"bluesky: {server.BaseUrl} could not be reached (com.atproto.server.createSession): ", transient.Error);
        Assert.Empty(fake.Records);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_5xx_is_transient_and_the_next_attempt_posts()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        fake.Hook = (nsid, n) => nsid == "com.atproto.repo.createRecord" && n == 1 ? FakePds.Error(502, "UpstreamFailure", "the sequencer is down") : null;

        var first = await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct);
        var second = await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), true, Ct);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(first);
        Assert.StartsWith("bluesky: ", transient.Error);
        Assert.Contains("502", transient.Error);
        Assert.Contains("UpstreamFailure: the sequencer is down", transient.Error);
        Assert.Null(transient.NotBefore);
        Assert.IsType<DeliveryOutcome.Sent>(second);
        Assert.Single(fake.Records);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_post_written_whose_answer_was_lost_is_reported_sent_and_not_posted_again()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        fake.Hook = (nsid, n) => nsid == "com.atproto.repo.createRecord" && n == 1
            ? new HookThenStore(FakePds.Error(504, "GatewayTimeout", "upstream timed out"))
            : null;

        var outcome = await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct);
        var retry = await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k1"), true, Ct);

        var sent = Assert.IsType<DeliveryOutcome.Sent>(outcome);
        Assert.Equal($"at://{FakePds.Did}/app.bsky.feed.post/{BlueskyRecordKey.FromIdempotencyKey("k1")}", sent.RemoteId);
        Assert.Equal(sent, retry);
        Assert.Equal(1, fake.Count("com.atproto.repo.createRecord"));
        Assert.Single(fake.Records);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_wrong_app_password_is_permanent_and_a_rejected_record_too()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;

        var login = await support.Client().PostAsync(Account(server, "wrong"), BlueskyTestSupport.Post("k1"), false, Ct);
        fake.Hook = (nsid, _) => nsid == "com.atproto.repo.createRecord" ? FakePds.Error(400, "InvalidRequest", "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes") : null;
        var record = await support.Client().PostAsync(Account(server), BlueskyTestSupport.Post("k2"), false, Ct);

        Assert.Equal("bluesky: com.atproto.server.createSession at " + server.BaseUrl + " answered 401 Unauthorized: AuthenticationRequired: Invalid identifier or password",
            Assert.IsType<DeliveryOutcome.Permanent>(login).Error);
        var rejected = Assert.IsType<DeliveryOutcome.Permanent>(record).Error;
        Assert.StartsWith("bluesky: com.atproto.repo.createRecord", rejected);
        Assert.Contains("400 Bad Request: InvalidRequest: Invalid app.bsky.feed.post record", rejected);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_unreachable_PDS_is_transient()
    {
        int port;
        using (var listener = new TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        var outcome = await support.Client().PostAsync(support.Account($"http://127.0.0.1:{port}", "x.test", "pw"), BlueskyTestSupport.Post("k1"), false, Ct);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(outcome);
        Assert.StartsWith($"bluesky: http://127.0.0.1:{port} could not be reached", transient.Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_PDS_that_does_not_answer_in_time_is_transient()
    {
        var (fake, server) = await StartAsync();
        await using var _ = server;
        fake.Hook = (nsid, _) => nsid == "com.atproto.server.createSession" ? new SlowResult() : null;
        using var http = new HttpClient { Timeout = TimeSpan.FromMilliseconds(500) };

        var outcome = await support.Client(http).PostAsync(Account(server), BlueskyTestSupport.Post("k1"), false, Ct);

        Assert.Equal($"bluesky: {server.BaseUrl} did not answer within 0.5 s (com.atproto.server.createSession)", Assert.IsType<DeliveryOutcome.Transient>(outcome).Error);
    }

    private sealed class JsonAnswer(int status, string json, params (string Name, string Value)[] headers) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json; charset=utf-8";
            foreach (var (name, value) in headers) context.Response.Headers[name] = value;
            return context.Response.WriteAsync(json);
        }
    }

    private sealed class DropResult : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Abort();
            return Task.CompletedTask;
        }
    }

    private sealed class SlowResult : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            try { await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted); } catch (OperationCanceledException) { }
        }
    }
}
