using Microsoft.Extensions.Time.Testing;
using Syndicator.Announcements;
using Syndicator.Announcements.X;
using Syndicator.Deliveries;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.X;

public sealed class XClientTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string ArticleUrl = "https://magazine.example/2026/11/the-regime-and-its-mystique";
    private static readonly ComposedPost Article = XTestAccount.Post("The regime and its mystique, by Hassan Mahmoudi\n\n" + ArticleUrl, ArticleUrl);
    private static readonly string TimelineRequest = $"GET /2/users/{FakeXServer.UserId}/tweets?max_results=20&tweet.fields=entities";

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_post_is_accepted_and_returns_its_id_and_status_url()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        var sent = Assert.IsType<DeliveryOutcome.Sent>(outcome);
        Assert.Matches("^[0-9]+$", sent.RemoteId);
        Assert.Equal("https://x.com/i/web/status/" + sent.RemoteId, sent.RemoteUrl);
        Assert.Equal([Article.Text], server.PostedTexts);
        Assert.Equal(1, server.AcceptedPosts);
        Assert.Empty(server.Rejections);
        Assert.Equal(["POST /2/tweets"], server.Requests); // a first attempt posts without looking anything up
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Secrets_can_come_from_a_file_reference_relative_to_the_content_root()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server, consumerSecretInFile: true);

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        Assert.IsType<DeliveryOutcome.Sent>(outcome);
        Assert.Equal(1, server.AcceptedPosts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_wrong_consumer_secret_is_a_permanent_failure_naming_x_and_401()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server, consumerSecret: "not-the-secret");

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(outcome);
        Assert.StartsWith("x: ", failed.Error);
        Assert.Contains("401", failed.Error);
        Assert.Contains("Unauthorized", failed.Error);
        Assert.StartsWith("signature mismatch", Assert.Single(server.Rejections));
        Assert.Equal(0, server.AcceptedPosts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_clock_more_than_five_minutes_off_is_refused_by_x_and_reported_as_permanent()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        var slowClock = new FakeTimeProvider(DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10));

        var outcome = await x.Client(time: slowClock).PostAsync(x.Account, Article, isRetry: false, Ct);

        Assert.Contains("401", Assert.IsType<DeliveryOutcome.Permanent>(outcome).Error);
        Assert.StartsWith("timestamp is", Assert.Single(server.Rejections));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_missing_secret_is_a_permanent_failure_that_names_the_credential_without_calling_x()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        x.Account.Credentials["AccessTokenSecret"] = "env:SYN_TEST_X_" + Guid.NewGuid().ToString("N") + "_UNSET";

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(outcome);
        Assert.StartsWith("x: ", failed.Error);
        Assert.Contains("AccessTokenSecret", failed.Error);
        Assert.Contains("is not set", failed.Error);
        Assert.Empty(server.Requests);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Rate_limiting_is_transient_and_not_before_is_x_rate_limit_reset()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        var reset = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 900);
        server.Inject(new FakeXServer.Fault.RateLimited(reset));

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(outcome);
        Assert.Equal(reset, transient.NotBefore);
        Assert.Equal(reset, transient.PauseRecipientUntil);
        Assert.StartsWith("x: ", transient.Error);
        Assert.Contains("429", transient.Error);
        Assert.Equal(0, server.AcceptedPosts);
    }

    [Fact]
    public void An_exhausted_24_hour_user_cap_waits_for_its_own_reset_rather_than_the_15_minute_window()
    {
        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.TooManyRequests);
        response.Headers.Add("x-rate-limit-reset", "1800000000");
        response.Headers.Add("x-user-limit-24hour-remaining", "0");
        response.Headers.Add("x-user-limit-24hour-reset", "1800050000");
        response.Headers.Add("x-app-limit-24hour-remaining", "12");
        response.Headers.Add("x-app-limit-24hour-reset", "1800090000");

        var outcome = new HttpOutcomes(HttpService.X, XClient.ErrorText, TimeProvider.System).Failure("POST /2/tweets", response, "");

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1800050000), Assert.IsType<DeliveryOutcome.Transient>(outcome).NotBefore);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_window_of_two_posts_sends_two_pauses_on_the_second_and_refuses_the_third_until_x_resets_it()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_795_000_000));
        server.Time = clock;
        server.LimitRate(2, TimeSpan.FromMinutes(15));
        var client = x.Client(time: clock);
        var reset = clock.GetUtcNow().AddMinutes(15);

        var first = Assert.IsType<DeliveryOutcome.Sent>(await client.PostAsync(x.Account, Post(1), isRetry: false, Ct));
        var second = Assert.IsType<DeliveryOutcome.Sent>(await client.PostAsync(x.Account, Post(2), isRetry: false, Ct));
        var third = Assert.IsType<DeliveryOutcome.Transient>(await client.PostAsync(x.Account, Post(3), isRetry: false, Ct));

        Assert.Null(first.PauseRecipientUntil); // one request left
        Assert.Equal(reset, second.PauseRecipientUntil); // x-rate-limit-remaining: 0
        Assert.Equal(reset, third.NotBefore);
        Assert.Equal(reset, third.PauseRecipientUntil);
        Assert.StartsWith("x: POST /2/tweets answered 429 Too Many Requests: Too Many Requests", third.Error);
        Assert.Equal(2, server.AcceptedPosts);
        Assert.Equal(1, server.RateLimited);

        clock.SetUtcNow(reset);
        Assert.IsType<DeliveryOutcome.Sent>(await client.PostAsync(x.Account, Post(3), isRetry: false, Ct));
        Assert.Equal(3, server.AcceptedPosts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_used_up_24_hour_user_cap_pauses_until_the_day_resets_even_with_the_15_minute_window_open()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_795_000_000));
        server.Time = clock;
        server.LimitRate(100, TimeSpan.FromMinutes(15));
        server.LimitRate(1, TimeSpan.FromHours(24), headers: "x-user-limit-24hour");
        var client = x.Client(time: clock);
        var day = clock.GetUtcNow().AddHours(24);

        var sent = Assert.IsType<DeliveryOutcome.Sent>(await client.PostAsync(x.Account, Post(1), isRetry: false, Ct));
        var refused = Assert.IsType<DeliveryOutcome.Transient>(await client.PostAsync(x.Account, Post(2), isRetry: false, Ct));

        Assert.Equal(day, sent.PauseRecipientUntil);
        Assert.Equal(day, refused.NotBefore);
        Assert.Equal(day, refused.PauseRecipientUntil);
        Assert.Contains("x-user-limit-24hour-reset", refused.Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_503_with_retry_after_is_transient_until_then()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        server.Inject(new FakeXServer.Fault.Answer(503, Headers: new Dictionary<string, string> { ["Retry-After"] = "120" }));

        var outcome = await x.Client(time: clock).PostAsync(x.Account, Article, isRetry: false, Ct);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(outcome);
        Assert.Equal(clock.GetUtcNow().AddSeconds(120), transient.NotBefore);
        Assert.Null(transient.PauseRecipientUntil);
        Assert.StartsWith("x: POST /2/tweets answered 503", transient.Error);
    }

    private static ComposedPost Post(int n) =>
        XTestAccount.Post($"Article {n}: https://magazine.example/2026/11/article-{n}", $"https://magazine.example/2026/11/article-{n}");

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(503)]
    [InlineData(500)]
    [InlineData(502)]
    public async Task A_server_error_is_transient(int status)
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Inject(new FakeXServer.Fault.Answer(status));

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(outcome);
        Assert.StartsWith("x: POST /2/tweets answered " + status, transient.Error);
        Assert.Null(transient.NotBefore);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_rejected_request_is_permanent_and_keeps_x_title_detail_and_error_messages()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Inject(new FakeXServer.Fault.Answer(400, FakeXServer.InvalidRequest("text: Post text is too long")));

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        Assert.Equal(
            "x: POST /2/tweets answered 400 Bad Request: Invalid Request: One or more parameters to your request was invalid.: text: Post text is too long",
            Assert.IsType<DeliveryOutcome.Permanent>(outcome).Error);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(403, "You are not permitted to perform this action.")]
    [InlineData(422, "The request could not be processed.")]
    public async Task Other_client_errors_are_permanent(int status, string detail)
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Inject(new FakeXServer.Fault.Answer(status, FakeXServer.Problem("Forbidden", detail)));

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(outcome);
        Assert.Contains(status.ToString(), failed.Error);
        Assert.Contains(detail, failed.Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_timeout_is_transient()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Inject(new FakeXServer.Fault.Delay(TimeSpan.FromSeconds(30)));

        var outcome = await x.Client(timeout: TimeSpan.FromMilliseconds(300)).PostAsync(x.Account, Article, isRetry: false, Ct);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(outcome);
        Assert.Equal($"x: {server.BaseUrl} did not answer within 0.3 s (POST /2/tweets)", transient.Error);
        Assert.Equal(0, server.AcceptedPosts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_dropped_connection_is_transient()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Inject(new FakeXServer.Fault.DropConnection());

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(outcome);
        Assert.StartsWith($"x: {server.BaseUrl} could not be reached (POST /2/tweets): ", transient.Error);
        Assert.Equal(0, server.AcceptedPosts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_unreachable_api_is_transient()
    {
        using var x = new XTestAccount("http://127.0.0.1:1", "1-token");

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        Assert.Contains("could not be reached", Assert.IsType<DeliveryOutcome.Transient>(outcome).Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Duplicate_content_is_treated_as_already_sent_with_the_existing_post_and_not_posted_again()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        var client = x.Client();
        var first = Assert.IsType<DeliveryOutcome.Sent>(await client.PostAsync(x.Account, Article, isRetry: false, Ct));

        var again = await client.PostAsync(x.Account, Article, isRetry: false, Ct);

        var sent = Assert.IsType<DeliveryOutcome.Sent>(again);
        Assert.Equal(first.RemoteId, sent.RemoteId);
        Assert.Equal(first.RemoteUrl, sent.RemoteUrl);
        Assert.Equal(1, server.AcceptedPosts);
        Assert.Equal(2, server.Count("POST /2/tweets")); // X refused the second one with 403 duplicate content
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Duplicate_content_is_still_sent_when_the_timeline_cannot_be_read()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Seed(Article.Text);
        server.Inject(new FakeXServer.Fault.Answer(503), route: "GET /2/users/me");

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);

        Assert.Equal(new DeliveryOutcome.Sent(null, null), outcome);
        Assert.Equal(0, server.AcceptedPosts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_retry_after_a_crash_between_send_and_record_finds_the_post_and_does_not_post_again()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        var first = Assert.IsType<DeliveryOutcome.Sent>(await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct));

        // The process died before recording the outcome; the worker retries the delivery with a fresh client.
        var retry = await x.Client().PostAsync(x.Account, Article, isRetry: true, Ct);

        var sent = Assert.IsType<DeliveryOutcome.Sent>(retry);
        Assert.Equal(first.RemoteId, sent.RemoteId);
        Assert.Equal(1, server.AcceptedPosts);
        Assert.Equal(1, server.Count("POST /2/tweets"));
        Assert.Equal(1, server.Count(TimelineRequest));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_signature_covers_the_query_of_the_timeline_read_and_x_accepts_it()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Seed("Older post");

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: true, Ct);

        Assert.IsType<DeliveryOutcome.Sent>(outcome);
        Assert.Equal(["GET /2/users/me", TimelineRequest, "POST /2/tweets"], server.Requests);
        Assert.Empty(server.Rejections); // all three, the query-bearing GET included, passed the server's signature check
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_post_whose_answer_was_lost_is_found_by_its_url_on_retry_even_with_other_text()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Inject(new FakeXServer.Fault.DropConnection(AfterProcessing: true), route: "POST /2/tweets");
        var lost = await x.Client().PostAsync(x.Account, Article, isRetry: false, Ct);
        Assert.IsType<DeliveryOutcome.Transient>(lost);
        Assert.Equal(1, server.AcceptedPosts);

        // The template changed in between: the text differs, the article URL (a t.co link in X's text) does not.
        var reworded = Article with { Text = "Now reworded: " + ArticleUrl };
        var retry = await x.Client().PostAsync(x.Account, reworded, isRetry: true, Ct);

        var sent = Assert.IsType<DeliveryOutcome.Sent>(retry);
        Assert.NotNull(sent.RemoteId);
        Assert.Equal(1, server.AcceptedPosts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_post_that_timed_out_but_was_created_is_found_on_retry()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Inject(new FakeXServer.Fault.Delay(TimeSpan.FromSeconds(30), AfterProcessing: true), route: "POST /2/tweets");
        Assert.IsType<DeliveryOutcome.Transient>(await x.Client(timeout: TimeSpan.FromMilliseconds(500)).PostAsync(x.Account, Article, isRetry: false, Ct));

        var retry = await x.Client().PostAsync(x.Account, Article, isRetry: true, Ct);

        Assert.IsType<DeliveryOutcome.Sent>(retry);
        Assert.Equal(1, server.AcceptedPosts);
        Assert.Equal(1, server.Count("POST /2/tweets"));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_retry_with_no_earlier_post_on_the_timeline_posts_once()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Seed("Another article: https://magazine.example/2026/10/another");

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: true, Ct);

        Assert.IsType<DeliveryOutcome.Sent>(outcome);
        Assert.Equal(1, server.AcceptedPosts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_user_id_is_looked_up_once_per_account()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Seed(Article.Text);

        await x.Client().PostAsync(x.Account, Article, isRetry: true, Ct);
        await x.Client().PostAsync(x.Account, Article, isRetry: true, Ct);

        Assert.Equal(1, server.Count("GET /2/users/me"));
        Assert.Equal(2, server.Count(TimelineRequest));
        Assert.Equal(0, server.Count("POST /2/tweets"));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_retry_whose_timeline_read_fails_transiently_does_not_post()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Inject(new FakeXServer.Fault.Answer(503), route: "GET /2/users/");

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: true, Ct);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(outcome);
        Assert.StartsWith("x: GET /2/users/me answered 503", transient.Error);
        Assert.Equal(0, server.Count("POST /2/tweets"));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_retry_whose_timeline_read_is_forbidden_falls_back_on_x_refusing_duplicates()
    {
        await using var server = await FakeXServer.StartAsync();
        using var x = new XTestAccount(server);
        server.Seed(Article.Text);
        // An access level without timeline reads: the lookup is refused, the post is tried and X refuses the duplicate.
        server.Inject(new FakeXServer.Fault.Answer(403, FakeXServer.Problem("Client Forbidden", "This request must be made using an approved developer account.")), route: "GET /2/users/", times: 10);

        var outcome = await x.Client().PostAsync(x.Account, Article, isRetry: true, Ct);

        Assert.Equal(new DeliveryOutcome.Sent(null, null), outcome);
        Assert.Equal(0, server.AcceptedPosts);
        Assert.Equal(1, server.Count("POST /2/tweets"));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_client_reports_itself_as_the_x_network()
    {
        using var x = new XTestAccount("http://127.0.0.1:1", "1-token");

        Assert.Equal(Network.X, x.Client().Network);
    }

    [Fact]
    public void A_timeline_post_matches_by_expanded_url_not_by_its_t_co_link_or_a_lookalike()
    {
        const string timeline = """
            {"data":[
              {"id":"1","text":"Other https://t.co/a","entities":{"urls":[{"url":"https://t.co/a","expanded_url":"https://magazine.example/2026/11/the-regime-and-its-mystique-2"}]}},
              {"id":"2","text":"Ours https://t.co/b","entities":{"urls":[{"url":"https://t.co/b","expanded_url":"https://MAGAZINE.example/2026/11/the-regime-and-its-mystique/"}]}}
            ],"meta":{"result_count":2}}
            """;

        Assert.Equal("2", XClient.FindPostLinking(timeline, ArticleUrl));
        Assert.Null(XClient.FindPostLinking("""{"meta":{"result_count":0}}""", ArticleUrl));
        Assert.Null(XClient.FindPostLinking(timeline, "")); // a post without a URL can never match every post
        Assert.Null(XClient.FindPostLinking(timeline, "https://magazine.example/2026/11/the-regime"));
    }
}
