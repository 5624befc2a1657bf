using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Mastodon;

/// <summary>
/// A loopback Mastodon that checks the bearer token as the real one does (401 "The access token is invalid"),
/// honours Idempotency-Key (a repeated key returns the status it created), and can inject failures.
/// Knobs: <see cref="Fail"/> answers a request instead of posting; <see cref="LimitRate"/> runs a rate-limit window
/// with Mastodon's headers (see there); <see cref="Time"/> is the clock the window runs on.
/// </summary>
public sealed class FakeMastodonServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, string> byKey = new();
    private readonly Lock gate = new();
    private LoopbackServer server = null!;
    private int nextId = 100;
    private (int Limit, TimeSpan Period)? rateLimit;
    private long windowNumber = -1;
    private int used;

    public string Token { get; } = "token-" + Guid.NewGuid().ToString("N");
    public ConcurrentQueue<(string Status, string Visibility, string? Language)> Posts { get; } = new();

    /// <summary>Called with the number of the request; a non-null result is answered instead of posting.</summary>
    public Func<int, IResult?> Fail { get; set; } = _ => null;
    private int requests;

    /// <summary>The server's clock for <see cref="LimitRate"/>'s windows; a FakeTimeProvider lets a test move past a reset.</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Authenticated requests answered 429 by the rate limit so far.</summary>
    public int RateLimited { get { lock (gate) return rateLimited; } }
    private int rateLimited;

    public string BaseUrl => server.BaseUrl;

    public static async Task<FakeMastodonServer> StartAsync()
    {
        var fake = new FakeMastodonServer();
        fake.server = await LoopbackServer.StartAsync(app => app.MapPost("/api/v1/statuses", (Delegate)((HttpContext c) => fake.PostAsync(c))));
        return fake;
    }

    /// <summary>
    /// Knob: limit the account to <paramref name="requests"/> statuses per <paramref name="period"/>, as Mastodon's
    /// rate limiter does (windows aligned on the epoch: a 3-hour period resets at 00:00, 03:00... UTC). Every
    /// authenticated answer then carries <c>X-RateLimit-Limit</c>, <c>X-RateLimit-Remaining</c> and
    /// <c>X-RateLimit-Reset</c> (ISO 8601 with microseconds, as Mastodon writes it); once the window is used up,
    /// requests are answered 429 <c>{"error":"Too many requests"}</c> until the reset. Real Mastodon: 300 per 3 hours.
    /// </summary>
    public void LimitRate(int requests, TimeSpan period)
    {
        lock (gate)
        {
            rateLimit = (requests, period);
            windowNumber = -1;
        }
    }

    private async Task<IResult> PostAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.Headers.Authorization.ToString() != "Bearer " + Token)
            return Results.Json(new { error = "The access token is invalid" }, statusCode: 401);
        if (!TakeFromWindow(context.Response)) return Results.Json(new { error = "Too many requests" }, statusCode: 429);
        if (Fail(Interlocked.Increment(ref requests)) is { } failure) return failure;

        using var body = await JsonDocument.ParseAsync(request.Body);
        var status = body.RootElement.GetProperty("status").GetString()!;
        if (string.IsNullOrWhiteSpace(status)) return Results.Json(new { error = "Validation failed: Text can't be blank" }, statusCode: 422);
        var key = request.Headers["Idempotency-Key"].ToString();
        if (key.Length > 0 && byKey.TryGetValue(key, out var existing)) return Results.Text(existing, "application/json");

        var id = Interlocked.Increment(ref nextId).ToString();
        var json = JsonSerializer.Serialize(new { id, url = $"{BaseUrl}/@magazine/{id}", content = status });
        if (key.Length > 0) byKey[key] = json;
        Posts.Enqueue((status, body.RootElement.GetProperty("visibility").GetString()!, body.RootElement.TryGetProperty("language", out var l) ? l.GetString() : null));
        return Results.Text(json, "application/json");
    }

    /// <summary>Counts the request against the window and writes the headers; false when the window is used up.</summary>
    private bool TakeFromWindow(HttpResponse response)
    {
        lock (gate)
        {
            if (rateLimit is not var (limit, period)) return true;
            var now = Time.GetUtcNow();
            var periodSeconds = (long)period.TotalSeconds;
            var number = now.ToUnixTimeSeconds() / periodSeconds;
            if (number != windowNumber) (windowNumber, used) = (number, 0);
            var allowed = used < limit;
            if (allowed) used++;
            else rateLimited++;
            var reset = DateTimeOffset.FromUnixTimeSeconds((number + 1) * periodSeconds);
            response.Headers["X-RateLimit-Limit"] = limit.ToString(CultureInfo.InvariantCulture);
            response.Headers["X-RateLimit-Remaining"] = (limit - used).ToString(CultureInfo.InvariantCulture);
            response.Headers["X-RateLimit-Reset"] = reset.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
            return allowed;
        }
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
