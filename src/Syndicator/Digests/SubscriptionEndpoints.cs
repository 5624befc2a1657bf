using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Scheduling;
using Syndicator.Shared;

namespace Syndicator.Digests;

/// <summary>
/// Sign-up with double opt-in, confirmation, and unsubscribe: thin adapters over <see cref="Subscriptions"/>. A GET
/// never changes anything (mail scanners follow links): it shows a page with a button that POSTs. The one-click
/// unsubscribe of RFC 8058 is that POST, which unsubscribes at once. Links carry HMAC-signed tokens; a forged or
/// altered one is refused. POST /subscribe is rate limited per client and overall (<see cref="SubscriptionOptions"/>)
/// and its body is bounded, so the form cannot be used to mail strangers in bulk or to exhaust the server.
/// </summary>
public static class SubscriptionEndpoints
{
    /// <summary>
    /// A sign-up form is a few hundred bytes. 16 KiB still lets an over-long address or name through to be refused with
    /// its reason (a 10,000-character address is told it is longer than 254); anything larger is refused (413) unread.
    /// </summary>
    public const long MaxFormBytes = 16 * 1024;

    public static void AddServices(IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = SignUpLimiter();
            limiter.OnRejected = async (context, ct) =>
            {
                var options = Limits(context.HttpContext);
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : options.Window;
                context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, retryAfter.TotalSeconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
                context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SubscriptionEndpoints))
                    .LogWarning("Sign-up from {Client} refused: more than the Subscriptions limits allow ({PerClient} per client, {Overall} overall, per {Window} s)",
                        context.HttpContext.Connection.RemoteIpAddress, options.SignUpsPerClient, options.SignUpsOverall, options.WindowSeconds);
                var site = context.HttpContext.RequestServices.GetRequiredService<IOptions<SiteOptions>>().Value;
                await Page(site, "Too many sign-ups", $"<p>Too many sign-ups came in just now. Please try again in {(int)Math.Ceiling(retryAfter.TotalMinutes)} minute(s).</p>", 429)
                    .ExecuteAsync(context.HttpContext);
            };
        });
    }

    public static void Map(WebApplication app)
    {
        app.UseRateLimiter();

        app.MapGet("/subscribe", (IOptions<SiteOptions> site) => Page(site.Value, "Subscribe", Form()));

        app.MapPost("/subscribe", async (HttpContext context, Subscriptions subscriptions, JobTrigger jobs, IOptions<SiteOptions> site, ILogger<Subscriptions> logger, CancellationToken ct) =>
        {
            if (await ReadFormAsync(context, ct) is not { } form)
                return Page(site.Value, "Too long", $"<p>The form was larger than {MaxFormBytes / 1024} KiB. Names and addresses are much shorter; go back and check them.</p>", StatusCodes.Status413PayloadTooLarge);
            var frequencyText = form["frequency"].ToString().Trim();
            DigestFrequency? frequency = frequencyText.Length == 0 || frequencyText.Equals("daily", StringComparison.OrdinalIgnoreCase) ? DigestFrequency.Daily
                : frequencyText.Equals("weekly", StringComparison.OrdinalIgnoreCase) ? DigestFrequency.Weekly : null;
            var zone = form["tz"].ToString();
            var check = subscriptions.Check(new SubscriptionRequest(form["email"].ToString(), form["name"].ToString(), frequency ?? DigestFrequency.Daily,
                zone.Trim().Length == 0 ? "UTC" : zone, [], []));
            var problems = frequency is null ? [.. check.Problems, "how often must be daily or weekly"] : check.Problems;
            if (problems.Count > 0)
                return Page(site.Value, "Subscribe", $"<p>Please check the form:</p><ul>{string.Concat(problems.Select(p => $"<li>{WebUtility.HtmlEncode(p)}</li>"))}</ul>{Form()}", 400);
            foreach (var warning in check.Warnings) logger.LogWarning("Sign-up form: {Warning}", warning);

            await subscriptions.RequestAsync(check.Accepted!, ct);
            // The service process runs the scheduler: send the confirmation now rather than at the next EmailSend run.
            await jobs.FireNowAsync(JobCatalog.EmailSend, ct);
            // The same answer whatever the address's state, so the form does not reveal who subscribes.
            return Page(site.Value, "Check your inbox", $"<p>We sent a message to {WebUtility.HtmlEncode(check.Accepted!.Email)}. If it asks you to confirm, nothing else will be sent until you do.</p>");
        }).WithMetadata(SignUpEndpoint.Marker);

        app.MapGet("/subscribe/confirm", async (string? token, Subscriptions subscriptions, IOptions<SiteOptions> site, CancellationToken ct) =>
        {
            var (result, subscriber) = await subscriptions.CheckConfirmationAsync(token, ct);
            return result == ConfirmationResult.Confirmed
                ? Page(site.Value, "Confirm your subscription", $"""
                    <form method="post" action="/subscribe/confirm?token={WebUtility.UrlEncode(token)}"><button type="submit">Yes, send me the digest</button></form>
                    """)
                : Refused(site.Value, result, subscriber);
        });

        app.MapPost("/subscribe/confirm", async (string? token, Subscriptions subscriptions, IOptions<SiteOptions> site, CancellationToken ct) =>
        {
            var (result, subscriber) = await subscriptions.ConfirmAsync(token, ct);
            return result == ConfirmationResult.Confirmed
                ? Page(site.Value, "Subscribed", $"<p>Thank you. {WebUtility.HtmlEncode(subscriber!.Email)} will receive the {subscriber.Frequency.ToString().ToLowerInvariant()} digest.</p>")
                : Refused(site.Value, result, subscriber);
        });

        app.MapGet("/unsubscribe", async (string? token, Subscriptions subscriptions, IOptions<SiteOptions> site, CancellationToken ct) =>
            await subscriptions.FindUnsubscribingAsync(token, ct) is { } subscriber
                ? Page(site.Value, "Unsubscribe", $"""
                    <p>Stop sending the digest to {WebUtility.HtmlEncode(subscriber.Email)}?</p>
                    <form method="post" action="/unsubscribe?token={WebUtility.UrlEncode(token)}"><button type="submit">Unsubscribe</button></form>
                    """)
                : Invalid(site.Value));

        app.MapPost("/unsubscribe", async (string? token, Subscriptions subscriptions, IOptions<SiteOptions> site, CancellationToken ct) =>
            await subscriptions.UnsubscribeAsync(token, ct) is { } subscriber
                ? Page(site.Value, "Unsubscribed", $"<p>{WebUtility.HtmlEncode(subscriber.Email)} will receive no more digests.</p>")
                : Invalid(site.Value));
    }

    /// <summary>The form, or null when its body is larger than <see cref="MaxFormBytes"/> (declared or as it arrives).</summary>
    private static async Task<IFormCollection?> ReadFormAsync(HttpContext context, CancellationToken ct)
    {
        if (context.Request.ContentLength > MaxFormBytes) return null;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = MaxFormBytes;
        if (!context.Request.HasFormContentType) return FormCollection.Empty;
        try
        {
            return await context.Request.ReadFormAsync(ct);
        }
        catch (Exception e) when (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } or InvalidDataException)
        {
            // A chunked body without a length that grew past the limit, or a field past the form reader's own limits.
            return null;
        }
    }

    private static string Form() => """
        <form method="post" action="/subscribe">
          <p><label>E-mail <input type="email" name="email" required maxlength="254"></label></p>
          <p><label>Name <input type="text" name="name" maxlength="64"></label></p>
          <p><label>How often <select name="frequency"><option value="daily">Daily</option><option value="weekly">Weekly</option></select></label></p>
          <p><label>Time zone <input type="text" name="tz" value="UTC" maxlength="64"></label></p>
          <p><button type="submit">Subscribe</button></p>
        </form>
        """;

    private static IResult Refused(SiteOptions site, ConfirmationResult result, Subscriber? subscriber) => result switch
    {
        ConfirmationResult.AlreadyConfirmed => Page(site, "Already subscribed",
            $"<p>{WebUtility.HtmlEncode(subscriber!.Email)} already receives the {subscriber.Frequency.ToString().ToLowerInvariant()} digest. There is nothing to confirm.</p>"),
        ConfirmationResult.Expired => Page(site, "Link expired",
            "<p>This confirmation link has expired. <a href=\"/subscribe\">Sign up again</a> and use the link in the new e-mail.</p>", StatusCodes.Status410Gone),
        ConfirmationResult.Superseded => Page(site, "Link no longer valid",
            "<p>This confirmation link belongs to an earlier sign-up of this address: it was unsubscribed or signed up again since. " +
            "<a href=\"/subscribe\">Sign up again</a> and use the link in the newest e-mail.</p>", StatusCodes.Status410Gone),
        _ => Invalid(site),
    };

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

    /// <summary>Marks the endpoint the sign-up limits count.</summary>
    private sealed class SignUpEndpoint
    {
        public static readonly SignUpEndpoint Marker = new();
    }

    private static bool IsSignUp(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<SignUpEndpoint>() is not null;

    private static SubscriptionOptions Limits(HttpContext context) => context.RequestServices.GetRequiredService<IOptions<SubscriptionOptions>>().Value;

    /// <summary>
    /// Subscriptions:SignUpsPerClient per client address and Subscriptions:SignUpsOverall over everyone, in fixed
    /// windows of Subscriptions:WindowSeconds, chained so a sign-up needs a permit from both; no queue (an excess
    /// sign-up is refused at once). Every other request passes.
    /// </summary>
    private static PartitionedRateLimiter<HttpContext> SignUpLimiter() => PartitionedRateLimiter.CreateChained(
        PartitionedRateLimiter.Create<HttpContext, string>(context => IsSignUp(context)
            ? RateLimitPartition.GetFixedWindowLimiter(ClientKey(context.Connection.RemoteIpAddress), _ => Window(Limits(context).SignUpsPerClient, Limits(context).Window))
            : RateLimitPartition.GetNoLimiter("")),
        PartitionedRateLimiter.Create<HttpContext, string>(context => IsSignUp(context)
            ? RateLimitPartition.GetFixedWindowLimiter("*", _ => Window(Limits(context).SignUpsOverall, Limits(context).Window))
            : RateLimitPartition.GetNoLimiter("")));

    private static FixedWindowRateLimiterOptions Window(int permits, TimeSpan window) =>
        new() { PermitLimit = permits, Window = window, QueueLimit = 0, AutoReplenishment = true };

    /// <summary>The client a sign-up counts against: its IPv4 address, or its IPv6 /64 (the block one machine usually has to itself).</summary>
    internal static string ClientKey(IPAddress? address)
    {
        if (address is null) return "unknown";
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}
