using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Syndicator.Announcements;

/// <summary>
/// Each network's own way of counting a post's length:
/// X counts as its twitter-text v3 library does (<see cref="XParse"/>): every URL X recognises weighs 23 (t.co),
/// every emoji sequence 2, code points in the light ranges (Latin, Arabic, Persian, Cyrillic, Hebrew... up to
/// U+10FF, some punctuation) 1 and all others (CJK...) 2, limit 280;
/// Mastodon counts characters (grapheme clusters) with every URL as 23, limit 500;
/// Bluesky counts graphemes of the text as written, limit 300.
/// </summary>
public static partial class PostLength
{
    public const int UrlWeight = 23;

    public static int Limit(Network network) => network switch
    {
        Network.X => TwitterTextPatterns.MaxWeightedLength,
        Network.Mastodon => 500,
        _ => 300,
    };

    public static int Measure(Network network, string text) => network switch
    {
        Network.X => XParse(text).WeightedLength,
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

    /// <summary>
    /// X's weighted length and validity of <paramref name="text"/>, as twitter-text's <c>parseTweet</c> computes them
    /// (a line-by-line port over the patterns in <see cref="TwitterTextPatterns"/>): NFC first, then UTF-16 unit by
    /// unit, a recognised URL or emoji counted whole from where it starts. Valid means 1..280 and no character X refuses.
    /// </summary>
    public static (int WeightedLength, bool Valid) XParse(string text)
    {
        var normalized = Nfc(text);
        var urls = new Dictionary<int, int>();
        foreach (var (start, end) in XUrls(normalized)) urls.TryAdd(start, end - start);
        var emoji = new Dictionary<int, int>();
        foreach (Match m in TwitterTextPatterns.Emoji().Matches(normalized)) emoji.TryAdd(m.Index, m.Length);

        long weighted = 0;
        var valid = true;
        for (var i = 0; i < normalized.Length; i++)
        {
            if (urls.TryGetValue(i, out var urlLength))
            {
                weighted += TwitterTextPatterns.TransformedUrlLength * TwitterTextPatterns.Scale;
                i += urlLength - 1;
            }
            else if (emoji.TryGetValue(i, out var emojiLength))
            {
                weighted += TwitterTextPatterns.DefaultWeight;
                i += emojiLength - 1;
            }
            else
            {
                if (i < normalized.Length - 1 && char.IsHighSurrogate(normalized[i]) && char.IsLowSurrogate(normalized[i + 1])) i++;
                weighted += CharacterWeight(normalized[i]);
            }
            if (valid) valid = !TwitterTextPatterns.InvalidChars().IsMatch(normalized.AsSpan(i, 1));
        }
        var length = (int)(weighted / TwitterTextPatterns.Scale);
        return (length, valid && length > 0 && length <= TwitterTextPatterns.MaxWeightedLength);
    }

    /// <summary>The URLs X finds in a post, as [start, end) UTF-16 offsets: twitter-text's extractUrlsWithIndices.</summary>
    internal static IEnumerable<(int Start, int End)> XUrls(string text)
    {
        if (!text.Contains('.')) yield break;
        foreach (Match m in TwitterTextPatterns.ExtractUrl().Matches(text))
        {
            var before = m.Groups[2].Value;
            var url = m.Groups[3].Value;
            var protocol = m.Groups[4].Value;
            var domain = m.Groups[5].Value;
            var path = m.Groups[7].Value;
            var end = m.Index + m.Length;
            var start = end - url.Length;
            if (!IsValidXUrl(url, protocol.Length > 0 ? protocol : "https://", domain)) continue;
            if (protocol.Length == 0)
            {
                // Without a protocol only ASCII domains count, each one found in the domain part separately.
                if (before.Length > 0 && before[^1] is '-' or '_' or '.' or '/') continue;
                (int Start, int End)? last = null;
                var asciiEnd = 0;
                foreach (Match d in TwitterTextPatterns.ValidAsciiDomain().Matches(domain))
                {
                    var asciiStart = domain.IndexOf(d.Value, asciiEnd, StringComparison.Ordinal);
                    asciiEnd = asciiStart + d.Value.Length;
                    if (last is { } previous) yield return previous;
                    last = (start + asciiStart, start + asciiEnd);
                }
                if (last is not { } lastUrl) continue;
                yield return path.Length > 0 ? (lastUrl.Start, end) : lastUrl;
            }
            else
            {
                var tco = TwitterTextPatterns.ValidTcoUrl().Match(url);
                if (tco.Success)
                {
                    // A t.co link ends where its slug and query end.
                    if (tco.Groups[1].Value.Length > 40) continue;
                    end = start + tco.Value.Length;
                }
                yield return (start, end);
            }
        }
    }

    private const int MaxXUrlLength = 4096;

    private static bool IsValidXUrl(string url, string protocol, string domain)
    {
        // twitter-text's idna.toAscii: each label's punycode form must be 1..63 long; it then measures the URL as written.
        if (domain.StartsWith("xn--", StringComparison.Ordinal) && !TwitterTextPatterns.ValidAsciiDomain().IsMatch(domain)) return false;
        foreach (var label in domain.Split('.'))
        {
            var encoded = Punycode.ToAsciiLength(label);
            if (encoded < 1 || encoded > 63) return false;
        }
        return protocol.Length + url.Length <= MaxXUrlLength;
    }

    private static int CharacterWeight(char c)
    {
        foreach (var (start, end, weight) in TwitterTextPatterns.Ranges)
            if (c >= start && c <= end) return weight;
        return TwitterTextPatterns.DefaultWeight;
    }

    /// <summary>NFC as JavaScript's normalize() does it; text with a lone surrogate, which .NET refuses to normalise, is taken as it is.</summary>
    private static string Nfc(string text)
    {
        try
        {
            return text.Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            return text;
        }
    }

    [GeneratedRegex(@"https?://[^\s]+", RegexOptions.IgnoreCase)]
    private static partial Regex Url();
}
