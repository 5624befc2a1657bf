using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Deliveries;

namespace Syndicator.Tests.Deliveries;

/// <summary>
/// The classifier on answers built in memory, with each network's headers as it documents them. The loopback tests of
/// each client (XClientTests, MastodonClientTests, BlueskyClientFakeServerTests, WebSubClientTests) prove the same
/// rules over real HTTP.
/// </summary>
public sealed class HttpOutcomesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 8, 30, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider time = new(Now);

    private HttpOutcomes Outcomes(HttpService service) => new(service, HttpOutcomes.Shorten, time);

    private static HttpResponseMessage Answer(int status, params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage((HttpStatusCode)status);
        foreach (var (name, value) in headers) response.Headers.TryAddWithoutValidation(name, value);
        return response;
    }

    public static TheoryData<string, string, string, string, long> Networks => new()
    {
        // service, remaining header, reset header, reset value, reset in epoch seconds
        { "x", "x-rate-limit-remaining", "x-rate-limit-reset", "1795420800", 1795420800 },
        { "mastodon", "X-RateLimit-Remaining", "X-RateLimit-Reset", "2026-11-23T09:00:00.000000Z", new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds() },
        { "bluesky", "RateLimit-Remaining", "RateLimit-Reset", "1795420800", 1795420800 },
        { "bluesky", "ratelimit-remaining", "ratelimit-reset", "1795420800", 1795420800 },
    };

    private static HttpService Service(string name) => name switch
    {
        "x" => HttpService.X,
        "mastodon" => HttpService.Mastodon,
        "bluesky" => HttpService.Bluesky,
        _ => HttpService.WebSub,
    };

    [Theory]
    [MemberData(nameof(Networks))]
    public void A_429_is_transient_until_the_networks_reset_and_pauses_the_recipient_until_then(string service, string remaining, string reset, string value, long epoch)
    {
        using var response = Answer(429, (remaining, "0"), (reset, value));

        var outcome = Outcomes(Service(service)).Failure("POST /post", response, "Too many requests");

        var transient = Assert.IsType<DeliveryOutcome.Transient>(outcome);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(epoch), transient.NotBefore);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(epoch), transient.PauseRecipientUntil);
        Assert.StartsWith($"{service}: POST /post answered 429 Too Many Requests: Too many requests", transient.Error);
        Assert.Contains(reset, transient.Error, StringComparison.OrdinalIgnoreCase); // says which header set the pause
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void A_2xx_whose_remaining_count_reached_0_is_sent_and_pauses_the_recipient_until_the_reset(string service, string remaining, string reset, string value, long epoch)
    {
        using var last = Answer(200, (remaining, "0"), (reset, value));
        using var more = Answer(200, (remaining, "1"), (reset, value));

        var sent = Outcomes(Service(service)).Sent(last, "1", null);

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(epoch), sent.PauseRecipientUntil);
        Assert.Null(Outcomes(Service(service)).Sent(more, "2", null).PauseRecipientUntil);
    }

    [Fact]
    public void An_exhausted_24_hour_user_cap_on_x_waits_for_its_own_reset_rather_than_the_15_minute_window()
    {
        using var response = Answer(429,
            ("x-rate-limit-remaining", "87"), ("x-rate-limit-reset", "1800000000"),
            ("x-user-limit-24hour-remaining", "0"), ("x-user-limit-24hour-reset", "1800050000"),
            ("x-app-limit-24hour-remaining", "12"), ("x-app-limit-24hour-reset", "1800090000"));

        var transient = Assert.IsType<DeliveryOutcome.Transient>(Outcomes(HttpService.X).Failure("POST /2/tweets", response, ""));

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1800050000), transient.NotBefore);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1800050000), transient.PauseRecipientUntil);
        Assert.Contains("x-user-limit-24hour-reset", transient.Error);
    }

    [Fact]
    public void A_post_that_used_the_last_of_xs_daily_cap_pauses_until_the_cap_resets()
    {
        using var response = Answer(201,
            ("x-rate-limit-remaining", "99"), ("x-rate-limit-reset", "1800000000"),
            ("x-app-limit-24hour-remaining", "0"), ("x-app-limit-24hour-reset", "1800090000"));

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1800090000), Outcomes(HttpService.X).Sent(response, "1", null).PauseRecipientUntil);
    }

    [Fact]
    public void A_429_without_a_reset_header_waits_for_retry_after_in_seconds_from_the_time_provider()
    {
        using var response = Answer(429, ("Retry-After", "120"));

        var transient = Assert.IsType<DeliveryOutcome.Transient>(Outcomes(HttpService.WebSub).Failure("https://hub.example/", response, "slow down"));

        Assert.Equal(Now.AddSeconds(120), transient.NotBefore);
        Assert.Equal(Now.AddSeconds(120), transient.PauseRecipientUntil);
        Assert.Contains("Retry-After", transient.Error);
    }

    [Fact]
    public void A_429_with_retry_after_as_an_http_date_waits_until_that_date()
    {
        using var response = Answer(429, ("Retry-After", "Mon, 23 Nov 2026 09:15:00 GMT"));

        var transient = Assert.IsType<DeliveryOutcome.Transient>(Outcomes(HttpService.Mastodon).Failure("POST /api/v1/statuses", response, ""));

        Assert.Equal(new DateTimeOffset(2026, 11, 23, 9, 15, 0, TimeSpan.Zero), transient.NotBefore);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("mastodon")]
    [InlineData("bluesky")]
    [InlineData("websub")]
    public void A_429_with_no_time_at_all_waits_the_default_and_says_so(string service)
    {
        using var response = Answer(429);

        var transient = Assert.IsType<DeliveryOutcome.Transient>(Outcomes(Service(service)).Failure("call", response, ""));

        Assert.Equal(Now + HttpOutcomes.DefaultPause, transient.NotBefore);
        Assert.Equal(Now + HttpOutcomes.DefaultPause, transient.PauseRecipientUntil);
        Assert.Contains("default 15 minutes", transient.Error);
    }

    [Theory]
    [InlineData("x", "x-rate-limit-reset", "soon")]
    [InlineData("mastodon", "X-RateLimit-Reset", "1795420800")] // epoch where Mastodon writes ISO 8601
    [InlineData("bluesky", "RateLimit-Reset", "-5")]
    public void An_unreadable_reset_header_falls_back_on_retry_after(string service, string header, string value)
    {
        using var response = Answer(429, (header, value), ("Retry-After", "60"));

        var transient = Assert.IsType<DeliveryOutcome.Transient>(Outcomes(Service(service)).Failure("call", response, ""));

        Assert.Equal(Now.AddSeconds(60), transient.NotBefore);
    }

    [Fact]
    public void A_reset_too_small_to_be_a_date_is_read_as_seconds_from_now()
    {
        // The IETF RateLimit draft's form, sent by some proxies in front of a PDS; as epoch seconds it would be 1970.
        using var response = Answer(429, ("RateLimit-Remaining", "0"), ("RateLimit-Reset", "30"));

        var transient = Assert.IsType<DeliveryOutcome.Transient>(Outcomes(HttpService.Bluesky).Failure("call", response, ""));

        Assert.Equal(Now.AddSeconds(30), transient.NotBefore);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(504)]
    [InlineData(408)]
    public void A_5xx_or_408_is_transient_and_honours_retry_after_without_pausing_the_recipient(int status)
    {
        using var response = Answer(status, ("Retry-After", "90"));

        var transient = Assert.IsType<DeliveryOutcome.Transient>(Outcomes(HttpService.X).Failure("POST /2/tweets", response, "{\"title\":\"Service Unavailable\"}"));

        Assert.Equal(Now.AddSeconds(90), transient.NotBefore);
        Assert.Null(transient.PauseRecipientUntil);
        Assert.StartsWith($"x: POST /2/tweets answered {status} ", transient.Error);
    }

    [Fact]
    public void A_5xx_without_retry_after_leaves_the_wait_to_the_worker()
    {
        using var response = Answer(503);

        Assert.Null(Assert.IsType<DeliveryOutcome.Transient>(Outcomes(HttpService.WebSub).Failure("hub", response, "")).NotBefore);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(403)]
    [InlineData(404)]
    [InlineData(410)]
    [InlineData(413)]
    [InlineData(422)]
    public void Other_4xx_are_permanent_and_keep_the_services_words(int status)
    {
        using var response = Answer(status);

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(Outcomes(HttpService.Mastodon).Failure("POST /api/v1/statuses at https://m.example", response, "این توکن معتبر نیست 🚫"));

        Assert.StartsWith($"mastodon: POST /api/v1/statuses at https://m.example answered {status} ", failed.Error);
        Assert.EndsWith(": این توکن معتبر نیست 🚫", failed.Error);
        Assert.Null(failed.PauseRecipientUntil);
    }

    [Fact]
    public void A_refusal_that_also_used_up_the_window_pauses_the_recipient_too()
    {
        using var response = Answer(422, ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "2026-11-23T09:00:00Z"));

        var failed = Assert.IsType<DeliveryOutcome.Permanent>(Outcomes(HttpService.Mastodon).Failure("POST", response, "Validation failed"));

        Assert.Equal(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero), failed.PauseRecipientUntil);
    }

    [Fact]
    public void A_credential_problem_is_permanent_and_names_the_service()
    {
        var failed = Outcomes(HttpService.Bluesky).CredentialProblem("Announcements account a Credentials:AppPassword is missing.");

        Assert.Equal("bluesky: Announcements account a Credentials:AppPassword is missing.", failed.Error);
    }

    [Fact]
    public void Failures_to_get_an_answer_are_transient_and_say_what_happened_where()
    {
        var outcomes = Outcomes(HttpService.X);

        var unreachable = outcomes.FromException(new HttpRequestException("Connection refused"), "https://api.x.com", "POST /2/tweets", TimeSpan.FromSeconds(30));
        var slow = outcomes.FromException(new TaskCanceledException(), "https://api.x.com", "GET /2/users/me", TimeSpan.FromSeconds(2.5));
        var garbled = outcomes.FromException(new JsonException("'<' is an invalid start of a value."), "https://api.x.com", "POST /2/tweets", TimeSpan.FromSeconds(30));

        Assert.Equal("x: https://api.x.com could not be reached (POST /2/tweets): Connection refused", unreachable.Error);
        Assert.Equal("x: https://api.x.com did not answer within 2.5 s (GET /2/users/me)", slow.Error);
        Assert.StartsWith("x: https://api.x.com answered POST /2/tweets with JSON that could not be read", garbled.Error);
        Assert.All([unreachable, slow, garbled], t => Assert.Null(t.NotBefore));
    }

    [Fact]
    public void A_cancellation_the_caller_asked_for_is_not_a_transport_failure()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.True(HttpOutcomes.IsTransportFailure(new TaskCanceledException(), CancellationToken.None));
        Assert.False(HttpOutcomes.IsTransportFailure(new TaskCanceledException(), cancelled.Token));
        Assert.True(HttpOutcomes.IsTransportFailure(new HttpRequestException("reset"), cancelled.Token));
        Assert.False(HttpOutcomes.IsTransportFailure(new InvalidOperationException(), CancellationToken.None));
    }

    [Fact]
    public void Words_from_a_hostile_answer_cannot_forge_log_lines()
    {
        var words = HttpOutcomes.Shorten("bad token\r\n2026-11-23 INFO Delivery 7 sent\u001b[2J\0");

        Assert.DoesNotContain('\r', words);
        Assert.DoesNotContain('\n', words);
        Assert.DoesNotContain('\u001b', words);
        Assert.DoesNotContain('\0', words);
        Assert.StartsWith("bad token  2026-11-23 INFO", words);
    }

    [Fact]
    public void A_huge_answer_is_cut_without_splitting_an_emoji()
    {
        var text = new string('a', HttpOutcomes.MaxWords - 1) + "😀" + new string('b', 100_000);

        var words = HttpOutcomes.Shorten(text);

        Assert.Equal(new string('a', HttpOutcomes.MaxWords - 1) + "…", words);
        Assert.Equal("", HttpOutcomes.Shorten(""));
        Assert.Equal("短い エラー 🙂", HttpOutcomes.Shorten("  短い エラー 🙂  "));
    }
}
