using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Syndicator.ActivityPub;

/// <summary>
/// The <c>ActivityPub</c> section: the publication (and the authors named here) as fediverse accounts on the site's
/// own domain, <c>@{Username}@{host of Site:BaseUrl}</c>. Off unless <see cref="Enabled"/>.
/// </summary>
public sealed class ActivityPubOptions
{
    public const string Section = "ActivityPub";

    public bool Enabled { get; set; }

    /// <summary>The publication's handle: <c>magazine</c> makes <c>@magazine@your-magazine.com</c>.</summary>
    public string Username { get; set; } = "";

    /// <summary>The publication's profile text (plain text); empty for none.</summary>
    public string Summary { get; set; } = "";

    /// <summary>The profile picture, an absolute URL; none when empty.</summary>
    public string? IconUrl { get; set; }

    /// <summary>Authors who are accounts of their own, each by the name articles give and the handle to use.</summary>
    public List<ActivityPubAuthor> Authors { get; set; } = [];

    /// <summary>Hold each Follow until the publisher accepts it (<c>syndicator activitypub accept</c>); otherwise accepted at once.</summary>
    public bool ApproveFollowers { get; set; }

    /// <summary>The largest inbox body read; larger ones are refused with 413 unread. Mastodon's activities are a few KiB.</summary>
    public int MaxBodyBytes { get; set; } = 256 * 1024;

    /// <summary>How far a signed request's Date may be from now, either way, before it is refused as stale.</summary>
    public int SignatureWindowSeconds { get; set; } = 3600;

    /// <summary>Inbox requests accepted per remote address per minute; the rest get 429.</summary>
    public int InboxPermitsPerMinute { get; set; } = 120;

    /// <summary>Deliveries per second from one node, and one at a time per remote inbox.</summary>
    public double DeliveriesPerSecond { get; set; } = 5;

    /// <summary>
    /// Days an inbox may fail every delivery before it is parked: its waiting deliveries stop until `activitypub resend`
    /// or a new Follow from it. MaxAttempts ends one delivery; this ends sending to a server that is gone for good.
    /// </summary>
    public int ParkInboxAfterDays { get; set; } = 7;

    /// <summary>How long a fetched remote key is trusted before it is fetched again.</summary>
    public int KeyCacheMinutes { get; set; } = 60;

    /// <summary>
    /// Lets key and actor fetches reach private, loopback and link-local addresses. For tests and trials only
    /// (Site:AllowLocalUrls does the same): otherwise a forged keyId could make this server probe the local network.
    /// </summary>
    public bool AllowPrivateAddresses { get; set; }

    public TimeSpan SignatureWindow => TimeSpan.FromSeconds(SignatureWindowSeconds);

    public TimeSpan ParkInboxAfter => TimeSpan.FromDays(ParkInboxAfterDays);
}

/// <summary>One author as an account: <see cref="Name"/> as articles give it, <see cref="Username"/> the handle.</summary>
public sealed class ActivityPubAuthor
{
    public string Name { get; set; } = "";
    public string Username { get; set; } = "";
}

/// <summary>Checks the section at start-up, naming the key and the fix.</summary>
internal sealed partial class ActivityPubOptionsValidator : IValidateOptions<ActivityPubOptions>
{
    public ValidateOptionsResult Validate(string? name, ActivityPubOptions options)
    {
        if (!options.Enabled) return ValidateOptionsResult.Success;
        var errors = new List<string>();
        if (!IsUsername(options.Username))
            errors.Add($"ActivityPub:Username \"{options.Username}\" is not a handle: use lower-case letters, digits, '_', '.' or '-' (not first or last), e.g. magazine for @magazine@your-magazine.com.");
        var seen = new HashSet<string>(StringComparer.Ordinal) { options.Username };
        for (var i = 0; i < options.Authors.Count; i++)
        {
            var author = options.Authors[i];
            if (string.IsNullOrWhiteSpace(author.Name))
                errors.Add($"ActivityPub:Authors:{i}:Name is empty; set it to the author's name as articles give it.");
            if (!IsUsername(author.Username))
                errors.Add($"ActivityPub:Authors:{i}:Username \"{author.Username}\" is not a handle: use lower-case letters, digits, '_', '.' or '-', e.g. jane.");
            else if (!seen.Add(author.Username))
                errors.Add($"ActivityPub:Authors:{i}:Username \"{author.Username}\" is already taken by the publication or another author; give each its own.");
        }
        if (options.IconUrl is { Length: > 0 } icon && !(Uri.TryCreate(icon, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"))
            errors.Add($"ActivityPub:IconUrl \"{icon}\" is not an absolute http(s) URL; set it to the picture's address or leave it empty.");
        if (options.MaxBodyBytes is < 1024 or > 10 * 1024 * 1024)
            errors.Add($"ActivityPub:MaxBodyBytes {options.MaxBodyBytes} is outside 1024..10485760; 262144 suits Mastodon.");
        if (options.SignatureWindowSeconds is < 30 or > 86400)
            errors.Add($"ActivityPub:SignatureWindowSeconds {options.SignatureWindowSeconds} is outside 30..86400; 3600 is the usual.");
        if (options.InboxPermitsPerMinute < 1) errors.Add("ActivityPub:InboxPermitsPerMinute must be at least 1.");
        if (options.DeliveriesPerSecond <= 0) errors.Add("ActivityPub:DeliveriesPerSecond must be more than 0.");
        if (options.ParkInboxAfterDays is < 1 or > 365)
            errors.Add($"ActivityPub:ParkInboxAfterDays {options.ParkInboxAfterDays} is outside 1..365; 7 parks a server after a week of failures.");
        if (options.KeyCacheMinutes < 0) errors.Add("ActivityPub:KeyCacheMinutes must not be negative.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>What Mastodon accepts as the user part of an account (its Account::USERNAME_RE, lower case).</summary>
    internal static bool IsUsername(string? value) => value is { Length: > 0 and <= 64 } && UsernamePattern().IsMatch(value);

    [GeneratedRegex("^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$")]
    private static partial Regex UsernamePattern();
}
