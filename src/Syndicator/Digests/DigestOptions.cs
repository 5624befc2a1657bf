using System.ComponentModel.DataAnnotations;

namespace Syndicator.Digests;

public enum DigestSchedule
{
    /// <summary>The DailyDigest and WeeklyDigest jobs' cron expressions, in their configured time zone.</summary>
    Cron,

    /// <summary>Each subscriber gets the digest at <see cref="DigestOptions.LocalHour"/> in their own time zone (the jobs then run hourly).</summary>
    SubscriberLocalHour,
}

/// <summary>The <c>Digests</c> section.</summary>
public sealed class DigestOptions
{
    public const string Section = "Digests";

    [Required(ErrorMessage = "Digests:FromAddress is empty; set the address digests come from, e.g. digest@magazine.example.")]
    [EmailAddress(ErrorMessage = "Digests:FromAddress is not an e-mail address.")]
    public string FromAddress { get; set; } = "digest@magazine.example";

    public string FromName { get; set; } = "The Opinion Magazine";

    [EmailAddress(ErrorMessage = "Digests:ReplyTo is not an e-mail address.")]
    public string? ReplyTo { get; set; }

    /// <summary>Liquid subject; variables: site, count, frequency, first_title.</summary>
    public string Subject { get; set; } = "{{ site }}: {{ count }} new article{% if count != 1 %}s{% endif %}";

    /// <summary>Folder with <c>digest.html.liquid</c>, <c>digest.txt.liquid</c> and <c>confirm.txt.liquid</c>.</summary>
    public string TemplatesPath { get; set; } = "config/templates";

    /// <summary>Where Syndicator's /subscribe and /unsubscribe pages are reachable from readers' mail clients (https in production).</summary>
    public string PublicUrl { get; set; } = "http://127.0.0.1:5080";

    /// <summary>Signs unsubscribe and confirmation links (HMAC-SHA256). A reference env:NAME or file:/path; created in data/ when absent.</summary>
    public string SigningKey { get; set; } = "file:data/signing.key";

    public DigestSchedule Schedule { get; set; } = DigestSchedule.Cron;

    [Range(0, 23, ErrorMessage = "Digests:LocalHour must be an hour from 0 to 23.")]
    public int LocalHour { get; set; } = 7;

    /// <summary>For SubscriberLocalHour weekly digests: the day they go out.</summary>
    public DayOfWeek WeeklyDay { get; set; } = DayOfWeek.Monday;

    /// <summary>A new subscriber's first digest looks back this many periods (a day or a week each).</summary>
    [Range(0, 52, ErrorMessage = "Digests:NewSubscriberLookBackPeriods must be between 0 and 52.")]
    public int NewSubscriberLookBackPeriods { get; set; } = 1;

    /// <summary>After this many hard bounces (5xx for the recipient) a subscriber is suspended.</summary>
    [Range(1, 100, ErrorMessage = "Digests:MaxHardBounces must be between 1 and 100.")]
    public int MaxHardBounces { get; set; } = 3;

    /// <summary>Most articles one digest lists; the rest are counted with a link to the site.</summary>
    [Range(1, 500, ErrorMessage = "Digests:MaxArticles must be between 1 and 500.")]
    public int MaxArticles { get; set; } = 50;

    public SmtpOptions Smtp { get; set; } = new();

    /// <summary>With no Smtp:Host, messages are written here as .eml files instead of being sent.</summary>
    public string PickupPath { get; set; } = "data/mail-pickup";

    /// <summary>Optional DKIM signing.</summary>
    public DkimOptions Dkim { get; set; } = new();

    /// <summary>Bounces, complaints and mailed unsubscribes read back: return path, feedback mailbox, relay webhooks.</summary>
    public FeedbackOptions Feedback { get; set; } = new();
}

/// <summary>The <c>Digests:Feedback</c> section.</summary>
public sealed class FeedbackOptions
{
    /// <summary>
    /// The envelope sender (return path) as VERP: <c>bounces@magazine.example</c> sends each message from
    /// <c>bounces+{delivery key}@magazine.example</c>, so a bounce names its delivery in the address it is sent to. The
    /// domain's mail must reach the feedback mailbox (a catch-all or a "+" sub-address). Empty: the From address.
    /// </summary>
    [EmailAddress(ErrorMessage = "Digests:Feedback:ReturnPath is not an e-mail address; write e.g. bounces@magazine.example.")]
    public string? ReturnPath { get; set; }

    /// <summary>Where the <c>mailto:</c> of List-Unsubscribe points (a mailbox Syndicator reads); empty: Digests:FromAddress.</summary>
    [EmailAddress(ErrorMessage = "Digests:Feedback:UnsubscribeAddress is not an e-mail address.")]
    public string? UnsubscribeAddress { get; set; }

    /// <summary>Soft bounces (4.x.x), one per digest, after which a subscriber is marked bounced and suppressed.</summary>
    [Range(1, 100, ErrorMessage = "Digests:Feedback:SoftBounceLimit must be between 1 and 100.")]
    public int SoftBounceLimit { get; set; } = 5;

    public ImapOptions Imap { get; set; } = new();

    public WebhookOptions Webhooks { get; set; } = new();
}

/// <summary>
/// <c>Digests:Feedback:Webhooks</c>: relays that report bounces and complaints over HTTP. Each endpoint answers only
/// when its relay is configured here (404 otherwise).
/// </summary>
public sealed class WebhookOptions
{
    /// <summary>Amazon SES through SNS at /webhooks/ses: every message's signature is checked against the certificate at its SigningCertURL (https://sns.{region}.amazonaws.com only).</summary>
    public SesWebhookOptions Ses { get; set; } = new();

    /// <summary>Mailgun at /webhooks/mailgun: HMAC-SHA256 of timestamp and token with the webhook signing key.</summary>
    public MailgunWebhookOptions Mailgun { get; set; } = new();

    /// <summary>Postmark at /webhooks/postmark: HTTP basic authentication, over HTTPS (plain HTTP from loopback only).</summary>
    public PostmarkWebhookOptions Postmark { get; set; } = new();

    /// <summary>A signed request older than this (or this far in the future) is refused as a possible replay.</summary>
    [Range(30, 86400, ErrorMessage = "Digests:Feedback:Webhooks:MaxAgeSeconds must be between 30 and 86400.")]
    public int MaxAgeSeconds { get; set; } = 900;
}

public sealed class SesWebhookOptions
{
    public bool Enabled { get; set; }

    /// <summary>The SNS topics whose messages are accepted (their ARNs); empty: any topic whose signature checks out.</summary>
    public List<string> TopicArns { get; set; } = [];
}

public sealed class MailgunWebhookOptions
{
    /// <summary>The HTTP webhook signing key, as env:NAME or file:/path. Empty: the endpoint is off.</summary>
    public string? SigningKey { get; set; }
}

public sealed class PostmarkWebhookOptions
{
    /// <summary>The user name set in the webhook's URL (https://user:password@host/webhooks/postmark). Empty: the endpoint is off.</summary>
    public string? UserName { get; set; }

    /// <summary>env:NAME or file:/path.</summary>
    public string? Password { get; set; }
}

/// <summary>The feedback mailbox, <c>Digests:Feedback:Imap</c>: configured like Digests:Smtp.</summary>
public sealed class ImapOptions
{
    /// <summary>Empty: no mailbox is read.</summary>
    public string? Host { get; set; }

    [Range(1, 65535, ErrorMessage = "Digests:Feedback:Imap:Port must be between 1 and 65535.")]
    public int Port { get; set; } = 993;

    /// <summary>Auto (STARTTLS when offered), StartTls, Tls (implicit, port 993) or None.</summary>
    public SmtpSecurity Security { get; set; } = SmtpSecurity.Tls;

    public string? UserName { get; set; }

    /// <summary>env:NAME or file:/path.</summary>
    public string? Password { get; set; }

    /// <summary>Accept any server certificate (test servers with self-signed certificates only).</summary>
    public bool AcceptAnyCertificate { get; set; }

    /// <summary>The folder bounces, complaints and unsubscribes arrive in.</summary>
    public string Folder { get; set; } = "INBOX";

    /// <summary>Where handled messages are moved (created when missing); nothing is ever deleted.</summary>
    public string HandledFolder { get; set; } = "Syndicator-Handled";

    /// <summary>Seconds between passes when the server has no IDLE, and the longest an IDLE waits before a fresh pass.</summary>
    [Range(5, 3600, ErrorMessage = "Digests:Feedback:Imap:PollSeconds must be between 5 and 3600.")]
    public int PollSeconds { get; set; } = 60;

    [Range(1, 600, ErrorMessage = "Digests:Feedback:Imap:TimeoutSeconds must be between 1 and 600.")]
    public int TimeoutSeconds { get; set; } = 60;

    /// <summary>Larger messages are left alone with a warning (a bounce report is a few kilobytes; a copy of a digest rarely 1 MB).</summary>
    [Range(1, 100, ErrorMessage = "Digests:Feedback:Imap:MaxMessageMegabytes must be between 1 and 100.")]
    public int MaxMessageMegabytes { get; set; } = 10;
}

public enum SmtpSecurity
{
    /// <summary>STARTTLS when the server offers it.</summary>
    Auto,
    StartTls,
    /// <summary>Implicit TLS (port 465).</summary>
    Tls,
    None,
}

public static class SmtpSecurityExtensions
{
    /// <summary>What MailKit calls it: the SMTP relay and the feedback mailbox (IMAP) read the setting the same way.</summary>
    public static MailKit.Security.SecureSocketOptions ToSocketOptions(this SmtpSecurity security) => security switch
    {
        SmtpSecurity.StartTls => MailKit.Security.SecureSocketOptions.StartTls,
        SmtpSecurity.Tls => MailKit.Security.SecureSocketOptions.SslOnConnect,
        SmtpSecurity.None => MailKit.Security.SecureSocketOptions.None,
        _ => MailKit.Security.SecureSocketOptions.StartTlsWhenAvailable,
    };
}

public sealed class SmtpOptions
{
    /// <summary>Empty: write messages to Digests:PickupPath instead of sending.</summary>
    public string? Host { get; set; }

    [Range(1, 65535, ErrorMessage = "Digests:Smtp:Port must be between 1 and 65535.")]
    public int Port { get; set; } = 587;

    public SmtpSecurity Security { get; set; } = SmtpSecurity.Auto;

    public string? UserName { get; set; }

    /// <summary>env:NAME or file:/path.</summary>
    public string? Password { get; set; }

    /// <summary>Accept any server certificate (test relays with self-signed certificates only).</summary>
    public bool AcceptAnyCertificate { get; set; }

    [Range(1, 32, ErrorMessage = "Digests:Smtp:Connections must be between 1 and 32.")]
    public int Connections { get; set; } = 2;

    [Range(0.1, 10000, ErrorMessage = "Digests:Smtp:MessagesPerSecond must be between 0.1 and 10000.")]
    public double MessagesPerSecond { get; set; } = 10;

    /// <summary>Relays cap hourly volume; 0 means no cap.</summary>
    [Range(0, 10_000_000, ErrorMessage = "Digests:Smtp:MaxPerHour must be 0 (no cap) or a positive number.")]
    public int MaxPerHour { get; set; }

    [Range(1, 600, ErrorMessage = "Digests:Smtp:TimeoutSeconds must be between 1 and 600.")]
    public int TimeoutSeconds { get; set; } = 60;
}

public sealed class DkimOptions
{
    public string? Domain { get; set; }
    public string? Selector { get; set; }

    /// <summary>PEM private key file (a path, or file:/path).</summary>
    public string? PrivateKeyFile { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(Domain);
}
