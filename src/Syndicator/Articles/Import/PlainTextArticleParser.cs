using System.Text.RegularExpressions;
using Syndicator.Shared;

namespace Syndicator.Articles.Import;

/// <summary>
/// The magazine's plain-text op-ed format: the first line is the title; paragraphs are separated by blank lines;
/// the last paragraph starting with <c>*</c> is the author bio; <c>IMAGE: caption. Credit.</c> describes the image;
/// a "To comment..." line points at the discussion; a trailing "If you experience technical problems" line is site
/// boilerplate. None of those is body.
/// </summary>
public static partial class PlainTextArticleParser
{
    public static ArticleDraft Parse(string text, string sourceName, string defaultAuthor, BodyLimits? limits = null)
    {
        (limits ?? BodyLimits.Default).CheckText(text);
        var paragraphs = SplitParagraphs(text);
        if (paragraphs.Count == 0 || string.IsNullOrWhiteSpace(paragraphs[0].Text))
            throw new ArticleRejectedException("no title: the first line of the file must be the article's title", 1);

        var titleLines = paragraphs[0].Lines;
        var title = titleLines[0].Trim();
        var rest = new List<Paragraph>();
        if (titleLines.Count > 1) rest.Add(new Paragraph(paragraphs[0].Line + 1, titleLines.Skip(1).ToList()));
        rest.AddRange(paragraphs.Skip(1));

        ArticleImage? image = null;
        string? bio = null, commentText = null;
        var body = new List<string>();
        var bioIndex = rest.FindLastIndex(p => p.Text.StartsWith('*'));
        for (var i = 0; i < rest.Count; i++)
        {
            var paragraph = rest[i].Text;
            var imageMatch = ImageLine().Match(paragraph);
            if (imageMatch.Success) image ??= ParseImage(imageMatch.Groups[1].Value);
            else if (i == bioIndex) bio = paragraph.TrimStart('*', ' ').Trim();
            else if (i > bioIndex && bioIndex >= 0 || IsTrailer(rest, i))
            {
                if (CommentLine().IsMatch(paragraph)) commentText ??= FirstUrl(paragraph);
                // Anything else after the bio is site furniture (the technical-problems line and the like).
            }
            else body.Add(paragraph);
        }

        if (body.Count == 0)
            throw new ArticleRejectedException("the article has a title but no body paragraphs", paragraphs[0].Line);

        var author = bio is null
            ? new AuthorDraft(defaultAuthor, null, SocialHandles.None)
            : new AuthorDraft(BioParser.LeadingName(bio) ?? defaultAuthor, bio, BioParser.Handles(bio));
        var bodyHtml = HtmlCleaner.Paragraphs(body);
        // The comment line is free text: a link there that is no http(s) URL is dropped, and the import says so.
        List<string> warnings = [];
        WebUrl? commentUrl = null;
        if (commentText is not null && !WebUrl.TryParse(commentText, out commentUrl, out var problem))
            warnings.Add($"the comment link \"{Shown.Value(commentText)}\" was dropped: {problem}");
        return new ArticleDraft(title, bodyHtml, Summaries.FromHtml(bodyHtml), author, [], image, null, null, commentUrl, null, null, sourceName) { Warnings = warnings };
    }

    /// <summary>With no bio, the comment and boilerplate lines still end the article: trailing ones are not body.</summary>
    private static bool IsTrailer(List<Paragraph> paragraphs, int index)
    {
        for (var i = index; i < paragraphs.Count; i++)
        {
            var text = paragraphs[i].Text;
            if (!CommentLine().IsMatch(text) && !BoilerplateLine().IsMatch(text) && !ImageLine().IsMatch(text)) return false;
        }
        return true;
    }

    private static ArticleImage ParseImage(string text)
    {
        text = text.Trim();
        var credit = CreditLabel().Match(text);
        if (credit.Success)
            return new ArticleImage(null, NullIfEmpty(text[..credit.Index].Trim().TrimEnd('.', '(', ' ')), credit.Groups[1].Value.Trim().TrimEnd('.', ')'));
        // "Qasim Musleh. YouTube screengrab.": the last sentence is the credit.
        var sentences = text.TrimEnd('.').Split(". ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return sentences.Length >= 2
            ? new ArticleImage(null, string.Join(". ", sentences[..^1]), sentences[^1])
            : new ArticleImage(null, text.TrimEnd('.'), null);
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    private static string? FirstUrl(string text) => Url().Match(text) is { Success: true } m ? m.Value.TrimEnd('.', ',', ')') : null;

    private sealed record Paragraph(int Line, List<string> Lines)
    {
        public string Text { get; } = string.Join(' ', Lines.Select(l => l.Trim())).Trim();
    }

    private static List<Paragraph> SplitParagraphs(string text)
    {
        var lines = text.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');
        var paragraphs = new List<Paragraph>();
        List<string>? current = null;
        var start = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
            {
                if (current is not null) paragraphs.Add(new Paragraph(start, current));
                current = null;
                continue;
            }
            if (current is null) { current = []; start = i + 1; }
            current.Add(lines[i]);
        }
        if (current is not null) paragraphs.Add(new Paragraph(start, current));
        return paragraphs;
    }

    [GeneratedRegex(@"^IMAGE:\s*(.*)$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex ImageLine();

    [GeneratedRegex(@"^(to comment|comment on|comments?:|join the (conversation|discussion)|discuss this)", RegexOptions.IgnoreCase)]
    private static partial Regex CommentLine();

    [GeneratedRegex(@"^if you experience technical problems", RegexOptions.IgnoreCase)]
    private static partial Regex BoilerplateLine();

    [GeneratedRegex(@"(?:credit|photo|source|image)\s*:\s*(.+)$", RegexOptions.IgnoreCase)]
    private static partial Regex CreditLabel();

    [GeneratedRegex(@"https?://\S+")]
    private static partial Regex Url();
}
