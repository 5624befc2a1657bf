using System.Globalization;
using System.Text;

namespace Syndicator.Announcements.Bluesky;

/// <summary>What a facet marks: a link (<c>app.bsky.richtext.facet#link</c>) or a hashtag (<c>#tag</c>, without the '#').</summary>
public enum BlueskyFacetKind
{
    Link,
    Tag,
}

/// <summary>
/// One rich-text facet. <see cref="ByteStart"/> (inclusive) and <see cref="ByteEnd"/> (exclusive) are offsets into the
/// UTF-8 bytes of the post's text, as Bluesky counts them — not UTF-16 indexes, not graphemes.
/// </summary>
public sealed record BlueskyFacet(BlueskyFacetKind Kind, int ByteStart, int ByteEnd, string Value);

/// <summary>
/// Finds the facets of a post's text: every occurrence of the article's URL becomes a link facet, and every
/// hashtag (a '#' at the start or after whitespace, up to the next whitespace, trailing punctuation dropped, not all
/// digits, at most 64 characters) a tag facet. Mentions are left as plain text: a facet for one needs the account's
/// DID, which would take a handle resolution per mention.
/// </summary>
public static class BlueskyRichText
{
    /// <summary>Bluesky's limit for a tag: 64 graphemes (and 640 bytes).</summary>
    public const int MaxTagGraphemes = 64;
    public const int MaxTagBytes = 640;

    public static IReadOnlyList<BlueskyFacet> Facets(string text, string? url)
    {
        var facets = new List<BlueskyFacet>();
        var linkRanges = new List<(int Start, int End)>();
        if (!string.IsNullOrEmpty(url))
        {
            for (var i = text.IndexOf(url, StringComparison.Ordinal); i >= 0; i = text.IndexOf(url, i + url.Length, StringComparison.Ordinal))
            {
                linkRanges.Add((i, i + url.Length));
                facets.Add(new BlueskyFacet(BlueskyFacetKind.Link, Utf8Offset(text, i), Utf8Offset(text, i + url.Length), url));
            }
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] is not ('#' or '＃')) continue;
            if (i > 0 && !char.IsWhiteSpace(text[i - 1])) continue;
            if (linkRanges.Any(r => i >= r.Start && i < r.End)) continue;
            var end = i + 1;
            while (end < text.Length && !char.IsWhiteSpace(text[end])) end++;
            var tag = TrimTrailingPunctuation(text[(i + 1)..end]);
            if (IsTag(tag))
                facets.Add(new BlueskyFacet(BlueskyFacetKind.Tag, Utf8Offset(text, i), Utf8Offset(text, i + 1 + tag.Length), tag));
            i = end - 1;
        }
        return facets.OrderBy(f => f.ByteStart).ToList();
    }

    /// <summary>The number of UTF-8 bytes before the UTF-16 index <paramref name="charIndex"/>.</summary>
    public static int Utf8Offset(string text, int charIndex) => Encoding.UTF8.GetByteCount(text.AsSpan(0, charIndex));

    private static string TrimTrailingPunctuation(string tag)
    {
        var end = tag.Length;
        while (end > 0 && char.IsPunctuation(tag[end - 1])) end--;
        return tag[..end];
    }

    private static bool IsTag(string tag)
    {
        if (tag.Length == 0) return false;
        // A keycap ("#️⃣") is an emoji, not a tag.
        if (tag[0] is '\uFE0F' or '\u20E3') return false;
        if (tag.All(c => char.IsDigit(c) || char.IsPunctuation(c))) return false;
        if (tag.Contains('#') || tag.Contains('＃')) return false;
        return new StringInfo(tag).LengthInTextElements <= MaxTagGraphemes && Encoding.UTF8.GetByteCount(tag) <= MaxTagBytes;
    }
}
