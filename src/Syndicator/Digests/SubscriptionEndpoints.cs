using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MimeKit;
using Syndicator.Deliveries;
using Syndicator.Hosting;
using Syndicator.Scheduling;

namespace Syndicator.Digests;

/// <summary>
/// Sign-up with double opt-in, confirmation, and unsubscribe. A GET never changes anything (mail scanners follow
/// links): it shows a page with a button that POSTs. The one-click unsubscribe of RFC 8058 is that POST, which
/// unsubscribes at once. Links carry HMAC-signed tokens; a forged or altered one is refused.
/// </summary>
public static class SubscriptionEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/subscribe", (IOptions<SiteOptions> site) => Page(site.Value, "Subscribe", $"""
            <form method="post" action="/subscribe">
              <p><label>E-mail <input type="email" name="email" required></label></p>
              <p><label>Name <input type="text" name="name"></label></p>
              <p><label>How often <select name="frequency"><option value="daily">Daily</option><option value="weekly">Weekly</option></select></label></p>
              <p><label>Time zone <input type="text" name="tz" value="UTC"></label></p>
              <p><button type="submit">Subscribe</button></p>
            </form>
            """));

        app.MapPost("/subscribe", async (HttpRequest request, SubscriberStore store, DeliveryStore deliveries, JobTrigger jobs, IOptions<SiteOptions> site, TimeProvider time, CancellationToken ct) =>
        {
            var form = await request.ReadFormAsync(ct);
            var email = form["email"].ToString().Trim();
            if (!MailboxAddress.TryParse(email, out var mailbox) || mailbox.Address.IndexOf('@') <= 0)
                return Page(site.Value, "Subscribe", "<p>That is not an e-mail address. Go back and check it.</p>", 400);
            var frequency = string.Equals(form["frequency"], "weekly", StringComparison.OrdinalIgnoreCase) ? DigestFrequency.Weekly : DigestFrequency.Daily;
            var zone = form["tz"].ToString();
            if (ScheduleOptionsValidator.FindTimeZone(zone) is null) zone = "UTC";
            var name = form["name"].ToString();

            var existing = await store.FindAsync(mailbox.Address, ct);
            if (existing is null || existing.State is SubscriberState.Pending or SubscriberState.Unsubscribed)
            {
                var (subscriber, _) = existing is { State: SubscriberState.Unsubscribed }
                    ? (await store.ResubscribeAsync(existing.Id, ct), false)
                    : await store.SaveAsync(mailbox.Address, string.IsNullOrWhiteSpace(name) ? null : name, frequency, zone, SubscriberState.Pending, [], [], time.GetUtcNow(), ct);
                // At most one confirmation an hour per address, so the form cannot be used to flood someone's inbox.
                await deliveries.EnsureAsync(EmailChannel.ChannelName, DeliverySubject.Confirmation(subscriber.Id, $"{time.GetUtcNow():yyyyMMddHH}"), DeliveryRecipient.Subscriber(subscriber.Id), time.GetUtcNow(), ct);
                await jobs.FireNowAsync(JobCatalog.EmailSend, ct);
            }
            // The same answer whatever the address's state, so the form does not reveal who subscribes.
            return Page(site.Value, "Check your inbox", $"<p>We sent a confirmation link to {WebUtility.HtmlEncode(mailbox.Address)}. Nothing else will be sent until you confirm.</p>");
        });

        app.MapGet("/subscribe/confirm", (string? token, SubscriberTokens tokens, IOptions<SiteOptions> site) =>
            tokens.Verify(SubscriberTokens.Confirm, token) is null
                ? Invalid(site.Value)
                : Page(site.Value, "Confirm your subscription", $"""
                    <form method="post" action="/subscribe/confirm?token={WebUtility.UrlEncode(token)}"><button type="submit">Yes, send me the digest</button></form>
                    """));

        app.MapPost("/subscribe/confirm", async (string? token, SubscriberTokens tokens, SubscriberStore store, DigestPlanner planner, IOptions<SiteOptions> site, CancellationToken ct) =>
        {
            if (tokens.Verify(SubscriberTokens.Confirm, token) is not { } id || await store.FindAsync(id, ct) is not { } subscriber) return Invalid(site.Value);
            await store.ConfirmAsync(id, planner.FirstWatermark(subscriber.Frequency), ct);
            return Page(site.Value, "Subscribed", $"<p>Thank you. {WebUtility.HtmlEncode(subscriber.Email)} will receive the {subscriber.Frequency.ToString().ToLowerInvariant()} digest.</p>");
        });

        app.MapGet("/unsubscribe", async (string? token, SubscriberTokens tokens, SubscriberStore store, IOptions<SiteOptions> site, CancellationToken ct) =>
        {
            if (tokens.Verify(SubscriberTokens.Unsubscribe, token) is not { } id || await store.FindAsync(id, ct) is not { } subscriber) return Invalid(site.Value);
            return Page(site.Value, "Unsubscribe", $"""
                <p>Stop sending the digest to {WebUtility.HtmlEncode(subscriber.Email)}?</p>
                <form method="post" action="/unsubscribe?token={WebUtility.UrlEncode(token)}"><button type="submit">Unsubscribe</button></form>
                """);
        });

        app.MapPost("/unsubscribe", async (string? token, SubscriberTokens tokens, SubscriberStore store, IOptions<SiteOptions> site, CancellationToken ct) =>
        {
            if (tokens.Verify(SubscriberTokens.Unsubscribe, token) is not { } id || await store.FindAsync(id, ct) is not { } subscriber) return Invalid(site.Value);
            await store.UnsubscribeAsync(id, ct);
            return Page(site.Value, "Unsubscribed", $"<p>{WebUtility.HtmlEncode(subscriber.Email)} will receive no more digests.</p>");
        });
    }

    private static IResult Invalid(SiteOptions site) =>
        Page(site, "Link not valid", "<p>This link is not valid. It may have been altered or copied incompletely; use the link from the latest e-mail.</p>", 400);

    private static IResult Page(SiteOptions site, string title, string body, int status = 200) => Results.Content($"""
        <!DOCTYPE html>
        <html lang="{WebUtility.HtmlEncode(site.Language)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        <title>{WebUtility.HtmlEncode(title)} · {WebUtility.HtmlEncode(site.Title)}</title></head>
        <body style="font-family:Georgia,serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5">
        <h1>{WebUtility.HtmlEncode(title)}</h1>
        {body}
        </body></html>
        """, "text/html; charset=utf-8", statusCode: status);
}
