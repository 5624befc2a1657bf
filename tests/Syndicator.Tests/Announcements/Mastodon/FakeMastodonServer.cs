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
/// Media as Mastodon documents it: <c>POST /api/v2/media</c> takes multipart/form-data (<c>file</c>, an image it
/// can read; <c>description</c> of at most 1,500 characters) and answers 202 with <c>url: null</c> while processing
/// (<see cref="ProcessingPolls"/>) or 200 once processed; <c>GET /api/v1/media/:id</c> answers 206 while processing
/// and 200 after; a status whose <c>media_ids</c> are unknown or not processed yet is refused with 422.
/// Knobs: <see cref="Fail"/> answers a request instead of posting; <see cref="FailMedia"/> answers an upload instead; <see cref="LimitRate"/> runs a rate-limit window
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

    /// <summary>An uploaded image; <see cref="PollsLeft"/> GETs answer 206 before it is processed.</summary>
    public sealed class Media(string id, byte[] bytes, string? description, int pollsLeft)
    {
        public string Id { get; } = id;
        public byte[] Bytes { get; } = bytes;
        public string? Description { get; } = description;
        public int PollsLeft { get; set; } = pollsLeft;
        public int Polls { get; set; }
    }

    private readonly ConcurrentDictionary<string, Media> media = new();

    /// <summary>How many <c>GET /api/v1/media/:id</c> answer 206 before an upload is processed (0: the upload answers 200 at once).</summary>
    public int ProcessingPolls { get; set; } = 2;

    /// <summary>Called with the number of the upload; a non-null result is answered instead.</summary>
    public Func<int, IResult?> FailMedia { get; set; } = _ => null;
    private int uploads;

    public IReadOnlyList<Media> Uploads => [.. media.Values.OrderBy(m => int.Parse(m.Id))];

    /// <summary>The media ids of each status created, in order.</summary>
    public ConcurrentQueue<(string Status, string[] MediaIds)> PostedMedia { get; } = new();
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
        fake.server = await LoopbackServer.StartAsync(app =>
        {
            app.MapPost("/api/v1/statuses", (Delegate)((HttpContext c) => fake.PostAsync(c)));
            app.MapPost("/api/v2/media", (Delegate)((HttpContext c) => fake.UploadAsync(c)));
            app.MapGet("/api/v1/media/{id}", (Delegate)((HttpContext c) => fake.GetMedia(c, (string)c.Request.RouteValues["id"]!)));
        });
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
        var mediaIds = body.RootElement.TryGetProperty("media_ids", out var ids) ? ids.EnumerateArray().Select(i => i.GetString()!).ToArray() : [];
        foreach (var mediaId in mediaIds)
        {
            if (!media.TryGetValue(mediaId, out var item)) return Results.Json(new { error = "Validation failed: Media is invalid" }, statusCode: 422);
            if (item.PollsLeft > 0) return Results.Json(new { error = "Cannot attach files that have not finished processing. Try again in a moment!" }, statusCode: 422);
        }
        PostedMedia.Enqueue((status, mediaIds));

        var id = Interlocked.Increment(ref nextId).ToString();
        var json = JsonSerializer.Serialize(new { id, url = $"{BaseUrl}/@magazine/{id}", content = status });
        if (key.Length > 0) byKey[key] = json;
        Posts.Enqueue((status, body.RootElement.GetProperty("visibility").GetString()!, body.RootElement.TryGetProperty("language", out var l) ? l.GetString() : null));
        return Results.Text(json, "application/json");
    }

    private async Task<IResult> UploadAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.Headers.Authorization.ToString() != "Bearer " + Token)
            return Results.Json(new { error = "The access token is invalid" }, statusCode: 401);
        if (FailMedia(Interlocked.Increment(ref uploads)) is { } failure) return failure;
        if (!request.HasFormContentType || !request.ContentType!.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            return Results.Json(new { error = "Validation failed: File can't be blank" }, statusCode: 422);
        var form = await request.ReadFormAsync();
        var file = form.Files.GetFile("file");
        if (file is null || file.Length == 0) return Results.Json(new { error = "Validation failed: File can't be blank" }, statusCode: 422);
        var description = form["description"].ToString();
        if (description.Length > 1500) return Results.Json(new { error = "Validation failed: Description is too long (maximum is 1500 characters)" }, statusCode: 422);
        using var buffer = new MemoryStream();
        await file.CopyToAsync(buffer);
        var bytes = buffer.ToArray();
        if (Syndicator.Announcements.ImageFetcher.Sniff(bytes) is null)
            return Results.Json(new { error = "Validation failed: File content type is invalid, File is invalid" }, statusCode: 422);
        var id = Interlocked.Increment(ref nextId).ToString();
        var item = new Media(id, bytes, description.Length == 0 ? null : description, ProcessingPolls);
        media[id] = item;
        return Results.Json(Attachment(item), statusCode: item.PollsLeft > 0 ? 202 : 200);
    }

    private IResult GetMedia(HttpContext context, string id)
    {
        if (context.Request.Headers.Authorization.ToString() != "Bearer " + Token)
            return Results.Json(new { error = "The access token is invalid" }, statusCode: 401);
        if (!media.TryGetValue(id, out var item)) return Results.Json(new { error = "Record not found" }, statusCode: 404);
        lock (gate)
        {
            item.Polls++;
            if (item.PollsLeft > 0)
            {
                item.PollsLeft--;
                return Results.Json(Attachment(item, processing: true), statusCode: 206);
            }
        }
        return Results.Json(Attachment(item));
    }

    private object Attachment(Media item, bool? processing = null) => new
    {
        id = item.Id,
        type = "image",
        url = processing ?? item.PollsLeft > 0 ? null : $"{BaseUrl}/system/media/{item.Id}.png",
        description = item.Description,
    };

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
