using System.Buffers;
using System.Text;

namespace Syndicator.Articles;

/// <summary>Removes characters XML 1.0 forbids (control characters, lone surrogates, U+FFFE/U+FFFF), which would make a feed unparseable.</summary>
public static class XmlChars
{
    /// <summary>
    /// Every character that is forbidden or half of a surrogate pair. Found with a vectorised search, so the usual
    /// clean text costs a scan rather than a check per character (feeds clean every body twice).
    /// </summary>
    private static readonly SearchValues<char> Suspect = SearchValues.Create(
        Enumerable.Range(0, 0x20).Where(c => c is not ('\t' or '\n' or '\r'))
            .Concat(Enumerable.Range(0xD800, 0xE000 - 0xD800)).Concat([0xFFFE, 0xFFFF]).Select(c => (char)c).ToArray());

    public static string Clean(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        var i = text.AsSpan().IndexOfAny(Suspect);
        while (i >= 0)
        {
            if (!IsValidAt(text, i, out var width)) return Rebuild(text, i);
            var next = text.AsSpan(i + width).IndexOfAny(Suspect);
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
