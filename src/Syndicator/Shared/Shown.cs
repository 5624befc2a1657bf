using System.Text;

namespace Syndicator.Shared;

/// <summary>Puts a value someone else wrote into a message: control characters as <c>\uXXXX</c>, cut at 80 characters.</summary>
public static class Shown
{
    public static string Value(string? text, int max = 80)
    {
        if (text is null) return "";
        var sb = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (sb.Length >= max) return sb.Append('…').ToString();
            if (Rune.IsControl(rune) || rune.Value is 0x061C or 0x200E or 0x200F or (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069))
                sb.Append($"\\u{rune.Value:X4}");
            else sb.Append(rune.ToString());
        }
        return sb.ToString();
    }
}
