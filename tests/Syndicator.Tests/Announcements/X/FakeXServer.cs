using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.X;

/// <summary>
/// A loopback X API v2 that authenticates like X: it parses the OAuth 1.0a <c>Authorization</c> header, recomputes
/// the HMAC-SHA1 signature from the request as it arrived (method, scheme://host:port/path, query, oauth_* and
/// form-body parameters; a JSON body is not signed) with the known secrets, and answers 401 with X's problem body
/// when the signature does not match, the keys are unknown, the timestamp is more than five minutes off, or the
/// nonce was seen before. The signature check is written independently of <c>OAuth1Signer</c> (it encodes with
/// <see cref="Uri.EscapeDataString(string)"/>), so the two cross-check each other.
/// Endpoints: <c>POST /2/tweets</c> (403 on duplicate text, like X), <c>GET /2/users/me</c>,
/// <c>GET /2/users/:id/tweets</c> (URLs in text shortened to t.co, originals in <c>entities.urls</c>),
/// <c>POST /2/media/upload</c> (multipart/form-data only, whose fields are not signed, as OAuth 1.0a has it; a
/// <c>media</c> file part that must be a JPEG, PNG, GIF or WebP of at most 5 MB, <c>media_category</c> tweet_image),
/// <c>POST /2/media/metadata</c> (alt text of an uploaded id, at most 1,000 characters) and <c>media.media_ids</c> on a
/// post (ids this server gave, else 400 as X answers).
/// Knobs: <see cref="Inject"/> queues failures (429 with <c>x-rate-limit-reset</c>, any status with any headers, a slow
/// answer, a dropped connection); <see cref="LimitRate"/> runs rate-limit windows with X's headers (see there);
/// <see cref="Time"/> is the clock of the timestamp check and of the windows.
/// </summary>
public sealed partial class FakeXServer : IAsyncDisposable
{
    public const string ConsumerKey = "fake-consumer-key";
    public const string ConsumerSecret = "fake/consumer+secret&=";
    public const string AccessTokenSecret = "fake token secret ☃";
    public const string UserId = "1000000001";
    public const string Username = "fakemagazine";
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    public abstract record Fault
    {
        /// <summary>429 Too Many Requests with <c>x-rate-limit-remaining: 0</c> and <c>x-rate-limit-reset</c> (epoch seconds).</summary>
        public sealed record RateLimited(DateTimeOffset Reset) : Fault;

        /// <summary>This status with <paramref name="Json"/>, or X's problem body for it, and these extra headers (e.g. Retry-After).</summary>
        public sealed record Answer(int Status, string? Json = null, IReadOnlyDictionary<string, string>? Headers = null) : Fault;

        /// <summary>Waits before answering; with <paramref name="AfterProcessing"/> the request takes effect first (a post is created, its answer late).</summary>
        public sealed record Delay(TimeSpan Duration, bool AfterProcessing = false) : Fault;

        /// <summary>Aborts the connection; with <paramref name="AfterProcessing"/> the request takes effect first (a post is created, its answer lost).</summary>
        public sealed record DropConnection(bool AfterProcessing = false) : Fault;
    }

    private sealed record Tweet(string Id, string Text, string ShownText, IReadOnlyList<(int Start, int End, string Short, string Expanded)> Urls)
    {
        public IReadOnlyList<string> MediaIds { get; init; } = [];
    }

    /// <summary>An image uploaded through <c>POST /2/media/upload</c>.</summary>
    public sealed record Media(string Id, byte[] Bytes, string ContentType, string Category)
    {
        public string? AltText { get; set; }
    }

    private readonly Dictionary<string, Media> media = new(StringComparer.Ordinal);

    private sealed class PendingFault(Fault fault, string? route, int times)
    {
        public Fault Fault { get; } = fault;
        public string? Route { get; } = route;
        public int Remaining { get; set; } = times;
    }

    /// <summary>One rate-limit window: <see cref="Limit"/> requests per <see cref="Length"/>, starting with the first request after the last reset.</summary>
    private sealed class RateWindow(string route, string headers, int limit, TimeSpan length)
    {
        public string Route { get; } = route;
        public string Headers { get; } = headers;
        public int Limit { get; } = limit;
        public TimeSpan Length { get; } = length;
        public DateTimeOffset? Start { get; set; }
        public int Used { get; set; }
    }

    private readonly Lock gate = new();
    private readonly List<RateWindow> windows = [];
    private int rateLimited;
    private readonly List<Tweet> tweets = [];
    private readonly HashSet<string> nonces = new(StringComparer.Ordinal);
    private readonly List<PendingFault> faults = [];
    private readonly List<string> requests = [];
    private readonly List<string> rejections = [];
    private readonly CancellationTokenSource stopping = new();
    private LoopbackServer server = null!;
    private long nextId = 1_850_000_000_000_000_000;
    private int nextShort;
    private int acceptedPosts;

    /// <summary>Unique to this server, so nothing a client cached for another one (e.g. the user id) carries over.</summary>
    public string AccessToken { get; } = UserId + "-" + Guid.NewGuid().ToString("N");

    /// <summary>The server's clock for the timestamp check.</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    public string BaseUrl => server.BaseUrl;

    /// <summary>Posts created through <c>POST /2/tweets</c> (not counting <see cref="Seed"/>).</summary>
    public int AcceptedPosts { get { lock (gate) return acceptedPosts; } }

    /// <summary>Every request as "METHOD /path?query", in arrival order, authenticated or not.</summary>
    public IReadOnlyList<string> Requests { get { lock (gate) return [.. requests]; } }

    /// <summary>Why each rejected request was answered 401.</summary>
    public IReadOnlyList<string> Rejections { get { lock (gate) return [.. rejections]; } }

    public IReadOnlyList<string> PostedTexts { get { lock (gate) return [.. tweets.Select(t => t.Text)]; } }

    /// <summary>Every image uploaded, in order.</summary>
    public IReadOnlyList<Media> Uploads { get { lock (gate) return [.. media.Values]; } }

    /// <summary>The media ids attached to each post made, in order.</summary>
    public IReadOnlyList<(string Text, IReadOnlyList<string> MediaIds)> PostedMedia { get { lock (gate) return [.. tweets.Select(t => (t.Text, t.MediaIds))]; } }

    /// <summary>Authenticated requests answered 429 by a <see cref="LimitRate"/> window so far.</summary>
    public int RateLimited { get { lock (gate) return rateLimited; } }

    public int Count(string requestPrefix) => Requests.Count(r => r.StartsWith(requestPrefix, StringComparison.Ordinal));

    public static async Task<FakeXServer> StartAsync()
    {
        var fake = new FakeXServer();
        fake.server = await LoopbackServer.StartAsync(app => app.Run(fake.HandleAsync));
        return fake;
    }

    /// <summary>Queues <paramref name="fault"/> for the next <paramref name="times"/> authenticated requests whose "METHOD /path" starts with <paramref name="route"/> (any request when null).</summary>
    public void Inject(Fault fault, string? route = null, int times = 1)
    {
        lock (gate) faults.Add(new PendingFault(fault, route, times));
    }

    /// <summary>
    /// Knob: a rate-limit window as X runs one. Authenticated requests whose "METHOD /path" starts with
    /// <paramref name="route"/> get <c>{headers}-limit</c>, <c>{headers}-remaining</c> and <c>{headers}-reset</c> (epoch
    /// seconds) on every answer; the first <paramref name="requests"/> in a window are served, later ones answered 429
    /// (X's problem body, remaining 0) until the reset, after which the next request opens a new window. The window
    /// starts with its first request and runs on <see cref="Time"/>. <paramref name="headers"/> "x-rate-limit" is the
    /// endpoint's window (real X: 100 posts per 15 minutes per user), "x-user-limit-24hour" and "x-app-limit-24hour"
    /// the daily caps on posting; several windows can run at once, and a request must fit in all of them.
    /// </summary>
    public void LimitRate(int requests, TimeSpan window, string route = "POST /2/tweets", string headers = "x-rate-limit")
    {
        lock (gate) windows.Add(new RateWindow(route, headers, requests, window));
    }

    /// <summary>A post that exists already, e.g. made by hand or by an attempt whose answer was lost.</summary>
    public string Seed(string text)
    {
        lock (gate) return Store(text).Id;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var line = $"{request.Method} {request.Path}{request.QueryString}";
        lock (gate) requests.Add(line);

        IFormCollection? form = request.HasFormContentType ? await request.ReadFormAsync(context.RequestAborted) : null;
        // OAuth 1.0a signs a form-urlencoded body's parameters, never a multipart body's (RFC 5849 §3.4.1.3.1).
        var signedForm = form is not null && request.ContentType!.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) ? form : null;
        var problem = Authenticate(request, signedForm);
        if (problem is not null)
        {
            lock (gate) rejections.Add(problem);
            await WriteAsync(context, new Reply(401, Problem("Unauthorized", "Unauthorized")));
            return;
        }

        if (!TakeFromWindows($"{request.Method} {request.Path}", context.Response))
        {
            await WriteAsync(context, new Reply(429, Problem("Too Many Requests", "Too Many Requests")));
            return;
        }

        var fault = TakeFault($"{request.Method} {request.Path}");
        switch (fault)
        {
            case Fault.DropConnection { AfterProcessing: false }:
                context.Abort();
                return;
            case Fault.Delay { AfterProcessing: false } delay:
                if (!await WaitAsync(delay.Duration, context)) return;
                break;
            case Fault.RateLimited limited:
                await WriteAsync(context, new Reply(429, Problem("Too Many Requests", "Too Many Requests"), new()
                {
                    ["x-rate-limit-limit"] = "100",
                    ["x-rate-limit-remaining"] = "0",
                    ["x-rate-limit-reset"] = limited.Reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                }));
                return;
            case Fault.Answer answer:
                await WriteAsync(context, new Reply(answer.Status, answer.Json ?? Problem(ReasonPhrase(answer.Status), ReasonPhrase(answer.Status)), answer.Headers?.ToDictionary()));
                return;
        }

        var reply = await RouteAsync(request, form);
        switch (fault)
        {
            case Fault.DropConnection { AfterProcessing: true }:
                context.Abort();
                return;
            case Fault.Delay { AfterProcessing: true } late:
                if (!await WaitAsync(late.Duration, context)) return;
                break;
        }
        await WriteAsync(context, reply);
    }

    private async Task<Reply> RouteAsync(HttpRequest request, IFormCollection? form)
    {
        var path = request.Path.Value ?? "";
        if (request.Method == "POST" && path == "/2/tweets") return await CreateTweetAsync(request);
        if (request.Method == "POST" && path == "/2/media/upload") return await UploadAsync(request, form);
        if (request.Method == "POST" && path == "/2/media/metadata") return await MetadataAsync(request);
        if (request.Method == "GET" && path == "/2/users/me")
            return new Reply(200, Json(new JsonObject { ["data"] = new JsonObject { ["id"] = UserId, ["name"] = "Fake Magazine", ["username"] = Username } }));
        if (request.Method == "GET" && UserTweets().Match(path) is { Success: true } m) return Timeline(m.Groups[1].Value, request.Query);
        return new Reply(404, Problem("Not Found Error", $"Sorry, that page does not exist: {request.Method} {path}", "https://api.twitter.com/2/problems/resource-not-found"));
    }

    private async Task<Reply> UploadAsync(HttpRequest request, IFormCollection? form)
    {
        if (form is null || request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) != true)
            return new Reply(400, InvalidRequest("The media upload must be multipart/form-data."));
        var file = form.Files.GetFile("media");
        if (file is null || file.Length == 0) return new Reply(400, InvalidRequest("The `media` field is required."));
        var category = form["media_category"].ToString();
        if (category is not ("tweet_image" or "tweet_gif" or "dm_image")) return new Reply(400, InvalidRequest($"The `media_category` value [{category}] is not one of [tweet_image, tweet_gif, dm_image]."));
        if (file.Length > 5 * 1024 * 1024) return new Reply(400, InvalidRequest("File size exceeds 5242880 bytes."));
        using var buffer = new MemoryStream();
        await file.CopyToAsync(buffer);
        var bytes = buffer.ToArray();
        var type = Syndicator.Announcements.ImageFetcher.Sniff(bytes);
        if (type is null) return new Reply(400, InvalidRequest("Unsupported media type: the file is not an image."));
        Media item;
        lock (gate)
        {
            item = new Media((++nextId).ToString(CultureInfo.InvariantCulture), bytes, file.ContentType, category);
            media[item.Id] = item;
        }
        return new Reply(200, Json(new JsonObject
        {
            ["data"] = new JsonObject
            {
                ["id"] = item.Id, ["media_key"] = "3_" + item.Id, ["size"] = bytes.Length, ["expires_after_secs"] = 86400,
                ["image"] = new JsonObject { ["image_type"] = type },
            },
        }));
    }

    private async Task<Reply> MetadataAsync(HttpRequest request)
    {
        try
        {
            using var body = await JsonDocument.ParseAsync(request.Body);
            var id = body.RootElement.GetProperty("id").GetString()!;
            var alt = body.RootElement.GetProperty("metadata").GetProperty("alt_text").GetProperty("text").GetString()!;
            if (alt.Length > 1000) return new Reply(400, InvalidRequest("Alt text exceeds 1000 characters."));
            lock (gate)
            {
                if (!media.TryGetValue(id, out var item)) return new Reply(400, InvalidRequest($"Media id [{id}] was not found."));
                item.AltText = alt;
            }
            return new Reply(200, Json(new JsonObject { ["data"] = new JsonObject { ["id"] = id, ["associated_metadata"] = true } }));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return new Reply(400, InvalidRequest("The request body is not valid media metadata."));
        }
    }

    private async Task<Reply> CreateTweetAsync(HttpRequest request)
    {
        if (request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
            return new Reply(415, Problem("Unsupported Media Type", "Content-Type must be application/json"));
        string? text;
        var mediaIds = new List<string>();
        try
        {
            using var body = await JsonDocument.ParseAsync(request.Body);
            text = body.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (body.RootElement.TryGetProperty("media", out var m) && m.TryGetProperty("media_ids", out var ids))
                mediaIds.AddRange(ids.EnumerateArray().Select(i => i.GetString()!));
        }
        catch (JsonException)
        {
            return new Reply(400, InvalidRequest("The request body is not valid JSON."));
        }
        if (string.IsNullOrWhiteSpace(text)) return new Reply(400, InvalidRequest("Post text is required."));

        Tweet tweet;
        lock (gate)
        {
            if (tweets.Any(t => t.Text == text))
                return new Reply(403, Problem("Forbidden", "You are not allowed to create a Tweet with duplicate content."));
            if (mediaIds.FirstOrDefault(i => !media.ContainsKey(i)) is { } unknown)
                return new Reply(400, InvalidRequest($"Your media IDs are invalid: [{unknown}]."));
            tweet = Store(text) with { MediaIds = mediaIds };
            tweets[^1] = tweet;
            acceptedPosts++;
        }
        return new Reply(201, Json(new JsonObject
        {
            ["data"] = new JsonObject { ["id"] = tweet.Id, ["text"] = tweet.ShownText, ["edit_history_tweet_ids"] = new JsonArray(tweet.Id) },
        }));
    }

    private Reply Timeline(string userId, IQueryCollection query)
    {
        if (userId != UserId) return new Reply(404, Problem("Not Found Error", $"Could not find user with id: [{userId}].", "https://api.twitter.com/2/problems/resource-not-found"));
        var max = 10;
        if (query.TryGetValue("max_results", out var raw) && (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out max) || max is < 5 or > 100))
            return new Reply(400, InvalidRequest($"The `max_results` query parameter value [{raw}] is not between 5 and 100"));
        var fields = query["tweet.fields"].ToString().Split(',');
        var withEntities = fields.Contains("entities");

        List<Tweet> latest;
        lock (gate) latest = [.. Enumerable.Reverse(tweets).Take(max)];
        var meta = new JsonObject { ["result_count"] = latest.Count };
        if (latest.Count == 0) return new Reply(200, Json(new JsonObject { ["meta"] = meta }));
        meta["newest_id"] = latest[0].Id;
        meta["oldest_id"] = latest[^1].Id;
        var data = new JsonArray();
        foreach (var tweet in latest)
        {
            var item = new JsonObject { ["id"] = tweet.Id, ["text"] = tweet.ShownText, ["edit_history_tweet_ids"] = new JsonArray(tweet.Id) };
            if (withEntities && tweet.Urls.Count > 0)
            {
                var urls = new JsonArray();
                foreach (var u in tweet.Urls)
                    urls.Add(new JsonObject { ["start"] = u.Start, ["end"] = u.End, ["url"] = u.Short, ["expanded_url"] = u.Expanded, ["display_url"] = u.Expanded.Replace("https://", "", StringComparison.Ordinal) });
                item["entities"] = new JsonObject { ["urls"] = urls };
            }
            data.Add(item);
        }
        return new Reply(200, Json(new JsonObject { ["data"] = data, ["meta"] = meta }));
    }

    /// <summary>Stores a post; X shows every URL in the text as a t.co link and keeps the original in entities.urls.</summary>
    private Tweet Store(string text)
    {
        var id = (++nextId).ToString(CultureInfo.InvariantCulture);
        var urls = new List<(int, int, string, string)>();
        var shown = new StringBuilder();
        var last = 0;
        foreach (Match url in Link().Matches(text))
        {
            shown.Append(text, last, url.Index - last);
            var shortUrl = "https://t.co/f" + (++nextShort).ToString("D9", CultureInfo.InvariantCulture);
            urls.Add((shown.Length, shown.Length + shortUrl.Length, shortUrl, url.Value));
            shown.Append(shortUrl);
            last = url.Index + url.Length;
        }
        shown.Append(text, last, text.Length - last);
        var tweet = new Tweet(id, text, shown.ToString(), urls);
        tweets.Add(tweet);
        return tweet;
    }

    /// <summary>The reason to refuse the request, or null when its OAuth 1.0a signature holds.</summary>
    private string? Authenticate(HttpRequest request, IFormCollection? form)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("OAuth ", StringComparison.OrdinalIgnoreCase)) return "no OAuth Authorization header";
        var oauth = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in header["OAuth ".Length..].Split(','))
        {
            var m = HeaderParameter().Match(part);
            if (!m.Success) return $"malformed Authorization parameter [{part.Trim()}]";
            if (!oauth.TryAdd(Uri.UnescapeDataString(m.Groups[1].Value), Uri.UnescapeDataString(m.Groups[2].Value))) return $"duplicated parameter {m.Groups[1].Value}";
        }
        foreach (var required in (string[])["oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_timestamp", "oauth_nonce", "oauth_signature"])
            if (!oauth.ContainsKey(required)) return $"missing {required}";
        if (oauth["oauth_signature_method"] != "HMAC-SHA1") return "unsupported signature method " + oauth["oauth_signature_method"];
        if (oauth.TryGetValue("oauth_version", out var version) && version != "1.0") return "unsupported oauth_version " + version;
        if (oauth["oauth_consumer_key"] != ConsumerKey) return "unknown consumer key";
        if (oauth["oauth_token"] != AccessToken) return "unknown access token";
        if (!long.TryParse(oauth["oauth_timestamp"], NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp)) return "timestamp is not a number";
        var skew = Time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(timestamp);
        if (skew.Duration() > MaxClockSkew) return $"timestamp is {skew.TotalSeconds:N0} s off";

        var parameters = new List<(string Name, string Value)>();
        foreach (var (name, values) in request.Query)
            foreach (var value in values) parameters.Add((name, value ?? ""));
        if (form is not null)
            foreach (var (name, values) in form)
                foreach (var value in values) parameters.Add((name, value ?? ""));
        foreach (var (name, value) in oauth)
            if (name != "oauth_signature" && name != "realm") parameters.Add((name, value));
        var normalized = string.Join('&', parameters
            .Select(p => (Name: Uri.EscapeDataString(p.Name), Value: Uri.EscapeDataString(p.Value)))
            .OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => p.Name + "=" + p.Value));
        var baseUri = $"{request.Scheme.ToLowerInvariant()}://{request.Host.Value!.ToLowerInvariant()}{request.PathBase.ToUriComponent()}{request.Path.ToUriComponent()}";
        var baseString = $"{request.Method.ToUpperInvariant()}&{Uri.EscapeDataString(baseUri)}&{Uri.EscapeDataString(normalized)}";
        var key = Uri.EscapeDataString(ConsumerSecret) + "&" + Uri.EscapeDataString(AccessTokenSecret);
        var expected = HMACSHA1.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(baseString));
        byte[] given;
        try
        {
            given = Convert.FromBase64String(oauth["oauth_signature"]);
        }
        catch (FormatException)
        {
            return "signature is not base64";
        }
        if (!CryptographicOperations.FixedTimeEquals(expected, given)) return "signature mismatch; the server's base string was " + baseString;

        lock (gate)
            if (!nonces.Add(oauth["oauth_nonce"])) return "nonce reused: " + oauth["oauth_nonce"];
        return null;
    }

    /// <summary>Counts the request in every window on its route and writes their headers; false when one is used up.</summary>
    private bool TakeFromWindows(string route, HttpResponse response)
    {
        lock (gate)
        {
            var now = Time.GetUtcNow();
            var matching = windows.Where(w => route.StartsWith(w.Route, StringComparison.Ordinal)).ToList();
            foreach (var w in matching)
                if (w.Start is not { } start || now >= start + w.Length) (w.Start, w.Used) = (now, 0);
            var allowed = matching.All(w => w.Used < w.Limit);
            if (allowed) foreach (var w in matching) w.Used++;
            else rateLimited++;
            foreach (var w in matching)
            {
                var reset = w.Start!.Value + w.Length;
                response.Headers[w.Headers + "-limit"] = w.Limit.ToString(CultureInfo.InvariantCulture);
                response.Headers[w.Headers + "-remaining"] = (w.Limit - w.Used).ToString(CultureInfo.InvariantCulture);
                // X's reset is a whole second: round up, so "reset" never comes before the window really ends.
                response.Headers[w.Headers + "-reset"] = ((reset.ToUnixTimeMilliseconds() + 999) / 1000).ToString(CultureInfo.InvariantCulture);
            }
            return allowed;
        }
    }

    private Fault? TakeFault(string route)
    {
        lock (gate)
        {
            var pending = faults.FirstOrDefault(f => f.Remaining > 0 && (f.Route is null || route.StartsWith(f.Route, StringComparison.Ordinal)));
            if (pending is null) return null;
            pending.Remaining--;
            return pending.Fault;
        }
    }

    /// <summary>False when the client went away (or the server stopped) while waiting.</summary>
    private async Task<bool> WaitAsync(TimeSpan duration, HttpContext context)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping.Token);
        try
        {
            await Task.Delay(duration, both.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private sealed record Reply(int Status, string Json, Dictionary<string, string>? Headers = null);

    private static async Task WriteAsync(HttpContext context, Reply reply)
    {
        context.Response.StatusCode = reply.Status;
        context.Response.ContentType = "application/json; charset=utf-8";
        foreach (var (name, value) in reply.Headers ?? []) context.Response.Headers[name] = value;
        await context.Response.WriteAsync(reply.Json, context.RequestAborted);
    }

    /// <summary>X's RFC 7807-style problem body.</summary>
    public static string Problem(string title, string detail, string type = "about:blank") =>
        Json(new JsonObject { ["title"] = title, ["detail"] = detail, ["type"] = type });

    public static string InvalidRequest(string message) => Json(new JsonObject
    {
        ["errors"] = new JsonArray(new JsonObject { ["message"] = message }),
        ["title"] = "Invalid Request",
        ["detail"] = "One or more parameters to your request was invalid.",
        ["type"] = "https://api.twitter.com/2/problems/invalid-request",
    });

    private static string Json(JsonObject value) => value.ToJsonString();

    private static string ReasonPhrase(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    };

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await server.DisposeAsync();
        stopping.Dispose();
    }

    [GeneratedRegex(@"^/2/users/([^/]+)/tweets$")]
    private static partial Regex UserTweets();

    [GeneratedRegex(@"https?://[^\s]+")]
    private static partial Regex Link();

    [GeneratedRegex(@"^\s*([^=\s]+)=""([^""]*)""\s*$")]
    private static partial Regex HeaderParameter();
}
