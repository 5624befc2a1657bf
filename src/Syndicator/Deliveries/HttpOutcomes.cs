using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Syndicator.Deliveries;

/// <summary>How a service writes the reset time of its rate-limit windows.</summary>
public enum ResetFormat
{
    /// <summary>Seconds since 1970 (X, atproto).</summary>
    EpochSeconds,

    /// <summary>An ISO 8601 timestamp (Mastodon).</summary>
    Iso8601,
}

/// <summary>One rate-limit window as a service reports it: the header with the requests left and the header with its reset.</summary>
public sealed record RateLimitHeaders(string Remaining, string Reset);

/// <summary>
/// A service whose HTTP answers <see cref="HttpOutcomes"/> classifies: its name, which starts every error ("x: ..."),
/// and its rate-limit headers as the service documents them. Header names are matched without regard to case.
/// </summary>
/// <remarks>
/// Sources, checked when this was written:
/// <list type="bullet">
/// <item>X: docs.x.com/fundamentals/rate-limits — every response carries <c>x-rate-limit-limit</c>,
/// <c>x-rate-limit-remaining</c> and <c>x-rate-limit-reset</c> ("Unix timestamp when the limit resets"), 429 when
/// exceeded. Posting is also capped per 24 hours; X reports those caps in <c>x-user-limit-24hour-*</c> and
/// <c>x-app-limit-24hour-*</c> (limit/remaining/reset, reset in epoch seconds, as the X SDKs read them).</item>
/// <item>Mastodon: docs.joinmastodon.org/api/rate-limits — <c>X-RateLimit-Limit</c>, <c>X-RateLimit-Remaining</c>,
/// <c>X-RateLimit-Reset</c> ("timestamp when your rate limit will reset"; the headers describe the limit the account is
/// closest to exceeding). Mastodon's own code (app/lib/rate_limiter.rb, concerns/rate_limit_headers.rb) writes the
/// reset as <c>Time#iso8601(6)</c>, e.g. <c>2026-11-23T09:00:00.000000Z</c>; posting is 300 statuses per 3 hours.</item>
/// <item>Bluesky/atproto: docs.bsky.app/docs/advanced-guides/rate-limits (429 when a limit is crossed) and
/// atproto's packages/xrpc-server/src/rate-limiter.ts, which sets <c>RateLimit-Limit</c>, <c>RateLimit-Remaining</c>,
/// <c>RateLimit-Policy</c> and <c>RateLimit-Reset</c> = floor((now + msBeforeNext) / 1000), i.e. epoch seconds.</item>
/// <item>Any service: <c>Retry-After</c>, delta seconds or an HTTP date (RFC 9110 §10.2.3).</item>
/// </list>
/// </remarks>
public sealed record HttpService(string Name, ResetFormat ResetFormat, IReadOnlyList<RateLimitHeaders> Windows)
{
    /// <summary>The endpoint's 15-minute window first, then the 24-hour user and app caps on posting.</summary>
    public static readonly HttpService X = new("x", ResetFormat.EpochSeconds,
    [
        new("x-rate-limit-remaining", "x-rate-limit-reset"),
        new("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
        new("x-app-limit-24hour-remaining", "x-app-limit-24hour-reset"),
    ]);

    public static readonly HttpService Mastodon = new("mastodon", ResetFormat.Iso8601, [new("X-RateLimit-Remaining", "X-RateLimit-Reset")]);

    public static readonly HttpService Bluesky = new("bluesky", ResetFormat.EpochSeconds, [new("RateLimit-Remaining", "RateLimit-Reset")]);

    /// <summary>WebSub (W3C) defines no rate-limit headers; a hub may still send 429 with Retry-After.</summary>
    public static readonly HttpService WebSub = new("websub", ResetFormat.EpochSeconds, []);
}

/// <summary>
/// The one place that turns an HTTP answer, or the failure to get one, into a <see cref="DeliveryOutcome"/>, the same
/// way for every service:
/// <list type="bullet">
/// <item>2xx: the caller reads the answer and reports <see cref="Sent"/>, which pauses the recipient when a window's
/// remaining count reached 0;</item>
/// <item>429: transient, <c>NotBefore</c> and <c>PauseRecipientUntil</c> both at the reset (the latest exhausted
/// window, else the first window's reset, else Retry-After, else <see cref="DefaultPause"/>, said in the error);</item>
/// <item>408 and 5xx: transient, Retry-After as <c>NotBefore</c>;</item>
/// <item>401, 403 and every other 4xx: permanent;</item>
/// <item>a credential that is missing or cannot be read: permanent (<see cref="CredentialProblem"/>);</item>
/// <item>a connection that fails or drops, a timeout, an answer that is not the JSON expected: transient
/// (<see cref="FromException"/>).</item>
/// </list>
/// Every error starts with the service's name and keeps the service's own words, which
/// <paramref name="errorWords"/> (the only part each client writes itself) finds in the body.
/// </summary>
public sealed class HttpOutcomes(HttpService service, Func<string, string> errorWords, TimeProvider time)
{
    /// <summary>How long a 429 without any reset or Retry-After header pauses: the length of X's and Mastodon's shortest windows.</summary>
    public static readonly TimeSpan DefaultPause = TimeSpan.FromMinutes(15);

    /// <summary>The longest error text kept from a service's answer.</summary>
    public const int MaxWords = 300;

    public HttpService Service => service;

    /// <summary>A successful answer's outcome, paused until the reset when the answer says no requests are left.</summary>
    public DeliveryOutcome.Sent Sent(HttpResponseMessage response, string? remoteId, string? remoteUrl) =>
        new(remoteId, remoteUrl) { PauseRecipientUntil = PauseUntil(response) };

    /// <summary>
    /// The latest reset among the windows whose remaining count reached 0, or null when requests are left (or the
    /// service does not say). This is what a 2xx answer contributes to <see cref="DeliveryOutcome.PauseRecipientUntil"/>.
    /// </summary>
    public DateTimeOffset? PauseUntil(HttpResponseMessage response)
    {
        DateTimeOffset? latest = null;
        foreach (var window in service.Windows)
            if (Remaining(response, window) is <= 0 && Reset(response, window.Reset) is { } reset && (latest is null || reset > latest))
                latest = reset;
        return latest;
    }

    /// <summary>
    /// The outcome of a non-2xx answer to <paramref name="call"/> (e.g. "POST /2/tweets", or "com.atproto.repo.createRecord
    /// at https://bsky.social"): "service: call answered 503 Service Unavailable: the service's words".
    /// </summary>
    public DeliveryOutcome Failure(string call, HttpResponseMessage response, string body)
    {
        var status = (int)response.StatusCode;
        var error = $"{service.Name}: {call} answered {status} {response.ReasonPhrase}: {errorWords(body)}";
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            var (until, source) = RateLimitedUntil(response);
            return new DeliveryOutcome.Transient($"{error}; paused until {Format(until)} ({source})", until) { PauseRecipientUntil = until, Cause = FailureCause.Answered, Status = status };
        }
        var pause = PauseUntil(response);
        return response.StatusCode == HttpStatusCode.RequestTimeout || status >= 500
            ? new DeliveryOutcome.Transient(error, RetryAfter(response)) { PauseRecipientUntil = pause, Cause = FailureCause.Answered, Status = status }
            : new DeliveryOutcome.Permanent(error) { PauseRecipientUntil = pause, Cause = FailureCause.Answered, Status = status };
    }

    /// <summary>True for the failures <see cref="FromException"/> classifies; a cancellation the caller asked for is not one.</summary>
    public static bool IsTransportFailure(Exception e, CancellationToken cancellationToken) =>
        e is HttpRequestException or JsonException or IOException
        || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>
    /// A transient outcome for a failure to get a usable answer from <paramref name="target"/> (a base URL or hub):
    /// it could not be reached or dropped the connection, did not answer within <paramref name="timeout"/>, or
    /// answered <paramref name="call"/> with JSON that could not be read.
    /// </summary>
    public DeliveryOutcome.Transient FromException(Exception e, string target, string? call, TimeSpan timeout)
    {
        var during = call is null ? "" : $" ({call})";
        return e switch
        {
            TaskCanceledException => new($"{service.Name}: {target} did not answer within {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s{during}") { Cause = FailureCause.Timeout },
            JsonException json => new($"{service.Name}: {target} answered{(call is null ? "" : " " + call)} with JSON that could not be read: {json.Message}") { Cause = FailureCause.UnreadableAnswer },
            _ => new($"{service.Name}: {target} could not be reached{during}: {e.Message}") { Cause = FailureCause.Unreachable },
        };
    }

    /// <summary>
    /// A credential that is missing, or whose env: variable or file: cannot be read: permanent on every network,
    /// since trying again cannot help until someone sets it. <paramref name="problem"/> names the key and the fix.
    /// </summary>
    public DeliveryOutcome.Permanent CredentialProblem(string problem) => new($"{service.Name}: {problem}") { Cause = FailureCause.Credential };

    /// <summary>
    /// A service's words fit for an error: control characters (CR, LF, escape...) become spaces so a hostile answer
    /// cannot forge log lines, and the text is cut at <see cref="MaxWords"/> characters without splitting an emoji.
    /// </summary>
    public static string Shorten(string text)
    {
        var clean = new StringBuilder(Math.Min(text.Length, MaxWords + 1));
        foreach (var c in text)
        {
            clean.Append(char.IsControl(c) ? ' ' : c);
            if (clean.Length > MaxWords) break;
        }
        if (clean.Length <= MaxWords) return clean.ToString().Trim();
        var cut = MaxWords;
        if (char.IsHighSurrogate(clean[cut - 1])) cut--;
        return clean.ToString(0, cut).Trim() + "…";
    }

    /// <summary>When a 429 lets the account call again, and which header said so.</summary>
    private (DateTimeOffset Until, string Source) RateLimitedUntil(HttpResponseMessage response)
    {
        DateTimeOffset? latest = null;
        string? source = null;
        for (var i = 0; i < service.Windows.Count; i++)
        {
            var window = service.Windows[i];
            // The first window is the one the 429 is about even when the service leaves out its remaining count.
            if ((i == 0 || Remaining(response, window) is <= 0) && Reset(response, window.Reset) is { } reset && (latest is null || reset > latest))
                (latest, source) = (reset, window.Reset);
        }
        if (latest is { } until) return (until, source!);
        if (RetryAfter(response) is { } retryAfter) return (retryAfter, "Retry-After");
        return (time.GetUtcNow() + DefaultPause, $"no reset or Retry-After header; waiting the default {DefaultPause.TotalMinutes:0} minutes");
    }

    private DateTimeOffset? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Date: { } date } => date,
        { Delta: { } delta } => time.GetUtcNow() + delta,
        _ => null,
    };

    private static long? Remaining(HttpResponseMessage response, RateLimitHeaders window) =>
        long.TryParse(Header(response, window.Remaining), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var remaining) ? remaining : null;

    private DateTimeOffset? Reset(HttpResponseMessage response, string name)
    {
        var value = Header(response, name);
        if (string.IsNullOrEmpty(value)) return null;
        if (service.ResetFormat == ResetFormat.Iso8601)
            return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return null;
        // A number too small to be a time after 2001 is the IETF RateLimit draft's "seconds from now", which some
        // proxies in front of a PDS send; read as epoch seconds it would mean "reset in 1970", i.e. no wait at all.
        return seconds < 1_000_000_000 ? time.GetUtcNow() + TimeSpan.FromSeconds(seconds) : DateTimeOffset.FromUnixTimeSeconds(seconds);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()?.Trim() : null;

    private static string Format(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
