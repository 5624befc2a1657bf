using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Syndicator.Digests.Feedback;

/// <summary>
/// Reads one message from the feedback mailbox and says what it is:
/// <list type="bullet">
/// <item>an RFC 3464 delivery status notification (<c>multipart/report; report-type=delivery-status</c>): hard or soft by
/// the class of its Status (5.x.x, 4.x.x); "delivered", "relayed" and "expanded" notifications are not failures;</item>
/// <item>a non-standard bounce from a mailer daemon with a known body (qmail, Yahoo's qmail-derived one, Exim, old
/// Exchange, old Sendmail): only with one of those signatures, never because some text looks like a failure;</item>
/// <item>an RFC 5965 ARF complaint (<c>report-type=feedback-report</c>, Feedback-Type abuse or fraud);</item>
/// <item>a mail to the List-Unsubscribe address whose subject carries a valid signed unsubscribe token.</item>
/// </list>
/// A bounce or complaint counts only when it names one of our deliveries by what we put in the original: our
/// Message-ID (in the attached original, its headers, or the quoted copy) or the VERP return path it was sent to.
/// Everything else, auto-replies (RFC 3834 Auto-Submitted, vacation notices) above all, is left alone.
/// </summary>
public sealed partial class FeedbackClassifier
{
    /// <summary>The most of a text body read for a non-standard bounce (the failure paragraph and the quoted headers come first).</summary>
    private const int MaxText = 256 * 1024;

    private readonly string messageIdDomain;
    private readonly (string Local, string Domain)? returnPath;
    private readonly string unsubscribeAddress;
    private readonly SubscriberTokens tokens;

    public FeedbackClassifier(IOptions<DigestOptions> options, SubscriberTokens tokens)
    {
        var o = options.Value;
        messageIdDomain = o.FromAddress[(o.FromAddress.IndexOf('@') + 1)..];
        if (o.Feedback.ReturnPath is { Length: > 0 } path)
            returnPath = (path[..path.IndexOf('@')], path[(path.IndexOf('@') + 1)..]);
        unsubscribeAddress = o.Feedback.UnsubscribeAddress is { Length: > 0 } to ? to : o.FromAddress;
        this.tokens = tokens;
    }

    public FeedbackVerdict Classify(MimeMessage message)
    {
        var parts = message.BodyParts.ToList();
        if (parts.OfType<MessageDeliveryStatus>().FirstOrDefault() is { } dsn && IsReport(message, "delivery-status"))
            return FromDeliveryStatus(message, dsn);
        if (parts.OfType<MessageFeedbackReport>().FirstOrDefault() is { } arf && IsReport(message, "feedback-report"))
            return FromFeedbackReport(message, arf);
        if (FromMailerDaemon(message) && NonStandardBounce(message) is { } bounce) return bounce;
        if (message.Headers[AutoSubmitted] is { } auto && !auto.Trim().StartsWith("no", StringComparison.OrdinalIgnoreCase))
            return FeedbackVerdict.Ignore($"an automatic message (Auto-Submitted: {Clip(auto, 40)}), e.g. a vacation notice; never counted");
        if (IsVacationNotice(message)) return FeedbackVerdict.Ignore("an automatic reply (vacation or out-of-office); never counted");
        return Unsubscribe(message) ?? FeedbackVerdict.Ignore("neither a bounce, a complaint nor an unsubscribe of ours");
    }

    private const string AutoSubmitted = "Auto-Submitted";

    private static bool IsReport(MimeMessage message, string type) =>
        message.Body is Multipart root && (root is MultipartReport r ? Is(r, type) : root.OfType<MultipartReport>().Any(r => Is(r, type)));

    private static bool Is(MultipartReport report, string type) => string.Equals(report.ReportType, type, StringComparison.OrdinalIgnoreCase);

    // ------------------------------------------------------------------ RFC 3464

    private FeedbackVerdict FromDeliveryStatus(MimeMessage message, MessageDeliveryStatus dsn)
    {
        // The first group holds the per-message fields; a recipient's group has Action and Status. Some servers write
        // everything in one group.
        foreach (var group in dsn.StatusGroups)
        {
            var action = group["Action"]?.Trim().ToLowerInvariant();
            var status = StatusCode(group["Status"]);
            if (action is null && status is null) continue;
            if (action is "delivered" or "relayed" or "expanded" || status?[0] == '2')
                return FeedbackVerdict.Ignore($"a delivery status notification saying '{action ?? status}', not a failure");
            var kind = status?[0] == '5' || (status is null && action == "failed") ? FeedbackKind.HardBounce : FeedbackKind.SoftBounce;
            var recipient = AfterType(group["Final-Recipient"]) ?? AfterType(group["Original-Recipient"]);
            var detail = $"RFC 3464 report: {action ?? "no action"} {status ?? ""} {Clip(group["Diagnostic-Code"], 300)}".Trim();
            return Tie(message, new FeedbackEvent(kind, null, null, recipient, status ?? (kind == FeedbackKind.HardBounce ? "5.0.0" : "4.0.0"), detail));
        }
        return FeedbackVerdict.Ignore("a delivery status report without a recipient's Action or Status");
    }

    // ------------------------------------------------------------------ RFC 5965

    private FeedbackVerdict FromFeedbackReport(MimeMessage message, MessageFeedbackReport arf)
    {
        var type = arf.Fields["Feedback-Type"]?.Trim().ToLowerInvariant() ?? "";
        if (type is not ("abuse" or "fraud"))
            return FeedbackVerdict.Ignore($"an ARF report of type '{Clip(type, 40)}', not a complaint");
        var recipient = arf.Fields["Original-Rcpt-To"] ?? arf.Fields["Removal-Recipient"];
        var detail = $"RFC 5965 report: {type} from {Clip(arf.Fields["Reporting-MTA"] ?? arf.Fields["User-Agent"] ?? "an unnamed reporter", 120)}";
        return Tie(message, new FeedbackEvent(FeedbackKind.Complaint, null, null, recipient?.Trim(), null, detail));
    }

    // ------------------------------------------------------------------ non-standard bounces

    /// <summary>Known bodies of bounces that are not RFC 3464 reports, with what they mean when no status code says otherwise.</summary>
    private static readonly (string Name, Regex Signature, Regex? Delay, string? CopyMarker)[] Formats =
    [
        ("qmail", QmailSignature(), null, "--- Below this line is a copy of the message."),
        ("Yahoo", YahooSignature(), null, "--- Below this line is a copy of the message."),
        ("Exim", EximSignature(), EximDelay(), "------ This is a copy of the message"),
        ("Exchange", ExchangeSignature(), ExchangeDelay(), null),
        ("Sendmail", SendmailSignature(), SendmailDelay(), "----- Original message follows -----"),
        ("Postfix", PostfixSignature(), PostfixDelay(), null),
    ];

    private FeedbackVerdict? NonStandardBounce(MimeMessage message)
    {
        var text = message.TextBody ?? (message.Body is TextPart plain ? plain.Text : null);
        if (string.IsNullOrEmpty(text)) return null;
        if (text.Length > MaxText) text = text[..MaxText];
        foreach (var (name, signature, delay, marker) in Formats)
        {
            if (!signature.IsMatch(text)) continue;
            // The failure paragraph is what comes before the quoted copy; a status code quoted from our own message is not one.
            var cut = marker is null ? -1 : text.IndexOf(marker, StringComparison.OrdinalIgnoreCase);
            var head = cut > 0 ? text[..cut] : text;
            var status = EnhancedStatus().Match(head) is { Success: true } m ? m.Value
                : SmtpReply().Match(head) is { Success: true } r ? $"{r.Groups[1].Value}.0.0"
                : delay?.IsMatch(head) == true ? "4.0.0" : "5.0.0";
            var recipient = message.Headers["X-Failed-Recipients"]?.Split(',')[0].Trim() ?? (Address().Match(head) is { Success: true } a ? a.Groups[1].Value : null);
            var kind = status[0] == '5' ? FeedbackKind.HardBounce : FeedbackKind.SoftBounce;
            var reason = Clip(string.Join(' ', head.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).Skip(1).Take(4)), 300);
            var verdict = Tie(message, new FeedbackEvent(kind, null, null, recipient, status, $"{name} bounce: {reason}"), text);
            return verdict;
        }
        return null;
    }

    /// <summary>Non-standard bounces are only believed from a mailer daemon: the null return path, or MAILER-DAEMON/postmaster.</summary>
    private static bool FromMailerDaemon(MimeMessage message)
    {
        if (message.Headers["Return-Path"]?.Trim() is "<>" or "") return true;
        var from = message.From.Mailboxes.FirstOrDefault()?.LocalPart ?? message.Sender?.LocalPart ?? "";
        return from.Equals("MAILER-DAEMON", StringComparison.OrdinalIgnoreCase) || from.Equals("postmaster", StringComparison.OrdinalIgnoreCase)
            || from.StartsWith("mailer-daemon", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsVacationNotice(MimeMessage message) =>
        message.Headers["X-Autoreply"] is not null || message.Headers["X-Autorespond"] is not null
        || (message.Headers["Precedence"]?.Trim().ToLowerInvariant() is "auto_reply" or "bulk" or "junk" or "list")
        || VacationSubject().IsMatch(message.Subject ?? "");

    // ------------------------------------------------------------------ unsubscribe

    private FeedbackVerdict? Unsubscribe(MimeMessage message)
    {
        var addressed = message.To.Mailboxes.Concat(message.Cc.Mailboxes).Select(m => m.Address)
            .Concat(new[] { "Delivered-To", "X-Original-To", "Envelope-To" }.Select(h => message.Headers[h]?.Trim().Trim('<', '>') ?? ""))
            .Any(a => a.Equals(unsubscribeAddress, StringComparison.OrdinalIgnoreCase));
        if (!addressed) return null;
        var match = UnsubscribeSubject().Match(message.Subject ?? "");
        if (!match.Success) return null;
        if (tokens.VerifyUnsubscribe(match.Groups[1].Value) is not { } subscriberId)
            return FeedbackVerdict.Ignore("an unsubscribe request whose token is not one we signed; left for a person");
        return new FeedbackVerdict(new FeedbackEvent(FeedbackKind.Unsubscribe, null, subscriberId, null, null, "unsubscribe mailed to " + unsubscribeAddress), "unsubscribe by mail");
    }

    // ------------------------------------------------------------------ tying a report to its delivery

    /// <summary>
    /// Names the delivery an event is about from our Message-ID in the report's original (attached message, attached
    /// headers, or for a plain-text bounce the quoted header lines) and from the VERP address the report was sent to.
    /// Neither: not ours. Both, naming different deliveries: refused, a person should look.
    /// </summary>
    private FeedbackVerdict Tie(MimeMessage report, FeedbackEvent found, string? quotedText = null)
    {
        string? byMessageId = null;
        foreach (var headers in OriginalHeaders(report))
            if (OurKey(headers[HeaderId.MessageId]) is { } key) { byMessageId = key; break; }
        if (byMessageId is null && quotedText is not null)
            foreach (Match line in QuotedMessageId().Matches(quotedText))
                if (OurKey(line.Groups[1].Value) is { } key) { byMessageId = key; break; }
        var byVerp = VerpKey(report);
        if (byMessageId is not null && byVerp is not null && byMessageId != byVerp)
            return FeedbackVerdict.Ignore($"the report's original Message-ID names delivery key {byMessageId} but it was sent to the return path of {byVerp}; left for a person");
        var deliveryKey = byMessageId ?? byVerp;
        return deliveryKey is null
            ? FeedbackVerdict.Ignore($"a {found.Kind.Column()} report that names none of our messages (no syndicator Message-ID, no VERP return path)")
            : new FeedbackVerdict(found with { DeliveryKey = deliveryKey }, found.Detail);
    }

    private static IEnumerable<HeaderList> OriginalHeaders(MimeMessage report)
    {
        foreach (var part in report.BodyParts)
        {
            if (part is MessagePart { Message: { } original }) yield return original.Headers;
            else if (part is MimePart mime && mime.ContentType.IsMimeType("text", "rfc822-headers") && mime.Content is not null)
            {
                using var stream = new MemoryStream();
                mime.Content.DecodeTo(stream);
                stream.Position = 0;
                HeaderList? headers = null;
                try
                {
                    headers = HeaderList.Load(stream);
                }
                catch (FormatException)
                {
                    // Unparsable headers name nothing.
                }
                if (headers is not null) yield return headers;
            }
        }
    }

    /// <summary>The delivery key in <c>syndicator-{key}@{our domain}</c>, or null for anyone else's Message-ID.</summary>
    public string? OurKey(string? messageId)
    {
        if (messageId is null) return null;
        var match = OurMessageId().Match(messageId.Trim());
        return match.Success && match.Groups[2].Value.Equals(messageIdDomain, StringComparison.OrdinalIgnoreCase) ? match.Groups[1].Value.ToLowerInvariant() : null;
    }

    private string? VerpKey(MimeMessage report) =>
        report.To.Mailboxes.Select(m => m.Address)
            .Concat(new[] { "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To" }.SelectMany(h => report.Headers.Where(x => x.Field.Equals(h, StringComparison.OrdinalIgnoreCase)).Select(x => x.Value)))
            .Select(VerpKey).FirstOrDefault(k => k is not null);

    /// <summary>The delivery key in a VERP return path <c>{ReturnPath local}+{key}@{ReturnPath domain}</c>, or null.</summary>
    public string? VerpKey(string? value)
    {
        if (returnPath is not { } path || value is null) return null;
        var address = value.Trim().Trim('<', '>');
        var at = address.LastIndexOf('@');
        if (at <= 0 || !address[(at + 1)..].Equals(path.Domain, StringComparison.OrdinalIgnoreCase)) return null;
        var local = address[..at];
        var prefix = path.Local + "+";
        return local.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && DeliveryKey().IsMatch(local[prefix.Length..])
            ? local[prefix.Length..].ToLowerInvariant()
            : null;
    }

    private static string? StatusCode(string? value) =>
        value is null ? null : EnhancedStatus().Match(value) is { Success: true } m ? m.Value : null;

    /// <summary>"rfc822; reader@example.com" → the address.</summary>
    private static string? AfterType(string? value) =>
        value is null ? null : (value.IndexOf(';') is var i and >= 0 ? value[(i + 1)..] : value).Trim().Trim('<', '>');

    private static string Clip(string? value, int max)
    {
        var line = SuppressionList.Clip(value) ?? "";
        return line.Length <= max ? line : line[..max] + "…";
    }

    [GeneratedRegex(@"^<?syndicator-([0-9a-fA-F]{32})@([^>\s]+)>?$")]
    private static partial Regex OurMessageId();

    [GeneratedRegex(@"^Message-ID:\s*(<syndicator-[0-9a-fA-F]{32}@[^>\s]+>)", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex QuotedMessageId();

    [GeneratedRegex("^[0-9a-fA-F]{32}$")]
    private static partial Regex DeliveryKey();

    [GeneratedRegex(@"(?<![\d.])[245]\.\d{1,3}\.\d{1,3}(?![\d.])")]
    private static partial Regex EnhancedStatus();

    /// <summary>An SMTP reply quoted in a bounce ("Remote host said: 550 ...", "SMTP error ...: 452 ..."), at a line start or after a colon.</summary>
    [GeneratedRegex(@"(?:^|:\s*|\(#)([45])\d\d[\s:-]", RegexOptions.Multiline)]
    private static partial Regex SmtpReply();

    [GeneratedRegex(@"<?([A-Za-z0-9._%+\-=]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)>?")]
    private static partial Regex Address();

    [GeneratedRegex(@"^\s*unsubscribe\s+([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex UnsubscribeSubject();

    [GeneratedRegex(@"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|vacation|absence|r[ée]ponse automatique|on leave)\b", RegexOptions.IgnoreCase)]
    private static partial Regex VacationSubject();

    [GeneratedRegex(@"This is the qmail-send program", RegexOptions.IgnoreCase)]
    private static partial Regex QmailSignature();

    [GeneratedRegex(@"Sorry, we were unable to deliver your message to the following address", RegexOptions.IgnoreCase)]
    private static partial Regex YahooSignature();

    [GeneratedRegex(@"This message was created automatically by mail delivery software", RegexOptions.IgnoreCase)]
    private static partial Regex EximSignature();

    [GeneratedRegex(@"has not yet been delivered|delayed|will be tried again|still trying", RegexOptions.IgnoreCase)]
    private static partial Regex EximDelay();

    [GeneratedRegex(@"Your message did not reach some or all of the intended recipients|The following recipient\(s\) could not be reached|Delivery has failed to these recipients or groups", RegexOptions.IgnoreCase)]
    private static partial Regex ExchangeSignature();

    [GeneratedRegex(@"Delivery is delayed to these recipients|has not been delivered yet|will (continue to )?(retry|try)", RegexOptions.IgnoreCase)]
    private static partial Regex ExchangeDelay();

    [GeneratedRegex(@"----- (The following addresses had permanent fatal errors|Transcript of session follows) -----", RegexOptions.IgnoreCase)]
    private static partial Regex SendmailSignature();

    [GeneratedRegex(@"Warning: could not send message for past|will keep trying|Will keep trying", RegexOptions.IgnoreCase)]
    private static partial Regex SendmailDelay();

    [GeneratedRegex(@"This is the mail system at host .*\r?\n(?:.*\r?\n){0,4}.*(could not be delivered|has not been delivered|delayed)", RegexOptions.IgnoreCase)]
    private static partial Regex PostfixSignature();

    [GeneratedRegex(@"delayed|has not been delivered|will (continue to )?(retry|try)", RegexOptions.IgnoreCase)]
    private static partial Regex PostfixDelay();
}
