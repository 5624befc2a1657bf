using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Syndicator.Deliveries;

namespace Syndicator.Announcements.Mastodon;

/// <summary>
/// Posts a status with <c>POST /api/v1/statuses</c> and a bearer token. The <c>Idempotency-Key</c> header carries the
/// post's key, so a retry after a crash returns the status already created instead of posting twice. Answers and
/// failures are classified by <see cref="HttpOutcomes"/> (errors start with "mastodon:" and keep Mastodon's
/// <c>error</c> text; a 429 or <c>X-RateLimit-Remaining: 0</c> pauses the account until <c>X-RateLimit-Reset</c>).
/// An image is uploaded with <c>POST /api/v2/media</c> (multipart/form-data: <c>file</c> and the caption as
/// <c>description</c>, the alt text). Mastodon answers 200 when it has processed the file, 202 when it is still
/// processing it; before the status is posted, <c>GET /api/v1/media/:id</c> is asked until it answers 200 (206
/// while processing), since Mastodon refuses a status with media not yet processed. The status attaches it with
/// <c>media_ids</c>.
/// </summary>
public sealed class MastodonClient(HttpClient http, IHostEnvironment environment, TimeProvider time) : ISocialClient
{
    private readonly HttpOutcomes outcomes = new(HttpService.Mastodon, ErrorText, time);

    public Network Network => Network.Mastodon;

    /// <summary>Mastodon's default image limit (an instance may set its own; a refusal posts without the image).</summary>
    public int MaxImageBytes => 16 * 1024 * 1024;

    /// <summary>Mastodon's limit on a media description.</summary>
    public const int MaxDescription = 1500;

    /// <summary>How long to wait for Mastodon to process an image before the attempt is tried again later (with the same upload).</summary>
    public static readonly TimeSpan ProcessingWait = TimeSpan.FromSeconds(30);

    public async Task<MediaUpload> UploadImageAsync(SocialAccount account, FetchedImage image, string? alt, CancellationToken cancellationToken)
    {
        var baseUrl = (account.BaseUrl ?? SocialAccount.DefaultBaseUrl(Network)).TrimEnd('/');
        if (account.TryResolveCredentials(environment.ContentRootPath, out var problem) is not { } secrets)
            return new MediaUpload.Failed(outcomes.CredentialProblem(problem!));
        const string call = "POST /api/v2/media";
        try
        {
            var file = new ByteArrayContent(image.Bytes);
            file.Headers.ContentType = new MediaTypeHeaderValue(image.MediaType);
            using var form = new MultipartFormDataContent { { file, "file", "image" + Extension(image.MediaType) } };
            if (!string.IsNullOrWhiteSpace(alt)) form.Add(new StringContent(alt.Length > MaxDescription ? alt[..MaxDescription] : alt), "description");
            using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/api/v2/media") { Content = form };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secrets["AccessToken"]);
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode) return MediaUpload.FromFailure(response.StatusCode, outcomes.Failure($"{call} at {baseUrl}", response, body));
            using var json = JsonDocument.Parse(body);
            return Text(json.RootElement, "id") is { } id
                ? new MediaUpload.Uploaded(id)
                : new MediaUpload.Refused($"mastodon: {call} answered without a media id: {HttpOutcomes.Shorten(body)}");
        }
        catch (Exception e) when (HttpOutcomes.IsTransportFailure(e, cancellationToken))
        {
            return new MediaUpload.Failed(outcomes.FromException(e, baseUrl, call, http.Timeout));
        }
    }

    private static string Extension(string mediaType) => mediaType switch
    {
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/gif" => ".gif",
        _ => ".webp",
    };

    /// <summary>Null once Mastodon has processed the media; else the outcome that ends this attempt (still processing, gone, refused).</summary>
    private async Task<DeliveryOutcome?> WaitForProcessingAsync(string baseUrl, string token, string mediaId, CancellationToken cancellationToken)
    {
        var call = "GET /api/v1/media/:id";
        var waited = TimeSpan.Zero;
        var pause = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{baseUrl}/api/v1/media/{Uri.EscapeDataString(mediaId)}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode == System.Net.HttpStatusCode.OK) return null;
            if (response.StatusCode != System.Net.HttpStatusCode.PartialContent) return outcomes.Failure($"{call} at {baseUrl}", response, body);
            if (waited >= ProcessingWait)
                return new DeliveryOutcome.Transient($"mastodon: the image (media {mediaId}) was still being processed after {ProcessingWait.TotalSeconds:N0} seconds; the post waits for it");
            // Real time on purpose: this waits for the remote server's work, not for anything this app schedules.
            await Task.Delay(pause, cancellationToken);
            waited += pause;
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(4).Ticks));
        }
    }

    public async Task<DeliveryOutcome> PostAsync(SocialAccount account, ComposedPost post, bool isRetry, CancellationToken cancellationToken)
    {
        var baseUrl = (account.BaseUrl ?? SocialAccount.DefaultBaseUrl(Network)).TrimEnd('/');
        if (account.TryResolveCredentials(environment.ContentRootPath, out var problem) is not { } secrets)
            return outcomes.CredentialProblem(problem!);
        var status = new Dictionary<string, object?>
        {
            ["status"] = post.Text,
            ["visibility"] = account.Visibility,
            ["language"] = post.Language,
        };
        if (post.MediaRef is { } mediaId) status["media_ids"] = new[] { mediaId };
        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/api/v1/statuses") { Content = JsonContent.Create(status) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secrets["AccessToken"]);
        request.Headers.Add("Idempotency-Key", post.IdempotencyKey);
        var call = "POST /api/v1/statuses";
        try
        {
            if (post.MediaRef is { } media)
            {
                call = "GET /api/v1/media/:id";
                if (await WaitForProcessingAsync(baseUrl, secrets["AccessToken"], media, cancellationToken) is { } notReady) return notReady;
                call = "POST /api/v1/statuses";
            }
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode) return outcomes.Failure($"{call} at {baseUrl}", response, body);
            // A 2xx means the status exists; one without an id is still sent (a retry would only repeat it).
            using var json = JsonDocument.Parse(body);
            return outcomes.Sent(response, Text(json.RootElement, "id"), Text(json.RootElement, "url"));
        }
        catch (Exception e) when (HttpOutcomes.IsTransportFailure(e, cancellationToken))
        {
            return outcomes.FromException(e, baseUrl, call, http.Timeout);
        }
    }

    /// <summary>Mastodon's Error entity: <c>error</c>, and <c>error_description</c> for OAuth errors; else the body.</summary>
    private static string ErrorText(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var words = string.Join(": ", new[] { Text(json.RootElement, "error"), Text(json.RootElement, "error_description") }.Where(w => !string.IsNullOrWhiteSpace(w)));
            return HttpOutcomes.Shorten(words.Length == 0 ? body : words);
        }
        catch (JsonException)
        {
            return HttpOutcomes.Shorten(body);
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
