using System.Net;
using System.Text.RegularExpressions;

namespace Syndicator.Articles.Import;

public static partial class Summaries
{
    public const int MaxLength = 300;

    /// <summary>The first paragraph of the body as plain text, cut at a word boundary with an ellipsis when long.</summary>
    public static string FromHtml(string html)
    {
        var first = FirstParagraph().Match(html);
        var text = WebUtility.HtmlDecode(Tags().Replace(first.Success ? first.Groups[1].Value : html, " "));
        return Trim(Whitespace().Replace(text, " ").Trim(), MaxLength);
    }

    public static string Trim(string text, int maxLength)
    {
        if (text.Length <= maxLength) return text;
        var cut = text.LastIndexOf(' ', maxLength - 1);
        if (cut < maxLength / 2) cut = maxLength - 1;
        return text[..cut].TrimEnd(',', ';', ':', ' ', '.') + "…";
    }

    [GeneratedRegex(@"<p\b[^>]*>(.*?)</p>", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex FirstParagraph();

    [GeneratedRegex("<[^>]+>")]
    private static partial Regex Tags();

    /// <summary>
    /// A run of white space that is not one plain space: a single space between words is already what the summary
    /// wants, and matching it too made the replacement rebuild the text word by word (8 % of an import's time).
    /// </summary>
    [GeneratedRegex(@" \s+|(?! )\s+")]
    private static partial Regex Whitespace();
}
