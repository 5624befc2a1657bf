using System.Text;
using System.Text.RegularExpressions;

namespace Syndicator.Digests;

/// <summary>
/// A reader's name as it may appear in a greeting ("Hello Jane,"). Anyone can type anything into the form, and the
/// greeting goes out from the publication's domain, so a name is at most <see cref="MaxLength"/> characters, its
/// control characters and bidirectional overrides are removed and its spaces collapsed; a name that holds a URL, an
/// e-mail address or domain-like text (<c>phish.example</c>) is not used at all: plain-text mail clients turn such text
/// into a link whatever we do, so it cannot be neutralised by escaping. Zero-width joiners and non-joiners stay
/// (Persian and emoji need them).
/// </summary>
public static partial class SubscriberName
{
    public const int MaxLength = 64;

    /// <summary>The name to store, or null; <paramref name="warning"/> says why a given name was changed or dropped.</summary>
    public static string? Clean(string? value, out string? warning)
    {
        warning = null;
        if (string.IsNullOrWhiteSpace(value)) return null;
        var text = new StringBuilder(Math.Min(value.Length, MaxLength * 2));
        foreach (var rune in value.EnumerateRunes())
        {
            if (Rune.IsControl(rune) || IsBidiControl(rune.Value)) text.Append(' ');
            else text.Append(rune.ToString());
            if (text.Length > MaxLength * 4) break; // enough to know it is too long; the rest is never looked at
        }
        var name = Spaces().Replace(text.ToString(), " ").Trim();
        if (name.Length == 0) return null;
        if (name.Length > MaxLength)
        {
            warning = $"the name is longer than {MaxLength} characters, so it is not used";
            return null;
        }
        if (LinkLike().IsMatch(name))
        {
            warning = "the name contains a web or e-mail address, so it is not used (mail programs would show it as a link)";
            return null;
        }
        if (name != value.Trim()) warning = "control characters and repeated spaces were removed from the name";
        return name;
    }

    /// <summary>Whether a stored name may be put into a message as it is (names stored before these rules may not be).</summary>
    public static bool Displayable(string? name) => name is not null && Clean(name, out _) == name;

    private static bool IsBidiControl(int c) => c is >= 0x202A and <= 0x202E or >= 0x2066 and <= 0x2069 or 0x200E or 0x200F or 0x061C;

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    /// <summary>
    /// A scheme, www., an @, or a dot between a letter or digit and two or more letters (example.com, phish.example,
    /// مثال.ایران, also with the ideographic full stops). "J. R. R. Tolkien" passes: a space after the dot is not a link.
    /// </summary>
    [GeneratedRegex(@"://|\bwww\.|@|[\p{L}\p{N}-][.。．｡]\p{L}{2,}", RegexOptions.IgnoreCase)]
    private static partial Regex LinkLike();
}
