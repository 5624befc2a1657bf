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
/// Sign-up with double opt-in, confirmation, the reader's preferences page, and unsubscribe: thin adapters over
/// <see cref="Subscriptions"/>, with the pages in <see cref="ReaderPages"/>. A GET
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
                await ReaderPages.Page(site, "Too many sign-ups", $"<p>Too many sign-ups came in just now. Please try again in {(int)Math.Ceiling(retryAfter.TotalMinutes)} minute(s).</p>", 429)
                    .ExecuteAsync(context.HttpContext);
            };
        });
    }

    public static void Map(WebApplication app)
    {
        app.UseRateLimiter();

        app.MapGet("/subscribe", async (FollowCatalog catalog, IOptions<SiteOptions> site, TimeProvider time, CancellationToken ct) =>
            SignUpPage(site.Value, new ReaderForm("", "", DigestFrequency.Daily, site.Value.TimeZone, [], [], ZoneChosen: false), await catalog.ListAsync(ct), [], time.GetUtcNow()));

        app.MapPost("/subscribe", async (HttpContext context, Subscriptions subscriptions, FollowCatalog catalog, JobTrigger jobs, IOptions<SiteOptions> site,
            TimeProvider time, ILogger<Subscriptions> logger, CancellationToken ct) =>
        {
            var (form, refused) = await ReadFormAsync(context, site.Value, "Names and addresses are much shorter; go back and check them.", ct);
            if (form is null) return refused!;
            var known = await catalog.ListAsync(ct);
            var (choices, choiceProblems) = ReaderChoices.Parse(form["frequency"], form["tz"], form["author"], form["tag"], known, site.Value.TimeZone);
            var email = form["email"].ToString();
            var check = subscriptions.Check(new SubscriptionRequest(email, form["name"].ToString(), choices?.Frequency ?? DigestFrequency.Daily,
                choices?.TimeZone ?? site.Value.TimeZone, choices?.Authors ?? [], choices?.Tags ?? []));
            // The zone is checked by both (Check serves the CLI too) with the same words: shown once.
            var problems = check.Problems.Concat(choiceProblems).Distinct().ToList();
            if (problems.Count > 0)
            {
                // What the reader sent stays filled in, except what cannot be (an address too long to be one).
                var again = new ReaderForm(email.Length <= SubscriberAddress.MaxLength ? email.Trim() : "", Shown.Value(form["name"].ToString(), SubscriberName.MaxLength),
                    choices?.Frequency ?? DigestFrequency.Daily, ReaderChoices.ZoneProblem(form["tz"]) is null ? form["tz"].ToString().Trim() : site.Value.TimeZone,
                    [.. form["author"].OfType<string>()], [.. form["tag"].OfType<string>()], ZoneChosen: ReaderChoices.ZoneProblem(form["tz"]) is null);
                return SignUpPage(site.Value, again, known, problems, time.GetUtcNow(), StatusCodes.Status400BadRequest);
            }
            foreach (var warning in check.Warnings) logger.LogWarning("Sign-up form: {Warning}", warning);

            await subscriptions.RequestAsync(check.Accepted!, ct);
            // The service process runs the scheduler: send the confirmation now rather than at the next EmailSend run.
            await jobs.FireNowAsync(JobCatalog.EmailSend, ct);
            // The same answer whatever the address's state, so the form does not reveal who subscribes.
            return ReaderPages.Page(site.Value, "Check your inbox", $"<p>We sent a message to {ReaderPages.E(check.Accepted!.Email)}. If it asks you to confirm, nothing else will be sent until you do.</p>");
        }).WithMetadata(SignUpEndpoint.Marker);

        // The reader's own settings, from the link in every digest. The token travels in the form on POST (a hidden
        // field): a page on another site cannot know it, so it cannot change anyone's settings (no cookie is involved).
        app.MapGet("/preferences", async (string? token, Subscriptions subscriptions, FollowCatalog catalog, IOptions<SiteOptions> site, TimeProvider time, CancellationToken ct) =>
        {
            var (result, subscriber) = await subscriptions.FindByPreferencesAsync(token, ct);
            if (result != PreferencesLinkResult.Valid) return PreferencesRefused(site.Value, result, subscriber);
            var form = new ReaderForm(subscriber!.Email, "", subscriber.Frequency, subscriber.TimeZone, subscriber.FollowedAuthors, subscriber.FollowedTags, ZoneChosen: true);
            return PreferencesPage(site.Value, token!, form, await catalog.ListAsync(ct), [], time.GetUtcNow());
        });

        app.MapPost("/preferences", async (HttpContext context, Subscriptions subscriptions, FollowCatalog catalog, SubscriberTokens tokens, IOptions<SiteOptions> site,
            TimeProvider time, CancellationToken ct) =>
        {
            var (form, refused) = await ReadFormAsync(context, site.Value, "Go back and tick fewer authors and tags (ticking none sends everything).", ct);
            if (form is null) return refused!;
            var token = form["token"].ToString();
            var (result, subscriber) = await subscriptions.FindByPreferencesAsync(token, ct);
            if (result != PreferencesLinkResult.Valid) return PreferencesRefused(site.Value, result, subscriber);
            var known = await catalog.ListAsync(ct);
            var (choices, problems) = ReaderChoices.Parse(form["frequency"], form["tz"], form["author"], form["tag"], known, subscriber!.TimeZone);
            if (choices is null)
            {
                var again = new ReaderForm(subscriber.Email, "", subscriber.Frequency, ReaderChoices.ZoneProblem(form["tz"]) is null ? form["tz"].ToString().Trim() : subscriber.TimeZone,
                    [.. form["author"].OfType<string>()], [.. form["tag"].OfType<string>()], ZoneChosen: true);
                return PreferencesPage(site.Value, token, again, known, problems, time.GetUtcNow(), StatusCodes.Status400BadRequest);
            }
            (result, subscriber) = await subscriptions.SavePreferencesAsync(token, choices, ct);
            if (result != PreferencesLinkResult.Valid) return PreferencesRefused(site.Value, result, subscriber);
            var follows = subscriber!.FollowedAuthors.Concat(subscriber.FollowedTags).ToList();
            return ReaderPages.Page(site.Value, "Preferences saved", $"""
                <p>From the next digest, {ReaderPages.E(subscriber.Email)} receives the <strong>{ReaderChoices.Name(subscriber.Frequency)}</strong> digest
                in the morning of <strong>{ReaderPages.E(subscriber.TimeZone)}</strong>, with {(follows.Count == 0 ? "every new article" : "the new articles of " + string.Join(", ", follows.Select(f => $"<bdi>{ReaderPages.E(f)}</bdi>")))}.</p>
                <p><a href="/preferences?token={WebUtility.UrlEncode(token)}">Change them again</a> · <a href="/unsubscribe?token={WebUtility.UrlEncode(tokens.Unsubscribe(subscriber.Id))}">Unsubscribe</a></p>
                """);
        });

        app.MapGet("/subscribe/confirm", async (string? token, Subscriptions subscriptions, IOptions<SiteOptions> site, CancellationToken ct) =>
        {
            var (result, subscriber) = await subscriptions.CheckConfirmationAsync(token, ct);
            return result == ConfirmationResult.Confirmed
                ? ReaderPages.Page(site.Value, "Confirm your subscription", $"""
                    <form method="post" action="/subscribe/confirm?token={WebUtility.UrlEncode(token)}"><button type="submit">Yes, send me the digest</button></form>
                    """)
                : Refused(site.Value, result, subscriber);
        });

        app.MapPost("/subscribe/confirm", async (string? token, Subscriptions subscriptions, IOptions<SiteOptions> site, CancellationToken ct) =>
        {
            var (result, subscriber) = await subscriptions.ConfirmAsync(token, ct);
            return result == ConfirmationResult.Confirmed
                ? ReaderPages.Page(site.Value, "Subscribed", $"<p>Thank you. {WebUtility.HtmlEncode(subscriber!.Email)} will receive the {subscriber.Frequency.ToString().ToLowerInvariant()} digest.</p>")
                : Refused(site.Value, result, subscriber);
        });

        app.MapGet("/unsubscribe", async (string? token, Subscriptions subscriptions, IOptions<SiteOptions> site, CancellationToken ct) =>
            await subscriptions.FindUnsubscribingAsync(token, ct) is { } subscriber
                ? ReaderPages.Page(site.Value, "Unsubscribe", $"""
                    <p>Stop sending the digest to {WebUtility.HtmlEncode(subscriber.Email)}?</p>
                    <form method="post" action="/unsubscribe?token={WebUtility.UrlEncode(token)}"><button type="submit">Unsubscribe</button></form>
                    """)
                : Invalid(site.Value));

        app.MapPost("/unsubscribe", async (string? token, Subscriptions subscriptions, IOptions<SiteOptions> site, CancellationToken ct) =>
            await subscriptions.UnsubscribeAsync(token, ct) is { } subscriber
                ? ReaderPages.Page(site.Value, "Unsubscribed", $"<p>{WebUtility.HtmlEncode(subscriber.Email)} will receive no more digests.</p>")
                : Invalid(site.Value));
    }

    /// <summary>
    /// The form, or the page that refuses it: 413 when its body is larger than <see cref="MaxFormBytes"/> (declared or as
    /// it arrives) or has more fields than the form reader takes, 400 naming the field when a value holds a NUL
    /// character (the form reader refuses those without saying where).
    /// </summary>
    private static async Task<(IFormCollection? Form, IResult? Refused)> ReadFormAsync(HttpContext context, SiteOptions site, string tooLargeHint, CancellationToken ct)
    {
        var tooLarge = ReaderPages.Page(site, "Too long", $"<p>The form was larger than {MaxFormBytes / 1024} KiB. {ReaderPages.E(tooLargeHint)}</p>", StatusCodes.Status413PayloadTooLarge);
        if (context.Request.ContentLength > MaxFormBytes) return (null, tooLarge);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = MaxFormBytes;
        if (!context.Request.HasFormContentType) return (FormCollection.Empty, null);
        // Kept (in memory: it is at most MaxFormBytes) so a form the reader refuses can be looked at for the reason.
        context.Request.EnableBuffering(bufferThreshold: (int)MaxFormBytes, bufferLimit: MaxFormBytes);
        try
        {
            return (await context.Request.ReadFormAsync(ct), null);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // A chunked body without a length that grew past the limit.
            return (null, tooLarge);
        }
        catch (InvalidDataException)
        {
            return await FieldWithNulAsync(context.Request, ct) is { } field
                ? (null, ReaderPages.Page(site, "Subscribe", ReaderPages.Problems([$"{field}: the value holds a NUL character (U+0000), which no field may contain; type it again"]) +
                    "<p>Go back and correct it.</p>", StatusCodes.Status400BadRequest))
                : (null, tooLarge);
        }
    }

    /// <summary>The name of the first url-encoded field whose value holds U+0000, or null.</summary>
    private static async Task<string?> FieldWithNulAsync(HttpRequest request, CancellationToken ct)
    {
        if (!request.Body.CanSeek) return null;
        request.Body.Position = 0;
        using var reader = new StreamReader(request.Body, leaveOpen: true);
        foreach (var pair in (await reader.ReadToEndAsync(ct)).Split('&'))
        {
            var equals = pair.IndexOf('=');
            if (equals <= 0 || !Decode(pair[(equals + 1)..]).Contains('\0')) continue;
            var key = Decode(pair[..equals]);
            return key switch { "tz" => "time zone", "frequency" => "how often", "author" => "authors", "tag" => "tags", "email" => "e-mail", _ => Shown.Value(key, 40) };
        }
        return null;

        static string Decode(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));
    }

    private static IResult SignUpPage(SiteOptions site, ReaderForm form, FollowChoices known, IReadOnlyList<string> problems, DateTimeOffset now, int status = StatusCodes.Status200OK) =>
        ReaderPages.Page(site, $"Subscribe to {site.Title}", $"""
            {(problems.Count > 0 ? ReaderPages.Problems(problems) : $"<p>New articles from {ReaderPages.E(site.Title)} by e-mail, once a day or once a week. We send a message to confirm first.</p>")}
            <form method="post" action="/subscribe">
              <p><label for="email">E-mail</label><input type="email" id="email" name="email" required maxlength="{SubscriberAddress.MaxLength}" autocomplete="email" value="{ReaderPages.E(form.Email)}"></p>
              <p><label for="name">Name <span class="hint">(optional, for the greeting)</span></label><input type="text" id="name" name="name" maxlength="{SubscriberName.MaxLength}" autocomplete="name" dir="auto" value="{ReaderPages.E(form.Name)}"></p>
              {ReaderPages.ChoiceFields(form, known, now)}
              <p><button type="submit">Subscribe</button></p>
            </form>
            """, status, zoneScript: true);

    private static IResult PreferencesPage(SiteOptions site, string token, ReaderForm form, FollowChoices known, IReadOnlyList<string> problems, DateTimeOffset now, int status = StatusCodes.Status200OK) =>
        ReaderPages.Page(site, "Your digest", $"""
            {(problems.Count > 0 ? ReaderPages.Problems(problems) : "")}
            <p>Settings for {ReaderPages.E(form.Email)}. Changes apply from the next digest.</p>
            <form method="post" action="/preferences">
              <input type="hidden" name="token" value="{ReaderPages.E(token)}">
              {ReaderPages.ChoiceFields(form, known, now)}
              <p><button type="submit">Save</button></p>
            </form>
            """, status);

    private static IResult PreferencesRefused(SiteOptions site, PreferencesLinkResult result, Subscriber? subscriber) => result switch
    {
        PreferencesLinkResult.Expired => ReaderPages.Page(site, "Link expired",
            "<p>This preferences link has expired. Every digest carries a fresh one: use the link in your latest digest.</p>", StatusCodes.Status410Gone),
        PreferencesLinkResult.NotSubscribed => ReaderPages.Page(site, "Not subscribed",
            $"<p>{ReaderPages.E(subscriber!.Email)} no longer receives the digest, so there is nothing to change. <a href=\"/subscribe\">Subscribe again</a> if you want it back.</p>", StatusCodes.Status410Gone),
        _ => Invalid(site),
    };

    private static IResult Refused(SiteOptions site, ConfirmationResult result, Subscriber? subscriber) => result switch
    {
        ConfirmationResult.AlreadyConfirmed => ReaderPages.Page(site, "Already subscribed",
            $"<p>{WebUtility.HtmlEncode(subscriber!.Email)} already receives the {subscriber.Frequency.ToString().ToLowerInvariant()} digest. There is nothing to confirm.</p>"),
        ConfirmationResult.Expired => ReaderPages.Page(site, "Link expired",
            "<p>This confirmation link has expired. <a href=\"/subscribe\">Sign up again</a> and use the link in the new e-mail.</p>", StatusCodes.Status410Gone),
        ConfirmationResult.Superseded => ReaderPages.Page(site, "Link no longer valid",
            "<p>This confirmation link belongs to an earlier sign-up of this address: it was unsubscribed or signed up again since. " +
            "<a href=\"/subscribe\">Sign up again</a> and use the link in the newest e-mail.</p>", StatusCodes.Status410Gone),
        _ => Invalid(site),
    };

    private static IResult Invalid(SiteOptions site) =>
        ReaderPages.Page(site, "Link not valid", "<p>This link is not valid. It may have been altered or copied incompletely; use the link from the latest e-mail.</p>", 400);


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
