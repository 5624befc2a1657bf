using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Syndicator.Announcements;

/// <summary>
/// Each network's own way of counting a post's length:
/// X counts weighted characters (twitter-text v3: most Latin, Cyrillic, Arabic, Hebrew, Persian... weigh 1, other
/// scripts such as CJK and every emoji weigh 2) with every URL as 23, limit 280;
/// Mastodon counts characters (grapheme clusters) with every URL as 23, limit 500;
/// Bluesky counts graphemes of the text as written, limit 300.
/// </summary>
public static partial class PostLength
{
    public const int UrlWeight = 23;

    public static int Limit(Network network) => network switch
    {
        Network.X => 280,
        Network.Mastodon => 500,
        _ => 300,
    };

    public static int Measure(Network network, string text) => network switch
    {
        Network.X => XWeighted(text),
        Network.Mastodon => WithUrlsAs23(text, Graphemes),
        _ => Graphemes(text),
    };

    public static int Graphemes(string text)
    {
        var count = 0;
        var e = StringInfo.GetTextElementEnumerator(text.Normalize(NormalizationForm.FormC));
        while (e.MoveNext()) count++;
        return count;
    }

    private static int WithUrlsAs23(string text, Func<string, int> count)
    {
        var total = 0;
        var last = 0;
        foreach (Match url in Url().Matches(text))
        {
            total += count(text[last..url.Index]) + UrlWeight;
            last = url.Index + url.Length;
        }
        return total + count(text[last..]);
    }

    private static int XWeighted(string text) => WithUrlsAs23(text, XWeight);

    private static int XWeight(string text)
    {
        var weight = 0;
        var e = StringInfo.GetTextElementEnumerator(text.Normalize(NormalizationForm.FormC));
        while (e.MoveNext())
        {
            var element = (string)e.Current;
            if (IsEmoji(element))
            {
                weight += 2;
                continue;
            }
            foreach (var rune in element.EnumerateRunes()) weight += IsLight(rune.Value) ? 1 : 2;
        }
        return weight;
    }

    // twitter-text v3 ranges of weight 100 (one unit); everything else weighs 200 (two units).
    private static bool IsLight(int c) => c <= 0x10FF || (c >= 0x2000 && c <= 0x200D) || (c >= 0x2010 && c <= 0x201F) || (c >= 0x2032 && c <= 0x2037);

    private static bool IsEmoji(string element)
    {
        foreach (var rune in element.EnumerateRunes())
        {
            var c = rune.Value;
            if (c is >= 0x1F000 and <= 0x1FAFF || c is >= 0x2600 and <= 0x27BF || c == 0xFE0F || c == 0x200D || c is >= 0x1F1E6 and <= 0x1F1FF) return true;
        }
        return false;
    }

    [GeneratedRegex(@"https?://[^\s]+", RegexOptions.IgnoreCase)]
    private static partial Regex Url();
}
