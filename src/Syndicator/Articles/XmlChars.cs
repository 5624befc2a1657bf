using System.Text;

namespace Syndicator.Articles;

/// <summary>Removes characters XML 1.0 forbids (control characters, lone surrogates, U+FFFE/U+FFFF), which would make a feed unparseable.</summary>
public static class XmlChars
{
    /// <summary>
    /// The usual clean text costs a vectorised scan for what lies outside U+0020..U+D7FF, rather than a check per
    /// character: only tabs, line ends, surrogates and U+E000..U+FFFF stop it, and each is then looked at alone (a
    /// set of the forbidden characters and every surrogate took a search per character, 7 % of an import's time).
    /// Clean text comes back as the same instance, which is how the importer tells that something was removed.
    /// </summary>
    public static string Clean(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        var i = text.AsSpan().IndexOfAnyExceptInRange('\u0020', '\uD7FF');
        while (i >= 0)
        {
            if (!IsValidAt(text, i, out var width)) return Rebuild(text, i);
            var next = text.AsSpan(i + width).IndexOfAnyExceptInRange('\u0020', '\uD7FF');
            i = next < 0 ? -1 : i + width + next;
        }
        return text;
    }

    private static string Rebuild(string text, int firstBad)
    {
        var sb = new StringBuilder(text.Length);
        sb.Append(text, 0, firstBad);
        for (var i = firstBad; i < text.Length; i++)
        {
            if (IsValidAt(text, i, out var width)) sb.Append(text, i, width);
            i += width - 1;
        }
        return sb.ToString();
    }

    private static bool IsValidAt(string text, int i, out int width)
    {
        var c = text[i];
        width = 1;
        if (char.IsHighSurrogate(c))
        {
            if (i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { width = 2; return true; }
            return false;
        }
        return c is '\t' or '\n' or '\r' || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD);
    }
}
