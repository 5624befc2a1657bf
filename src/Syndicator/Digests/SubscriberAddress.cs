using System.Globalization;
using System.Net;
using MimeKit;

using Syndicator.Shared;

namespace Syndicator.Digests;

/// <summary>
/// The one check of a subscriber's e-mail address, for the form and the CLI alike: a bare address (no display name),
/// within RFC 5321's limits (local part 64 octets, domain 255, the whole path 254 characters between its brackets),
/// at a domain name with at least two labels. IP literals (<c>a@[127.0.0.1]</c>), bare IPs and single-label names
/// (<c>a@localhost</c>) are refused: they reach a machine rather than a mail domain, and the form must not become a
/// way to make our relay connect to internal hosts.
/// </summary>
public static class SubscriberAddress
{
    public const int MaxLength = 254;
    public const int MaxLocalPart = 64;
    public const int MaxDomain = 255;
    private const int MaxLabel = 63;

    private static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true };

    /// <summary>The reason <paramref name="value"/> is refused, or null when it is a deliverable-looking address.</summary>
    public static string? Problem(string? value)
    {
        var email = value?.Trim() ?? "";
        if (email.Length == 0) return "the e-mail address is empty";
        // Shown in full only when short: a 10,000-character address echoed back would be a problem of its own.
        // Control characters are shown escaped: echoed raw, a line break would forge a second line of output and an
        // escape sequence would drive the publisher's terminal.
        var shown = email.Length <= 80 ? $"'{Shown.Value(email)}'" : $"the {email.Length}-character address";
        if (email.Length > MaxLength) return $"{shown} is longer than {MaxLength} characters, the most an address may have (RFC 5321)";
        var control = email.TakeWhile(c => !char.IsControl(c)).Count();
        if (control < email.Length)
            return $"{shown} contains the control character U+{(int)email[control]:X4} at position {control + 1}; write the address alone on one line, without it";
        var at = email.LastIndexOf('@');
        if (at <= 0 || at == email.Length - 1) return $"{shown} is not an e-mail address: it needs a name, an @ and a domain, like reader@example.com";
        if (!MailboxAddress.TryParse(email, out var mailbox) || mailbox.Address != email || !string.IsNullOrEmpty(mailbox.Name))
            return $"{shown} is not an e-mail address; write the address alone, like reader@example.com";
        var local = email[..at];
        var domain = email[(at + 1)..];
        if (System.Text.Encoding.UTF8.GetByteCount(local) > MaxLocalPart) return $"the part before the @ in {shown} is longer than {MaxLocalPart} octets (RFC 5321)";
        if (domain.StartsWith('[')) return $"{shown} names an IP address instead of a mail domain; use an address at a domain name";
        if (IPAddress.TryParse(domain, out _)) return $"{shown} names an IP address instead of a mail domain; use an address at a domain name";
        string ascii;
        try
        {
            ascii = Idn.GetAscii(domain);
        }
        catch (ArgumentException)
        {
            return $"the domain of {shown} is not a valid domain name";
        }
        if (ascii.Length > MaxDomain) return $"the domain of {shown} is longer than {MaxDomain} characters (RFC 5321)";
        var labels = ascii.Split('.');
        if (labels.Length < 2) return $"the domain of {shown} is a single name ('{domain}'), which only a local network knows; use an address at a full domain such as example.com";
        if (labels.Any(l => l.Length is 0 or > MaxLabel)) return $"the domain of {shown} has an empty label or one longer than {MaxLabel} characters";
        if (labels[^1].All(char.IsAsciiDigit)) return $"{shown} names an IP address instead of a mail domain; use an address at a domain name";
        return null;
    }

    /// <summary>How addresses are stored and compared: trimmed, lower case.</summary>
    public static string Normalize(string email) => email.Trim().ToLowerInvariant();
}
