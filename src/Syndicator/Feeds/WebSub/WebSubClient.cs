using Syndicator.Deliveries;

namespace Syndicator.Feeds.WebSub;

/// <summary>
/// Tells a WebSub hub that a feed changed (W3C WebSub §7: a form POST with <c>hub.mode=publish</c> and
/// <c>hub.url</c>). Answers and failures are classified by <see cref="HttpOutcomes"/>: errors start with "websub:";
/// timeouts, connection failures, 408, 5xx and 429 are transient (Retry-After honoured), other 4xx permanent.
/// </summary>
public sealed class WebSubClient(HttpClient http, TimeProvider time)
{
    private readonly HttpOutcomes outcomes = new(HttpService.WebSub, HttpOutcomes.Shorten, time);

    public async Task<DeliveryOutcome> PublishAsync(string hub, string topic, CancellationToken cancellationToken)
    {
        using var content = new FormUrlEncodedContent([new("hub.mode", "publish"), new("hub.url", topic)]);
        try
        {
            using var response = await http.PostAsync(hub, content, cancellationToken);
            if (response.IsSuccessStatusCode) return outcomes.Sent(response, null, null);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            return outcomes.Failure(hub, response, body);
        }
        catch (Exception e) when (HttpOutcomes.IsTransportFailure(e, cancellationToken))
        {
            return outcomes.FromException(e, hub, null, http.Timeout);
        }
    }
}
