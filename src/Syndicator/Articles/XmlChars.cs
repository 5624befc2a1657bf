using System.Text;

namespace Syndicator.Articles;

/// <summary>Removes characters XML 1.0 forbids (control characters, lone surrogates, U+FFFE/U+FFFF), which would make a feed unparseable.</summary>
public static class XmlChars
{
    public static string Clean(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        for (var i = 0; i < text.Length; i++)
            if (!IsValidAt(text, i, out var width)) return Rebuild(text, i);
            else i += width - 1;
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
