namespace Syndicator.Articles.Import;

/// <summary>
/// How much structure an article body may have (Import:MaxParagraphs, Import:MaxNestingDepth). Checked by one
/// linear scan of the source before Markdig or the HTML sanitizer see it, so a pathological file (100,000
/// paragraphs, quotes nested 10,000 deep) is refused at once with its reason instead of costing minutes.
/// </summary>
public sealed record BodyLimits(int MaxParagraphs, int MaxNestingDepth)
{
    public static readonly BodyLimits Default = new(5_000, 32);

    /// <summary>Markdown or plain text: paragraphs are runs of lines between blank lines; depth counts '&gt;' quotes and nested list items.</summary>
    public void CheckText(string text, int firstLine = 1)
    {
        var paragraphs = 0;
        var inParagraph = false;
        var line = firstLine;
        var start = 0;
        while (start <= text.Length)
        {
            var end = text.IndexOf('\n', start);
            if (end < 0) end = text.Length;
            var span = text.AsSpan(start, end - start);
            var blank = span.IsWhiteSpace();
            if (!blank && !inParagraph && ++paragraphs > MaxParagraphs)
                throw new ArticleRejectedException($"the body has more than {MaxParagraphs:N0} paragraphs (Import:MaxParagraphs); split the article or raise the limit", line);
            inParagraph = !blank;
            if (!blank && Depth(span) is var depth && depth > MaxNestingDepth)
                throw new ArticleRejectedException($"quotes or lists are nested {depth} deep, over the limit of {MaxNestingDepth} (Import:MaxNestingDepth)", line);
            start = end + 1;
            line++;
        }
    }

    /// <summary>HTML: paragraphs are block elements; depth is how many elements are open at once.</summary>
    public void CheckHtml(string html)
    {
        int paragraphs = 0, depth = 0;
        for (var i = html.IndexOf('<'); i >= 0 && i < html.Length - 1; i = html.IndexOf('<', i + 1))
        {
            if (html[i + 1] == '/') { depth = Math.Max(0, depth - 1); continue; }
            if (!char.IsAsciiLetter(html[i + 1])) continue;
            var close = html.IndexOf('>', i);
            if (close < 0) break;
            var nameEnd = i + 1;
            while (nameEnd < close && char.IsAsciiLetterOrDigit(html[nameEnd])) nameEnd++;
            var name = html.AsSpan(i + 1, nameEnd - i - 1);
            if (IsBlock(name) && ++paragraphs > MaxParagraphs)
                throw new ArticleRejectedException($"the body has more than {MaxParagraphs:N0} paragraphs and other blocks (Import:MaxParagraphs); split the article or raise the limit");
            if (!IsVoid(name) && html[close - 1] != '/' && ++depth > MaxNestingDepth)
                throw new ArticleRejectedException($"the body's HTML elements are nested more than {MaxNestingDepth} deep (Import:MaxNestingDepth)");
        }
    }

    private static int Depth(ReadOnlySpan<char> line)
    {
        var depth = 0;
        var i = 0;
        while (i < line.Length && (line[i] is '>' or ' ' or '\t'))
        {
            if (line[i] == '>') depth++;
            i++;
        }
        var rest = line[i..];
        var isListItem = rest.Length > 1 && (rest[0] is '-' or '*' or '+' && rest[1] == ' ' || char.IsAsciiDigit(rest[0]) && rest.IndexOfAnyExceptInRange('0', '9') is var k && k > 0 && k < rest.Length && rest[k] is '.' or ')');
        // A nested list item is indented by two to four spaces per level.
        return isListItem ? depth + 1 + (i - depth) / 2 : depth;
    }

    private static bool IsBlock(ReadOnlySpan<char> name) =>
        name.Equals("p", StringComparison.OrdinalIgnoreCase) || name.Equals("li", StringComparison.OrdinalIgnoreCase) || name.Equals("div", StringComparison.OrdinalIgnoreCase)
        || name.Equals("blockquote", StringComparison.OrdinalIgnoreCase) || name.Equals("pre", StringComparison.OrdinalIgnoreCase) || name.Equals("tr", StringComparison.OrdinalIgnoreCase)
        || (name.Length == 2 && char.ToLowerInvariant(name[0]) == 'h' && name[1] is >= '1' and <= '6');

    private static bool IsVoid(ReadOnlySpan<char> name)
    {
        foreach (var v in (ReadOnlySpan<string>)["br", "hr", "img", "input", "meta", "link", "source", "track", "wbr", "area", "base", "col", "embed", "param"])
            if (name.Equals(v, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
