using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Syndicator.Deliveries;

namespace Syndicator.Announcements.Mastodon;

/// <summary>
/// Posts a status with <c>POST /api/v1/statuses</c> and a bearer token. The <c>Idempotency-Key</c> header carries the
/// post's key, so a retry after a crash returns the status already created instead of posting twice.
/// </summary>
public sealed class MastodonClient(HttpClient http, IHostEnvironment environment) : ISocialClient
{
    public Network Network => Network.Mastodon;

    public async Task<DeliveryOutcome> PostAsync(SocialAccount account, ComposedPost post, bool isRetry, CancellationToken cancellationToken)
    {
        var baseUrl = (account.BaseUrl ?? SocialAccount.DefaultBaseUrl(Network)).TrimEnd('/');
        var token = Secrets.Resolve(account.Credentials.GetValueOrDefault("AccessToken") ?? "", environment.ContentRootPath, $"Announcements account {account.Name} AccessToken");
        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/api/v1/statuses")
        {
            Content = JsonContent.Create(new Dictionary<string, string?>
            {
                ["status"] = post.Text,
                ["visibility"] = account.Visibility,
                ["language"] = post.Language,
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("Idempotency-Key", post.IdempotencyKey);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                using var json = JsonDocument.Parse(body);
                return new DeliveryOutcome.Sent(json.RootElement.GetProperty("id").GetString(), json.RootElement.TryGetProperty("url", out var url) ? url.GetString() : null);
            }
            var error = $"mastodon: {baseUrl} answered {(int)response.StatusCode} {response.ReasonPhrase}: {ErrorText(body)}";
            return response.StatusCode switch
            {
                HttpStatusCode.TooManyRequests => new DeliveryOutcome.Transient(error, RateLimitReset(response)),
                >= HttpStatusCode.InternalServerError => new DeliveryOutcome.Transient(error),
                _ => new DeliveryOutcome.Permanent(error),
            };
        }
        catch (HttpRequestException e)
        {
            return new DeliveryOutcome.Transient($"mastodon: {baseUrl} could not be reached: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new DeliveryOutcome.Transient($"mastodon: {baseUrl} did not answer within {http.Timeout.TotalSeconds:N0} s");
        }
    }

    /// <summary>Mastodon sends X-RateLimit-Reset as an ISO 8601 timestamp.</summary>
    private static DateTimeOffset? RateLimitReset(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-RateLimit-Reset", out var values)
        && DateTimeOffset.TryParse(values.First(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var reset)
            ? reset
            : null;

    private static string ErrorText(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("error", out var e) ? e.GetString() ?? body : body;
        }
        catch (JsonException)
        {
            return body.Length > 300 ? body[..300] : body;
        }
    }
}
