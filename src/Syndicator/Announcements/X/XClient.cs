using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Net.Http.Headers;
using Microsoft.Extensions.Hosting;
using Syndicator.Deliveries;

namespace Syndicator.Announcements.X;

/// <summary>
/// Posts to X with <c>POST /2/tweets</c> (JSON body <c>{"text": ...}</c>), signed with OAuth 1.0a in user context.
/// X has no idempotency key, so a retry first looks for the article's URL among the account's 20 latest posts
/// (<c>GET /2/users/me</c>, cached, then <c>GET /2/users/{id}/tweets</c>) and reports a post it finds as sent.
/// X's own refusal of duplicate text (403 "duplicate content") also counts as sent, with the existing post's id
/// when the lookup finds it. Answers and failures are classified by <see cref="HttpOutcomes"/> (errors start with
/// "x:" and keep X's title, detail and error messages; a 429 or an exhausted window pauses the account until X's reset).
/// An image is uploaded with <c>POST /2/media/upload</c> (multipart/form-data: <c>media</c>, the raw bytes, and
/// <c>media_category=tweet_image</c>; the multipart body is not part of the OAuth signature), its caption set as alt
/// text with <c>POST /2/media/metadata</c>, and the post attaches it with <c>media.media_ids</c>.
/// </summary>
public sealed class XClient(HttpClient http, IHostEnvironment environment, TimeProvider time) : ISocialClient
{
    public const int LookupCount = 20;

    /// <summary>User ids by API base URL and credentials: an access token belongs to one user for good.</summary>
    private static readonly ConcurrentDictionary<string, string> UserIds = new(StringComparer.Ordinal);

    private readonly OAuth1Signer signer = new(time);
    private readonly HttpOutcomes outcomes = new(HttpService.X, ErrorText, time);

    public Network Network => Network.X;

    /// <summary>X's limit for a post's image (JPEG, PNG, WebP; an animated GIF may be larger, but only through chunked upload).</summary>
    public int MaxImageBytes => 5 * 1024 * 1024;

    /// <summary>X's limit on alt text.</summary>
    public const int MaxAltText = 1000;

    public async Task<MediaUpload> UploadImageAsync(SocialAccount account, FetchedImage image, string? alt, CancellationToken cancellationToken)
    {
        var baseUrl = (account.BaseUrl ?? SocialAccount.DefaultBaseUrl(Network.X)).TrimEnd('/');
        if (account.TryResolveCredentials(environment.ContentRootPath, out var problem) is not { } secrets)
            return new MediaUpload.Failed(outcomes.CredentialProblem(problem!));
        var credentials = new OAuth1Credentials(secrets["ConsumerKey"], secrets["ConsumerSecret"], secrets["AccessToken"], secrets["AccessTokenSecret"]);
        var step = "POST /2/media/upload";
        try
        {
            using var file = new ByteArrayContent(image.Bytes);
            file.Headers.ContentType = new MediaTypeHeaderValue(image.MediaType);
            using var form = new MultipartFormDataContent { { file, "media", "image" }, { new StringContent("tweet_image"), "media_category" } };
            using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/2/media/upload") { Content = form };
            await signer.SignAsync(request, credentials, cancellationToken);
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode) return MediaUpload.FromFailure(response.StatusCode, outcomes.Failure(step, response, body));
            if (DataId(body) is not { } mediaId)
                return new MediaUpload.Refused($"x: {step} answered without a media id: {HttpOutcomes.Shorten(body)}");

            if (!string.IsNullOrWhiteSpace(alt))
            {
                // Alt text is worth a request but not the image: a refusal here leaves the image without it.
                step = "POST /2/media/metadata";
                using var metadata = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/2/media/metadata")
                {
                    Content = JsonContent.Create(new { id = mediaId, metadata = new { alt_text = new { text = alt.Length > MaxAltText ? alt[..MaxAltText] : alt } } }),
                };
                await signer.SignAsync(metadata, credentials, cancellationToken);
                using var answer = await http.SendAsync(metadata, cancellationToken);
                if (!answer.IsSuccessStatusCode && outcomes.Failure(step, answer, await answer.Content.ReadAsStringAsync(cancellationToken)) is DeliveryOutcome.Transient transient)
                    return new MediaUpload.Failed(transient);
            }
            return new MediaUpload.Uploaded(mediaId);
        }
        catch (Exception e) when (HttpOutcomes.IsTransportFailure(e, cancellationToken))
        {
            return new MediaUpload.Failed(outcomes.FromException(e, baseUrl, step, http.Timeout));
        }
    }

    public static string StatusUrl(string id) => "https://x.com/i/web/status/" + id;

    public async Task<DeliveryOutcome> PostAsync(SocialAccount account, ComposedPost post, bool isRetry, CancellationToken cancellationToken)
    {
        var baseUrl = (account.BaseUrl ?? SocialAccount.DefaultBaseUrl(Network.X)).TrimEnd('/');
        if (account.TryResolveCredentials(environment.ContentRootPath, out var problem) is not { } secrets)
            return outcomes.CredentialProblem(problem!);
        var credentials = new OAuth1Credentials(secrets["ConsumerKey"], secrets["ConsumerSecret"], secrets["AccessToken"], secrets["AccessTokenSecret"]);

        var step = "POST /2/tweets";
        try
        {
            if (isRetry)
            {
                // An earlier attempt may have reached X: never post before making sure it did not.
                var lookup = await FindExistingAsync(baseUrl, credentials, post.Url, s => step = s, cancellationToken);
                if (lookup.Id is { } existing) return new DeliveryOutcome.Sent(existing, StatusUrl(existing));
                // A transient failure leaves the question open: try again later rather than risk a second post.
                // A permanent one (e.g. an access level without timeline reads) falls back on X's duplicate check.
                if (lookup.Failure is DeliveryOutcome.Transient transient) return transient;
                step = "POST /2/tweets";
            }

            var tweet = new JsonObject { ["text"] = post.Text };
            if (post.MediaRef is { } media) tweet["media"] = new JsonObject { ["media_ids"] = new JsonArray(media) };
            using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/2/tweets")
            {
                Content = new StringContent(tweet.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
            };
            await signer.SignAsync(request, credentials, cancellationToken);
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                var id = DataId(body);
                return outcomes.Sent(response, id, id is null ? null : StatusUrl(id));
            }
            if (response.StatusCode == HttpStatusCode.Forbidden && IsDuplicate(body))
            {
                // X refuses the same text twice: the post is already there. Find its id if the timeline allows.
                var lookup = await FindExistingAsync(baseUrl, credentials, post.Url, s => step = s, cancellationToken);
                return lookup.Id is { } existing
                    ? outcomes.Sent(response, existing, StatusUrl(existing))
                    : outcomes.Sent(response, null, null);
            }
            return outcomes.Failure("POST /2/tweets", response, body);
        }
        catch (Exception e) when (HttpOutcomes.IsTransportFailure(e, cancellationToken))
        {
            return outcomes.FromException(e, baseUrl, step, http.Timeout);
        }
    }

    private sealed record Lookup(string? Id, DeliveryOutcome? Failure);

    /// <summary>The id of a recent post of this account that links to <paramref name="url"/>, or why it could not be looked for.</summary>
    private async Task<Lookup> FindExistingAsync(string baseUrl, OAuth1Credentials credentials, string url, Action<string> step, CancellationToken cancellationToken)
    {
        var cacheKey = baseUrl + "\n" + credentials.ConsumerKey + "\n" + credentials.Token;
        if (!UserIds.TryGetValue(cacheKey, out var userId))
        {
            step("GET /2/users/me");
            var (meFailure, me) = await GetAsync("GET /2/users/me", baseUrl + "/2/users/me", credentials, cancellationToken);
            if (meFailure is not null) return new Lookup(null, meFailure);
            userId = DataId(me);
            if (userId is null) return new Lookup(null, new DeliveryOutcome.Permanent($"x: GET /2/users/me answered without a user id: {HttpOutcomes.Shorten(me)}"));
            UserIds[cacheKey] = userId;
        }

        step("GET /2/users/:id/tweets");
        var timeline = $"{baseUrl}/2/users/{Uri.EscapeDataString(userId)}/tweets?max_results={LookupCount}&tweet.fields=entities";
        var (failure, body) = await GetAsync("GET /2/users/:id/tweets", timeline, credentials, cancellationToken);
        if (failure is not null) return new Lookup(null, failure);
        return new Lookup(FindPostLinking(body, url), null);
    }

    /// <summary>A signed GET of <paramref name="step"/>: the body on success, else X's answer classified.</summary>
    private async Task<(DeliveryOutcome? Failure, string Body)> GetAsync(string step, string url, OAuth1Credentials credentials, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        await signer.SignAsync(request, credentials, cancellationToken);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return (response.IsSuccessStatusCode ? null : outcomes.Failure(step, response, body), body);
    }

    /// <summary>The id of the first post whose text or <c>entities.urls</c> holds <paramref name="url"/>.</summary>
    internal static string? FindPostLinking(string timelineJson, string url)
    {
        if (string.IsNullOrWhiteSpace(url)) return null;
        using var json = JsonDocument.Parse(timelineJson);
        if (!json.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array) return null;
        foreach (var tweet in data.EnumerateArray())
        {
            if (!tweet.TryGetProperty("id", out var id) || id.GetString() is not { } tweetId) continue;
            if (tweet.TryGetProperty("text", out var text) && text.GetString()?.Contains(url, StringComparison.Ordinal) == true)
                return tweetId;
            if (tweet.TryGetProperty("entities", out var entities) && entities.TryGetProperty("urls", out var urls) && urls.ValueKind == JsonValueKind.Array)
            {
                foreach (var link in urls.EnumerateArray())
                {
                    foreach (var field in (ReadOnlySpan<string>)["expanded_url", "unwound_url", "url"])
                        if (link.TryGetProperty(field, out var value) && SameUrl(value.GetString(), url)) return tweetId;
                }
            }
        }
        return null;
    }

    private static bool SameUrl(string? candidate, string url)
    {
        if (string.IsNullOrWhiteSpace(candidate)) return false;
        var a = candidate.Trim().TrimEnd('/');
        var b = url.Trim().TrimEnd('/');
        if (Uri.TryCreate(a, UriKind.Absolute, out var ua) && Uri.TryCreate(b, UriKind.Absolute, out var ub))
            return Uri.Compare(ua, ub, UriComponents.HttpRequestUrl, UriFormat.UriEscaped, StringComparison.Ordinal) == 0;
        return string.Equals(a, b, StringComparison.Ordinal);
    }

    private static bool IsDuplicate(string body) =>
        body.Contains("duplicate content", StringComparison.OrdinalIgnoreCase) || body.Contains("is a duplicate", StringComparison.OrdinalIgnoreCase);

    private static string? DataId(string body)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
            && data.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
            ? id.GetString()
            : null;
    }

    /// <summary>X's words from a problem body (<c>title</c>, <c>detail</c>, <c>errors[].message</c>), else the body itself, shortened.</summary>
    internal static string ErrorText(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return HttpOutcomes.Shorten(body);
            var parts = new List<string>();
            void Add(string? text)
            {
                if (!string.IsNullOrWhiteSpace(text) && !parts.Contains(text.Trim(), StringComparer.Ordinal)) parts.Add(text.Trim());
            }
            Add(Text(root, "title"));
            Add(Text(root, "detail"));
            if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
                foreach (var e in errors.EnumerateArray().Take(3))
                    Add(Text(e, "message") ?? Text(e, "detail"));
            return HttpOutcomes.Shorten(parts.Count == 0 ? body : string.Join(": ", parts));
        }
        catch (JsonException)
        {
            return HttpOutcomes.Shorten(body);
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
