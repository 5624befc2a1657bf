using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Syndicator.Shared;

/// <summary>
/// One path segment that names an article or a feed folder: letters and digits of any script (Persian and CJK
/// stay readable), combining marks, and <c>-</c>, <c>_</c>, <c>.</c>; never <c>/</c>, <c>\</c>, <c>..</c>, white
/// space or control characters, at most <see cref="MaxLength"/> characters. <see cref="UrlSegment"/> is its
/// percent-encoded form, the only form that goes into a URL.
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(SlugJsonConverter))]
public sealed record Slug
{
    public const int MaxLength = 100;

    private Slug(string value) => Value = value;

    public string Value { get; }

    /// <summary>The slug as one percent-encoded URI path segment (RFC 3986: UTF-8, then %XX).</summary>
    public string UrlSegment => Uri.EscapeDataString(Value);

    public override string ToString() => Value;

    [return: NotNullIfNotNull(nameof(slug))]
    public static implicit operator string?(Slug? slug) => slug?.Value;

    /// <summary>A slug known to be valid (tests, generated corpora); anything else throws.</summary>
    public static Slug Parse(string text) => TryParse(text, out var slug, out var problem) ? slug : throw new FormatException($"\"{text}\" is not a slug: {problem}");

    /// <summary>Checks a slug someone wrote (front matter, a sidecar); <paramref name="problem"/> says what is wrong.</summary>
    public static bool TryParse(string? text, out Slug slug, out string problem)
    {
        slug = null!;
        if (string.IsNullOrEmpty(text)) { problem = "it is empty"; return false; }
        var value = text.Normalize(NormalizationForm.FormC);
        if (value.Length > MaxLength) { problem = $"it is {value.Length} characters long, over the limit of {MaxLength}"; return false; }
        if (value.Contains("..", StringComparison.Ordinal)) { problem = "it contains '..'"; return false; }
        if (value[0] is '.' or '-') { problem = $"it starts with '{value[0]}'"; return false; }
        foreach (var rune in value.EnumerateRunes())
        {
            if (IsAllowed(rune)) continue;
            problem = rune.Value switch
            {
                '/' or '\\' => $"it contains '{(char)rune.Value}', which would make it two path segments",
                _ when Rune.IsControl(rune) => $"it contains the control character U+{rune.Value:X4}",
                _ when Rune.IsWhiteSpace(rune) => "it contains white space",
                _ => $"it contains '{rune}' (U+{rune.Value:X4}); use letters, digits, '-', '_' and '.'",
            };
            return false;
        }
        slug = new Slug(value);
        problem = "";
        return true;
    }

    /// <summary>A slug made from a title or a name: lower-case words joined by hyphens, in whatever script they are written.</summary>
    /// <remarks>
    /// Accents are dropped from Latin letters only ("Café" → "cafe"); in other scripts a mark is part of the letter
    /// (Persian "آ", Hindi vowel signs) and is kept. '+', '#', '&amp;' and '@' become words so "C++" and "C#" differ.
    /// </remarks>
    public static Slug FromText(string text, string fallback = "article")
    {
        var sb = new StringBuilder();
        var previousBase = 0;
        foreach (var rune in text.Normalize(NormalizationForm.FormD).EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
            {
                if (previousBase > 0x024F && sb.Length > 0 && sb[^1] != ' ') sb.Append(rune.ToString());
                continue;
            }
            previousBase = rune.Value;
            if (Rune.IsLetterOrDigit(rune)) sb.Append(Rune.ToLowerInvariant(rune).ToString());
            else sb.Append(rune.Value switch { '+' => " plus ", '#' => " sharp ", '&' => " and ", '@' => " at ", _ => " " });
        }
        var slug = string.Join('-', sb.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries)).Normalize(NormalizationForm.FormC);
        if (slug.Length > 80) slug = slug[..80].TrimEnd('-');
        if (slug.Length > 0 && char.IsHighSurrogate(slug[^1])) slug = slug[..^1];
        return TryParse(slug, out var result, out _) ? result : new Slug(fallback);
    }

    /// <summary>This slug with "-<paramref name="n"/>" appended, kept within <see cref="MaxLength"/>, for the n-th holder of one name.</summary>
    public Slug WithSuffix(int n)
    {
        var suffix = "-" + n.ToString(CultureInfo.InvariantCulture);
        var stem = Value.Length + suffix.Length > MaxLength ? Value[..(MaxLength - suffix.Length)].TrimEnd('-') : Value;
        if (stem.Length > 0 && char.IsHighSurrogate(stem[^1])) stem = stem[..^1];
        return new Slug(stem + suffix);
    }

    /// <summary>A slug read back from the store, which only ever holds slugs that passed <see cref="TryParse"/>.</summary>
    internal static Slug FromStore(string value) => new(value);

    private static bool IsAllowed(Rune rune)
    {
        if (rune.Value is '-' or '_' or '.') return true;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
                or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber
                or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark => true,
            _ => false,
        };
    }
}
