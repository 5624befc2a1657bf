using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Syndicator.Deliveries;

namespace Syndicator.Announcements.Bluesky;

/// <summary>
/// Posts to Bluesky over XRPC against the account's PDS (<see cref="SocialAccount.BaseUrl"/>, by default
/// https://bsky.social), logged in with the Identifier and AppPassword credentials:
/// <list type="bullet">
/// <item>the session (<c>com.atproto.server.createSession</c>) is kept in <see cref="BlueskySessions"/>; an
/// <c>ExpiredToken</c>/<c>InvalidToken</c> answer refreshes it (<c>com.atproto.server.refreshSession</c>), and when
/// that fails too, logs in again — once per call;</item>
/// <item>the post is an <c>app.bsky.feed.post</c> record created with <c>com.atproto.repo.createRecord</c> under a
/// record key derived from <see cref="ComposedPost.IdempotencyKey"/> (<see cref="BlueskyRecordKey"/>). Before
/// creating it, and again when creating fails, <c>com.atproto.repo.getRecord</c> looks for that key, so an attempt
/// whose answer was lost is reported as sent and never posted twice;</item>
/// <item>the record has the text, <c>createdAt</c>, <c>langs</c>, facets (<see cref="BlueskyRichText"/>: the URL as a
/// link, hashtags as tags, offsets in UTF-8 bytes) and an embed: by default an <c>app.bsky.embed.external</c> link
/// card with the title, the summary and the article's image as its thumbnail; with the account's Image: Attached, an
/// <c>app.bsky.embed.images</c> embed of the image with its caption as alt text (the link stays in the text's facet).
/// The image is uploaded beforehand with <c>com.atproto.repo.uploadBlob</c> (at most 1,000,000 bytes), and the post
/// carries the blob the PDS answered (<see cref="ComposedPost.MediaRef"/>).</item>
/// </list>
/// Outcomes: Sent(at:// URI, https://bsky.app/profile/HANDLE/post/RKEY). Answers and failures are classified by
/// <see cref="HttpOutcomes"/>: errors start with "bluesky:" and keep the server's error name and message; a 429 or
/// <c>RateLimit-Remaining: 0</c> pauses the account until <c>RateLimit-Reset</c> (epoch seconds); 5xx, timeouts and
/// connection failures are transient, other answers (400 InvalidRequest, 401 AuthenticationRequired for a wrong app
/// password...) permanent.
/// </summary>
public sealed class BlueskyClient(
    HttpClient http,
    IHostEnvironment environment,
    TimeProvider time,
    BlueskySessions? sessions = null,
    ILogger<BlueskyClient>? logger = null) : ISocialClient
{
    public const string PostCollection = "app.bsky.feed.post";

    /// <summary>The largest image <c>app.bsky.embed.images</c> and a link card's thumbnail accept.</summary>
    public int MaxImageBytes => 1_000_000;

    /// <summary>The lexicon's limit on alt text, in graphemes; a longer caption is cut.</summary>
    public const int MaxAltGraphemes = 2000;

    private readonly BlueskySessions sessions = sessions ?? BlueskySessions.Shared;
    private readonly ILogger logger = logger ?? NullLogger<BlueskyClient>.Instance;
    private readonly HttpOutcomes outcomes = new(HttpService.Bluesky, ErrorText, time);

    public Network Network => Network.Bluesky;

    public async Task<DeliveryOutcome> PostAsync(SocialAccount account, ComposedPost post, bool isRetry, CancellationToken cancellationToken)
    {
        var baseUrl = (account.BaseUrl ?? SocialAccount.DefaultBaseUrl(Network)).TrimEnd('/');
        if (account.TryResolveCredentials(environment.ContentRootPath, out var problem) is not { } secrets)
            return outcomes.CredentialProblem(problem!);
        var call = new Call(baseUrl, secrets["Identifier"], secrets["AppPassword"]);
        var rkey = BlueskyRecordKey.FromIdempotencyKey(post.IdempotencyKey);
        try
        {
            await SessionAsync(call, cancellationToken);

            // Always (not only when isRetry): a post under this key means an earlier attempt got through.
            if (await FindPostAsync(call, rkey, cancellationToken) is { } existing) return existing;

            var record = Record(post, account.ImageStyle);
            var response = await AuthorizedAsync(call, HttpMethod.Post, "com.atproto.repo.createRecord", () => Json(new JsonObject
            {
                ["repo"] = call.Session!.Did,
                ["collection"] = PostCollection,
                ["rkey"] = rkey,
                ["record"] = record.DeepClone(),
            }), cancellationToken);
            if (response.IsSuccess)
                return Sent(call, response, rkey);

            // The PDS refuses a second record under the same key (the reference PDS with a 500): if the post is
            // there, an earlier attempt made it.
            if (response.Status != HttpStatusCode.TooManyRequests && response.Status != HttpStatusCode.Unauthorized)
            {
                try
                {
                    if (await FindPostAsync(call, rkey, cancellationToken) is { } made) return made;
                }
                catch (BlueskyFailure) { }
                catch (Exception e) when (HttpOutcomes.IsTransportFailure(e, cancellationToken)) { }
            }
            return response.Failure!;
        }
        catch (BlueskyFailure failure)
        {
            return failure.Outcome;
        }
        catch (Exception e) when (HttpOutcomes.IsTransportFailure(e, cancellationToken))
        {
            return outcomes.FromException(e, baseUrl, call.Step, http.Timeout);
        }
    }

    /// <summary>The <c>app.bsky.feed.post</c> record for <paramref name="post"/> (public for tests and previews).</summary>
    public JsonObject Record(ComposedPost post, PostImage image = PostImage.Card)
    {
        var blob = post.MediaRef is null || image == PostImage.None ? null : JsonNode.Parse(post.MediaRef);
        var record = new JsonObject
        {
            ["$type"] = PostCollection,
            ["text"] = post.Text,
            ["createdAt"] = time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        };
        if (!string.IsNullOrWhiteSpace(post.Language)) record["langs"] = new JsonArray(post.Language.Trim());

        var facets = BlueskyRichText.Facets(post.Text, post.Url);
        if (facets.Count > 0)
        {
            record["facets"] = new JsonArray(facets.Select(f => (JsonNode)new JsonObject
            {
                ["index"] = new JsonObject { ["byteStart"] = f.ByteStart, ["byteEnd"] = f.ByteEnd },
                ["features"] = new JsonArray(f.Kind == BlueskyFacetKind.Link
                    ? new JsonObject { ["$type"] = "app.bsky.richtext.facet#link", ["uri"] = f.Value }
                    : new JsonObject { ["$type"] = "app.bsky.richtext.facet#tag", ["tag"] = f.Value }),
            }).ToArray());
        }

        if (blob is not null && image == PostImage.Attached)
        {
            record["embed"] = new JsonObject
            {
                ["$type"] = "app.bsky.embed.images",
                ["images"] = new JsonArray(new JsonObject { ["image"] = blob, ["alt"] = Alt(post.ImageAlt) }),
            };
        }
        else if (!string.IsNullOrWhiteSpace(post.Url))
        {
            var external = new JsonObject
            {
                ["uri"] = post.Url,
                ["title"] = post.Title,
                ["description"] = post.Summary,
            };
            if (blob is not null) external["thumb"] = blob;
            record["embed"] = new JsonObject { ["$type"] = "app.bsky.embed.external", ["external"] = external };
        }
        return record;
    }

    /// <summary>The caption as alt text (required by the lexicon, empty when there is none), cut to its limit at a grapheme boundary.</summary>
    private static string Alt(string? caption)
    {
        if (string.IsNullOrWhiteSpace(caption)) return "";
        var e = StringInfo.GetTextElementEnumerator(caption);
        var count = 0;
        while (e.MoveNext())
            if (++count > MaxAltGraphemes) return caption[..e.ElementIndex];
        return caption;
    }

    // ------------------------------------------------------------------ posts

    private async Task<DeliveryOutcome.Sent?> FindPostAsync(Call call, string rkey, CancellationToken cancellationToken)
    {
        var query = $"repo={Uri.EscapeDataString(call.Session!.Did)}&collection={PostCollection}&rkey={rkey}";
        var response = await SendAsync(call, HttpMethod.Get, "com.atproto.repo.getRecord", query, null, null, cancellationToken);
        if (response.IsSuccess) return Sent(call, response, rkey);
        if (response.Status == HttpStatusCode.TooManyRequests || (int)response.Status >= 500)
            throw new BlueskyFailure(response.Failure!);
        return null; // 400 RecordNotFound, or anything the create call will explain better
    }

    /// <summary>The post under <paramref name="rkey"/>, paused when the answer that showed it left no requests.</summary>
    private static DeliveryOutcome.Sent Sent(Call call, XrpcResponse response, string rkey)
    {
        var session = call.Session!;
        var profile = string.IsNullOrEmpty(session.Handle) || session.Handle == "handle.invalid" ? session.Did : session.Handle;
        var uri = response.Body?["uri"] is JsonValue v && v.TryGetValue<string>(out var u) ? u : AtUri(call, rkey);
        return new DeliveryOutcome.Sent(uri, $"https://bsky.app/profile/{profile}/post/{rkey}") { PauseRecipientUntil = response.PauseUntil };
    }

    private static string AtUri(Call call, string rkey) => $"at://{call.Session!.Did}/{PostCollection}/{rkey}";

    public async Task<MediaUpload> UploadImageAsync(SocialAccount account, FetchedImage image, string? alt, CancellationToken cancellationToken)
    {
        var baseUrl = (account.BaseUrl ?? SocialAccount.DefaultBaseUrl(Network)).TrimEnd('/');
        if (account.TryResolveCredentials(environment.ContentRootPath, out var problem) is not { } secrets)
            return new MediaUpload.Failed(outcomes.CredentialProblem(problem!));
        var call = new Call(baseUrl, secrets["Identifier"], secrets["AppPassword"]);
        try
        {
            await SessionAsync(call, cancellationToken);
            var response = await AuthorizedAsync(call, HttpMethod.Post, "com.atproto.repo.uploadBlob", () =>
            {
                var content = new ByteArrayContent(image.Bytes);
                content.Headers.ContentType = new MediaTypeHeaderValue(image.MediaType);
                return content;
            }, cancellationToken);
            if (response.IsSuccess && response.Body?["blob"] is JsonObject blob) return new MediaUpload.Uploaded(blob.ToJsonString());
            if (response.IsSuccess) return new MediaUpload.Refused($"bluesky: com.atproto.repo.uploadBlob at {baseUrl} answered without a blob");
            return MediaUpload.FromFailure(response.Status, response.Failure!);
        }
        catch (BlueskyFailure failure)
        {
            return new MediaUpload.Failed(failure.Outcome);
        }
        catch (Exception e) when (HttpOutcomes.IsTransportFailure(e, cancellationToken))
        {
            return new MediaUpload.Failed(outcomes.FromException(e, baseUrl, call.Step, http.Timeout));
        }
    }

    // ------------------------------------------------------------------ sessions

    private async Task SessionAsync(Call call, CancellationToken cancellationToken)
    {
        call.Session = sessions.Get(call.BaseUrl, call.Identifier);
        call.SessionIsFresh = false;
        if (call.Session is null) await CreateSessionAsync(call, cancellationToken);
    }

    private async Task CreateSessionAsync(Call call, CancellationToken cancellationToken)
    {
        var response = await SendAsync(call, HttpMethod.Post, "com.atproto.server.createSession", null,
            () => Json(new JsonObject { ["identifier"] = call.Identifier, ["password"] = call.AppPassword }), null, cancellationToken);
        if (!response.IsSuccess)
        {
            sessions.Remove(call.BaseUrl, call.Identifier);
            throw new BlueskyFailure(response.Failure!);
        }
        Store(call, response.Body);
        call.SessionIsFresh = true;
    }

    /// <summary>After a token problem: refresh the session, or log in again when the refresh token is no good either.</summary>
    private async Task RenewSessionAsync(Call call, CancellationToken cancellationToken)
    {
        if (call.Session is { } old)
        {
            var response = await SendAsync(call, HttpMethod.Post, "com.atproto.server.refreshSession", null, null, old.RefreshJwt, cancellationToken);
            if (response.IsSuccess)
            {
                Store(call, response.Body);
                call.SessionIsFresh = true;
                return;
            }
            if (response.Status == HttpStatusCode.TooManyRequests || (int)response.Status >= 500)
                throw new BlueskyFailure(response.Failure!);
            logger.LogInformation("Bluesky: refreshing the session of {Identifier} failed ({Error}); logging in again", call.Identifier, response.Error);
        }
        await CreateSessionAsync(call, cancellationToken);
    }

    private void Store(Call call, JsonNode? body)
    {
        var access = body?["accessJwt"]?.GetValue<string>();
        var refresh = body?["refreshJwt"]?.GetValue<string>();
        var did = body?["did"]?.GetValue<string>();
        if (access is null || refresh is null || did is null)
            throw new BlueskyFailure(new DeliveryOutcome.Transient($"bluesky: {call.BaseUrl} answered a session without accessJwt, refreshJwt and did"));
        call.Session = new BlueskySession(access, refresh, did, body?["handle"]?.GetValue<string>() ?? call.Session?.Handle);
        sessions.Set(call.BaseUrl, call.Identifier, call.Session);
    }

    /// <summary>An XRPC call with the session's access token, renewed and repeated once when the PDS rejects the token.</summary>
    private async Task<XrpcResponse> AuthorizedAsync(Call call, HttpMethod method, string nsid, Func<HttpContent>? content, CancellationToken cancellationToken)
    {
        var response = await SendAsync(call, method, nsid, null, content, call.Session!.AccessJwt, cancellationToken);
        if (!IsTokenProblem(response, call.SessionIsFresh)) return response;
        await RenewSessionAsync(call, cancellationToken);
        return await SendAsync(call, method, nsid, null, content, call.Session!.AccessJwt, cancellationToken);
    }

    private static bool IsTokenProblem(XrpcResponse response, bool sessionIsFresh) =>
        response.Status is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized
        && (response.Error is "ExpiredToken" or "InvalidToken"
            // a cached session the PDS no longer knows (revoked app password, reset PDS...)
            || (!sessionIsFresh && response.Status == HttpStatusCode.Unauthorized && response.Error is "AuthenticationRequired" or "AuthMissing" or null));

    // ------------------------------------------------------------------ XRPC

    private async Task<XrpcResponse> SendAsync(Call call, HttpMethod method, string nsid, string? query, Func<HttpContent>? content, string? bearer, CancellationToken cancellationToken)
    {
        call.Step = nsid;
        var url = $"{call.BaseUrl}/xrpc/{nsid}" + (query is null ? "" : "?" + query);
        using var request = new HttpRequestMessage(method, url) { Content = content?.Invoke() };
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var body = Parse(text);
        return response.IsSuccessStatusCode
            ? new XrpcResponse(response.StatusCode, body, null, null, outcomes.PauseUntil(response))
            : new XrpcResponse(response.StatusCode, body, Field(body, "error"), outcomes.Failure($"{nsid} at {call.BaseUrl}", response, text), null);
    }

    /// <summary>The XRPC error body's <c>error</c> name and <c>message</c>, else the body itself.</summary>
    private static string ErrorText(string text)
    {
        var body = Parse(text);
        var words = string.Join(": ", new[] { Field(body, "error"), Field(body, "message") }.Where(s => !string.IsNullOrEmpty(s)));
        return HttpOutcomes.Shorten(words.Length == 0 ? text : words);
    }

    /// <summary>The answer as JSON, or null when it is empty or not JSON (a proxy's HTML error page, say).</summary>
    private static JsonNode? Parse(string text)
    {
        try
        {
            return text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Field(JsonNode? body, string name) =>
        body is JsonObject o && o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private sealed class Call(string baseUrl, string identifier, string appPassword)
    {
        public string BaseUrl { get; } = baseUrl;
        public string Identifier { get; } = identifier;
        public string AppPassword { get; } = appPassword;
        public BlueskySession? Session { get; set; }

        /// <summary>True when <see cref="Session"/> was made during this call (a token problem then is not a stale cache).</summary>
        public bool SessionIsFresh { get; set; }

        /// <summary>The XRPC method in flight, named in the error when the PDS cannot be reached or does not answer.</summary>
        public string? Step { get; set; }
    }

    /// <summary>An XRPC answer: a failed one carries its outcome, a successful one how long the account must pause.</summary>
    private sealed record XrpcResponse(HttpStatusCode Status, JsonNode? Body, string? Error, DeliveryOutcome? Failure, DateTimeOffset? PauseUntil)
    {
        public bool IsSuccess => Failure is null;
    }

    private sealed class BlueskyFailure(DeliveryOutcome outcome) : Exception(outcome is DeliveryOutcome.Permanent p ? p.Error : outcome.ToString())
    {
        public DeliveryOutcome Outcome { get; } = outcome;
    }
}
