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
/// </summary>
public sealed class MastodonClient(HttpClient http, IHostEnvironment environment, TimeProvider time) : ISocialClient
{
    private readonly HttpOutcomes outcomes = new(HttpService.Mastodon, ErrorText, time);

    public Network Network => Network.Mastodon;

    public async Task<DeliveryOutcome> PostAsync(SocialAccount account, ComposedPost post, bool isRetry, CancellationToken cancellationToken)
    {
        var baseUrl = (account.BaseUrl ?? SocialAccount.DefaultBaseUrl(Network)).TrimEnd('/');
        if (account.TryResolveCredentials(environment.ContentRootPath, out var problem) is not { } secrets)
            return outcomes.CredentialProblem(problem!);
        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/api/v1/statuses")
        {
            Content = JsonContent.Create(new Dictionary<string, string?>
            {
                ["status"] = post.Text,
                ["visibility"] = account.Visibility,
                ["language"] = post.Language,
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secrets["AccessToken"]);
        request.Headers.Add("Idempotency-Key", post.IdempotencyKey);
        const string call = "POST /api/v1/statuses";
        try
        {
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
