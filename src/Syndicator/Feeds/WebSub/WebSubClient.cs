using System.Net;
using Syndicator.Deliveries;

namespace Syndicator.Feeds.WebSub;

/// <summary>
/// Tells a WebSub hub that a feed changed (W3C WebSub §7: a form POST with <c>hub.mode=publish</c> and
/// <c>hub.url</c>). Errors start with "websub:" and are classed as transient (timeouts, connection failures, 5xx,
/// 429) or permanent (other 4xx).
/// </summary>
public sealed class WebSubClient(HttpClient http)
{
    public async Task<DeliveryOutcome> PublishAsync(string hub, string topic, CancellationToken cancellationToken)
    {
        using var content = new FormUrlEncodedContent([new("hub.mode", "publish"), new("hub.url", topic)]);
        try
        {
            using var response = await http.PostAsync(hub, content, cancellationToken);
            if (response.IsSuccessStatusCode) return new DeliveryOutcome.Sent(null, null);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var error = $"websub: {hub} answered {(int)response.StatusCode} {response.ReasonPhrase}: {Shorten(body)}";
            return (int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests
                ? new DeliveryOutcome.Transient(error, RetryAfter(response))
                : new DeliveryOutcome.Permanent(error);
        }
        catch (HttpRequestException e)
        {
            return new DeliveryOutcome.Transient($"websub: {hub} could not be reached: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new DeliveryOutcome.Transient($"websub: {hub} did not answer within {http.Timeout.TotalSeconds:N0} s");
        }
    }

    private static DateTimeOffset? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Date: { } date } => date,
            { Delta: { } delta } => DateTimeOffset.UtcNow + delta,
            _ => null,
        };

    private static string Shorten(string text) => text.Length <= 300 ? text.Trim() : text[..300].Trim() + "…";
}
