using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Storage;

using Syndicator.Shared;

namespace Syndicator.Digests.Feedback;

/// <summary>Where SNS signing certificates come from, and how a subscription is confirmed: the internet in production, a stand-in in tests.</summary>
public interface ISnsEndpoints
{
    /// <summary>The certificate at <paramref name="url"/>, which <see cref="SnsSignature.IsAmazonUrl"/> has already accepted.</summary>
    Task<X509Certificate2> CertificateAsync(Uri url, CancellationToken cancellationToken);

    /// <summary>Visits a SubscribeURL (also checked by <see cref="SnsSignature.IsAmazonUrl"/>), which confirms the subscription.</summary>
    Task ConfirmSubscriptionAsync(Uri url, CancellationToken cancellationToken);
}

/// <summary>Fetches SNS certificates over HTTPS, once per URL for the life of the process.</summary>
public sealed class SnsEndpoints(HttpClient http) : ISnsEndpoints
{
    private readonly ConcurrentDictionary<Uri, Task<X509Certificate2>> certificates = new();

    public Task<X509Certificate2> CertificateAsync(Uri url, CancellationToken cancellationToken) =>
        certificates.GetOrAdd(url, async u => X509Certificate2.CreateFromPem(await http.GetStringAsync(u, CancellationToken.None)));

    public async Task ConfirmSubscriptionAsync(Uri url, CancellationToken cancellationToken) =>
        (await http.GetAsync(url, cancellationToken)).EnsureSuccessStatusCode();
}

/// <summary>The SNS message signature (SignatureVersion 1: RSA SHA-1, 2: RSA SHA-256) over the fields SNS documents, in its order.</summary>
public static partial class SnsSignature
{
    /// <summary>https, port 443, a host <c>sns.{region}.amazonaws.com</c> (or .com.cn): a certificate from anywhere else could be the forger's own.</summary>
    public static bool IsAmazonUrl(string? value, bool certificate) =>
        Uri.TryCreate(value, UriKind.Absolute, out var url) && url.Scheme == Uri.UriSchemeHttps && url.IsDefaultPort && url.UserInfo.Length == 0
        && AmazonHost().IsMatch(url.Host) && (!certificate || url.AbsolutePath.EndsWith(".pem", StringComparison.Ordinal));

    public static string? StringToSign(JsonElement message)
    {
        var type = Text(message, "Type");
        string[] fields = type switch
        {
            "Notification" => ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
            "SubscriptionConfirmation" or "UnsubscribeConfirmation" => ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
            _ => [],
        };
        if (fields.Length == 0) return null;
        var builder = new StringBuilder();
        foreach (var field in fields)
        {
            // Subject is signed only when the message has one.
            if (Text(message, field) is not { } value)
            {
                if (field == "Subject") continue;
                return null;
            }
            builder.Append(field).Append('\n').Append(value).Append('\n');
        }
        return builder.ToString();
    }

    public static bool Verify(JsonElement message, X509Certificate2 certificate)
    {
        var algorithm = Text(message, "SignatureVersion") switch
        {
            "1" => HashAlgorithmName.SHA1,
            "2" => HashAlgorithmName.SHA256,
            _ => default(HashAlgorithmName?),
        };
        if (algorithm is null || StringToSign(message) is not { } signed || Text(message, "Signature") is not { } signature) return false;
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(signature);
        }
        catch (FormatException)
        {
            return false;
        }
        using var rsa = certificate.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyData(Encoding.UTF8.GetBytes(signed), bytes, algorithm.Value, RSASignaturePadding.Pkcs1);
    }

    internal static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    [GeneratedRegex(@"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")]
    private static partial Regex AmazonHost();
}

/// <summary>
/// The relays' webhooks: /webhooks/ses (Amazon SES through SNS), /webhooks/mailgun and /webhooks/postmark, each
/// answering only when configured under Digests:Feedback:Webhooks. A request is authenticated first (SNS signature,
/// Mailgun HMAC with replay refusal, Postmark basic auth over HTTPS), then its events are tied to our deliveries the
/// way the mailbox's are (our Message-ID, the VERP return path) and recorded by <see cref="FeedbackRecorder"/>, once
/// per relay event id. Errors are RFC 9457 problem details; an event that is not ours is answered 200 (the relay has
/// nothing to retry) and stored nowhere.
/// </summary>
public sealed class RelayWebhooks(
    FeedbackRecorder recorder,
    FeedbackClassifier classifier,
    Database database,
    ISnsEndpoints sns,
    IOptions<DigestOptions> options,
    IHostEnvironment environment,
    TimeProvider time,
    ILogger<RelayWebhooks> logger)
{
    /// <summary>A relay's event is a few kilobytes; a larger body is refused before it is parsed.</summary>
    public const int MaxBodyBytes = 256 * 1024;

    private WebhookOptions Hooks => options.Value.Feedback.Webhooks;

    public static void Map(WebApplication app)
    {
        app.MapPost("/webhooks/ses", (HttpContext context, RelayWebhooks hooks, CancellationToken ct) => hooks.SesAsync(context, ct));
        app.MapPost("/webhooks/mailgun", (HttpContext context, RelayWebhooks hooks, CancellationToken ct) => hooks.MailgunAsync(context, ct));
        app.MapPost("/webhooks/postmark", (HttpContext context, RelayWebhooks hooks, CancellationToken ct) => hooks.PostmarkAsync(context, ct));
    }

    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<RelayWebhooks>();
        services.AddHttpClient<ISnsEndpoints, SnsEndpoints>(c => c.Timeout = TimeSpan.FromSeconds(10));
    }

    // ------------------------------------------------------------------ Amazon SES through SNS

    private async Task<IResult> SesAsync(HttpContext context, CancellationToken ct)
    {
        if (!Hooks.Ses.Enabled) return Off("ses", "Digests:Feedback:Webhooks:Ses:Enabled");
        if (await ReadJsonAsync(context, ct) is not { } json) return Malformed("the body is not a JSON object of at most 256 KiB");
        using var _ = json;
        var message = json.RootElement;
        var certificateUrl = SnsSignature.Text(message, "SigningCertURL");
        if (!SnsSignature.IsAmazonUrl(certificateUrl, certificate: true))
            return Refused($"SigningCertURL '{Shown(certificateUrl)}' is not an https .pem URL on sns.<region>.amazonaws.com; the message cannot be trusted");
        if (SnsSignature.StringToSign(message) is null) return Malformed("not an SNS Notification or SubscriptionConfirmation with all its signed fields");
        X509Certificate2 certificate;
        try
        {
            certificate = await sns.CertificateAsync(new Uri(certificateUrl!), ct);
        }
        catch (Exception e) when (e is HttpRequestException or CryptographicException or TaskCanceledException)
        {
            logger.LogWarning("SES webhook: the SNS certificate {Url} could not be fetched: {Message}", certificateUrl, e.Message);
            return Results.Problem(title: "Certificate unavailable", detail: "the SNS signing certificate could not be fetched; SNS will retry", statusCode: 503);
        }
        if (!SnsSignature.Verify(message, certificate)) return Refused("the SNS signature does not verify with the certificate at SigningCertURL");
        if (!DateTimeOffset.TryParse(SnsSignature.Text(message, "Timestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var sent))
            return Malformed("Timestamp is not a date");
        if (TooOld(sent) is { } age) return Refused($"the message was signed {age}; older messages are refused as possible replays (Digests:Feedback:Webhooks:MaxAgeSeconds)");
        var topic = SnsSignature.Text(message, "TopicArn") ?? "";
        if (Hooks.Ses.TopicArns.Count > 0 && !Hooks.Ses.TopicArns.Contains(topic, StringComparer.Ordinal))
            return Refused($"topic {Shown(topic)} is not in Digests:Feedback:Webhooks:Ses:TopicArns");

        var type = SnsSignature.Text(message, "Type");
        if (type == "SubscriptionConfirmation")
        {
            var subscribe = SnsSignature.Text(message, "SubscribeURL");
            if (!SnsSignature.IsAmazonUrl(subscribe, certificate: false)) return Refused("SubscribeURL is not on sns.<region>.amazonaws.com");
            await sns.ConfirmSubscriptionAsync(new Uri(subscribe!), ct);
            logger.LogInformation("SES webhook: subscription to {Topic} confirmed", topic);
            return Results.Ok(new { result = "subscription confirmed" });
        }
        if (type != "Notification") return Results.Ok(new { result = "ignored", reason = type });

        JsonDocument inner;
        try
        {
            inner = JsonDocument.Parse(SnsSignature.Text(message, "Message")!);
        }
        catch (JsonException)
        {
            return Malformed("the SNS Message is not the JSON of an SES notification");
        }
        using var __ = inner;
        var ses = inner.RootElement;
        var kind = SnsSignature.Text(ses, "notificationType") ?? SnsSignature.Text(ses, "eventType");
        var mail = Child(ses, "mail");
        var key = classifier.OurKey(SnsSignature.Text(Child(mail, "commonHeaders"), "messageId")) ?? OurKeyInHeaders(mail) ?? classifier.VerpKey(SnsSignature.Text(mail, "source"));
        var snsId = SnsSignature.Text(message, "MessageId") ?? "";
        FeedbackEvent? feedback;
        string? id;
        switch (kind)
        {
            case "Bounce":
                var bounce = Child(ses, "bounce");
                var recipient = FirstOf(bounce, "bouncedRecipients");
                var status = SnsSignature.Text(recipient, "status");
                var permanent = SnsSignature.Text(bounce, "bounceType") == "Permanent";
                feedback = new FeedbackEvent(permanent ? FeedbackKind.HardBounce : FeedbackKind.SoftBounce, key, null, SnsSignature.Text(recipient, "emailAddress"),
                    status ?? (permanent ? "5.0.0" : "4.0.0"),
                    $"SES {SnsSignature.Text(bounce, "bounceType")}/{SnsSignature.Text(bounce, "bounceSubType")}: {SnsSignature.Text(recipient, "diagnosticCode")}");
                id = SnsSignature.Text(bounce, "feedbackId");
                break;
            case "Complaint":
                var complaint = Child(ses, "complaint");
                var type2 = SnsSignature.Text(complaint, "complaintFeedbackType");
                if (type2 == "not-spam") return Results.Ok(new { result = "ignored", reason = "not-spam" });
                feedback = new FeedbackEvent(FeedbackKind.Complaint, key, null, SnsSignature.Text(FirstOf(complaint, "complainedRecipients"), "emailAddress"), null,
                    $"SES complaint: {type2 ?? "unspecified"}");
                id = SnsSignature.Text(complaint, "feedbackId");
                break;
            default:
                return Results.Ok(new { result = "ignored", reason = kind ?? "no notificationType" });
        }
        return await RecordAsync(feedback, "ses:" + (id ?? snsId), "webhook:ses", ct);
    }

    private string? OurKeyInHeaders(JsonElement mail)
    {
        if (mail.ValueKind != JsonValueKind.Object || !mail.TryGetProperty("headers", out var headers) || headers.ValueKind != JsonValueKind.Array) return null;
        foreach (var header in headers.EnumerateArray())
            if (string.Equals(SnsSignature.Text(header, "name"), "Message-ID", StringComparison.OrdinalIgnoreCase) && classifier.OurKey(SnsSignature.Text(header, "value")) is { } key)
                return key;
        return null;
    }

    // ------------------------------------------------------------------ Mailgun

    private async Task<IResult> MailgunAsync(HttpContext context, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(Hooks.Mailgun.SigningKey)) return Off("mailgun", "Digests:Feedback:Webhooks:Mailgun:SigningKey");
        if (await ReadJsonAsync(context, ct) is not { } json) return Malformed("the body is not a JSON object of at most 256 KiB");
        using var _ = json;
        var signature = Child(json.RootElement, "signature");
        var (timestamp, token, mac) = (SnsSignature.Text(signature, "timestamp"), SnsSignature.Text(signature, "token"), SnsSignature.Text(signature, "signature"));
        if (timestamp is null || token is null || mac is null || token.Length > 256)
            return Malformed("signature.timestamp, signature.token and signature.signature are required");
        var key = Encoding.UTF8.GetBytes(Secrets.Resolve(Hooks.Mailgun.SigningKey!, environment.ContentRootPath, "Digests:Feedback:Webhooks:Mailgun:SigningKey"));
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(timestamp + token)));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(mac.ToLowerInvariant())))
            return Refused("the signature does not match HMAC-SHA256(signing key, timestamp + token)");
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 32503680000)
            return Malformed("signature.timestamp is not a Unix time in seconds");
        if (TooOld(DateTimeOffset.FromUnixTimeSeconds(seconds)) is { } age) return Refused($"the request was signed {age}; older requests are refused as possible replays");
        if (!await FirstSightAsync("mailgun", token, ct))
            return Results.Problem(title: "Replayed request", detail: "this signature token was accepted before; a request is accepted once", statusCode: 409);

        var data = Child(json.RootElement, "event-data");
        var id = SnsSignature.Text(data, "id");
        if (id is null) return Malformed("event-data.id is missing");
        var deliveryKey = classifier.OurKey(SnsSignature.Text(Child(Child(data, "message"), "headers"), "message-id"))
            ?? classifier.VerpKey(SnsSignature.Text(Child(data, "envelope"), "sender"));
        var recipient = SnsSignature.Text(data, "recipient");
        var delivery = Child(data, "delivery-status");
        FeedbackEvent feedback;
        switch (SnsSignature.Text(data, "event"))
        {
            case "failed":
                var permanent = SnsSignature.Text(data, "severity") == "permanent";
                var code = delivery.ValueKind == JsonValueKind.Object && delivery.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0;
                var status = SnsSignature.Text(delivery, "enhanced-code") ?? (permanent ? "5.0.0" : "4.0.0");
                feedback = new FeedbackEvent(permanent ? FeedbackKind.HardBounce : FeedbackKind.SoftBounce, deliveryKey, null, recipient, status,
                    $"Mailgun {SnsSignature.Text(data, "severity")} failure {code}: {SnsSignature.Text(delivery, "message") ?? SnsSignature.Text(delivery, "description")}");
                break;
            case "complained":
                feedback = new FeedbackEvent(FeedbackKind.Complaint, deliveryKey, null, recipient, null, "Mailgun complaint");
                break;
            case "unsubscribed":
                feedback = new FeedbackEvent(FeedbackKind.Unsubscribe, deliveryKey, null, recipient, null, "Mailgun unsubscribe");
                break;
            default:
                return Results.Ok(new { result = "ignored", reason = SnsSignature.Text(data, "event") ?? "no event" });
        }
        return await RecordAsync(feedback, "mailgun:" + id, "webhook:mailgun", ct);
    }

    // ------------------------------------------------------------------ Postmark

    private async Task<IResult> PostmarkAsync(HttpContext context, CancellationToken ct)
    {
        var postmark = Hooks.Postmark;
        if (string.IsNullOrWhiteSpace(postmark.UserName)) return Off("postmark", "Digests:Feedback:Webhooks:Postmark:UserName");
        // The password travels in the clear without TLS: only a loopback hop (a reverse proxy on this machine) may skip it.
        if (!context.Request.IsHttps && !(context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote)))
            return Results.Problem(title: "HTTPS required", detail: "basic authentication over plain HTTP is refused; point Postmark at an https:// URL", statusCode: 403);
        if (!BasicAuthMatches(context.Request.Headers.Authorization.ToString(), postmark.UserName!,
                Secrets.Resolve(postmark.Password ?? "", environment.ContentRootPath, "Digests:Feedback:Webhooks:Postmark:Password")))
        {
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"syndicator-webhooks\"";
            return Results.Problem(title: "Unauthorized", detail: "the user name and password do not match Digests:Feedback:Webhooks:Postmark", statusCode: 401);
        }
        if (await ReadJsonAsync(context, ct) is not { } json) return Malformed("the body is not a JSON object of at most 256 KiB");
        using var _ = json;
        var record = json.RootElement;
        if (!record.TryGetProperty("ID", out var idElement) || idElement.ValueKind is not (JsonValueKind.Number or JsonValueKind.String))
            return Malformed("ID is missing");
        var id = idElement.ToString();
        var metadata = Child(record, "Metadata");
        var deliveryKey = SnsSignature.Text(metadata, PostmarkMetadata) is { } k && classifier.OurKey($"syndicator-{k}@{FromDomain}") is { } fromMetadata ? fromMetadata : null;
        var recipient = SnsSignature.Text(record, "Email") ?? SnsSignature.Text(record, "Recipient");
        FeedbackEvent feedback;
        switch (SnsSignature.Text(record, "RecordType"))
        {
            case "Bounce":
                var type = SnsSignature.Text(record, "Type") ?? "";
                if (type is not ("HardBounce" or "SoftBounce" or "Transient" or "DnsError" or "BadEmailAddress" or "ManuallyDeactivated"))
                    return Results.Ok(new { result = "ignored", reason = type });
                var hard = type is "HardBounce" or "BadEmailAddress" or "ManuallyDeactivated";
                feedback = new FeedbackEvent(hard ? FeedbackKind.HardBounce : FeedbackKind.SoftBounce, deliveryKey, null, recipient, hard ? "5.0.0" : "4.0.0",
                    $"Postmark {type}: {SnsSignature.Text(record, "Description")} {SnsSignature.Text(record, "Details")}".Trim());
                break;
            case "SpamComplaint":
                feedback = new FeedbackEvent(FeedbackKind.Complaint, deliveryKey, null, recipient, null, "Postmark spam complaint");
                break;
            default:
                return Results.Ok(new { result = "ignored", reason = SnsSignature.Text(record, "RecordType") ?? "no RecordType" });
        }
        return await RecordAsync(feedback, $"postmark:{SnsSignature.Text(record, "RecordType")}:{id}", "webhook:postmark", ct);
    }

    /// <summary>The Postmark metadata field our messages carry (header <c>X-PM-Metadata-syndicator-key</c>), since Postmark reports its own message ids.</summary>
    public const string PostmarkMetadata = "syndicator-key";

    private string FromDomain => options.Value.FromAddress[(options.Value.FromAddress.IndexOf('@') + 1)..];

    private static bool BasicAuthMatches(string header, string user, string password) =>
        BasicCredentials.Parse(header) is { } offered && BasicCredentials.FixedTimeEquals($"{offered.User}:{offered.Password}", $"{user}:{password}");

    // ------------------------------------------------------------------ shared

    private async Task<IResult> RecordAsync(FeedbackEvent feedback, string source, string channel, CancellationToken ct)
    {
        var outcome = await recorder.RecordAsync(feedback, source, channel, ct);
        return Results.Ok(new { result = outcome.Result.ToString(), detail = outcome.Detail });
    }

    /// <summary>True the first time a relay's token is seen; forgets tokens older than MaxAgeSeconds (their requests are refused by age).</summary>
    private Task<bool> FirstSightAsync(string relay, string token, CancellationToken ct) =>
        new WebhookReplays(database, time).FirstSightAsync(relay, token, TimeSpan.FromSeconds(Hooks.MaxAgeSeconds), ct);

    private string? TooOld(DateTimeOffset signedAt)
    {
        var age = time.GetUtcNow() - signedAt;
        var max = TimeSpan.FromSeconds(Hooks.MaxAgeSeconds);
        return age > max ? $"{age.TotalSeconds:0} s ago" : age < -max ? $"{-age.TotalSeconds:0} s in the future" : null;
    }

    private static async Task<JsonDocument?> ReadJsonAsync(HttpContext context, CancellationToken ct)
    {
        if (context.Request.ContentLength > MaxBodyBytes) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes) return null;
            buffer.Write(chunk, 0, read);
        }
        try
        {
            var document = JsonDocument.Parse(buffer.ToArray(), new JsonDocumentOptions { MaxDepth = 32 });
            if (document.RootElement.ValueKind == JsonValueKind.Object) return document;
            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonElement Child(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var child) ? child : default;

    private static JsonElement FirstOf(JsonElement element, string name) =>
        Child(element, name) is { ValueKind: JsonValueKind.Array } array && array.GetArrayLength() > 0 ? array[0] : default;

    private static IResult Off(string relay, string key) =>
        Results.Problem(title: "Not configured", detail: $"the {relay} webhook is off; set {key} to turn it on", statusCode: 404);

    private static IResult Malformed(string detail) => Results.Problem(title: "Malformed request", detail: detail, statusCode: 400);

    private IResult Refused(string detail)
    {
        logger.LogWarning("Webhook request refused: {Detail}", detail);
        return Results.Problem(title: "Not authenticated", detail: detail, statusCode: 403);
    }

    private static string Shown(string? value) => value is null ? "" : value.Length <= 80 ? value : value[..80] + "…";
}
