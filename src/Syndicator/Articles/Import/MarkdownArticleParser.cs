using System.Text.RegularExpressions;
using Markdig;

namespace Syndicator.Articles.Import;

/// <summary>Markdown with YAML front matter (title, author, tags, date, image, summary, slug, url, commentUrl).</summary>
public static partial class MarkdownArticleParser
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    public static ArticleDraft Parse(string text, string sourceName, string defaultAuthor, BodyLimits? limits = null)
    {
        text = text.Replace("\r\n", "\n");
        var fields = MetadataFields.None;
        var body = text;
        var bodyStartLine = 1;
        if (text.StartsWith("---\n", StringComparison.Ordinal))
        {
            var end = Regex.Match(text[4..], @"^(---|\.\.\.)[ \t]*$", RegexOptions.Multiline);
            if (!end.Success)
                throw new ArticleRejectedException("the front matter that opens with '---' is never closed; end it with a line '---'", 1);
            fields = MetadataFields.Read(Metadata.FromYaml(text.Substring(4, end.Index), lineOffset: 1));
            body = text[(4 + end.Index + end.Length)..];
            bodyStartLine = text.AsSpan(0, 4 + end.Index + end.Length).Count('\n') + 1;
        }

        var title = fields.Title;
        var heading = Heading().Match(body);
        if (title is null && heading.Success)
        {
            title = heading.Groups[1].Value.Trim();
            body = body.Remove(heading.Index, heading.Length);
        }
        if (title is null)
            throw new ArticleRejectedException("no title: set 'title:' in the front matter or start the body with '# Title'", 1);

        (limits ?? BodyLimits.Default).CheckText(body, bodyStartLine);
        var warnings = new List<string>();
        var html = HtmlCleaner.Sanitize(Markdown.ToHtml(body, Pipeline), warnings);
        if (html.Length == 0)
            throw new ArticleRejectedException("the article has a title but no body", bodyStartLine);

        var draft = new ArticleDraft(title, html, null, new AuthorDraft(defaultAuthor, null, SocialHandles.None), [], null, null, null, null, null, null, sourceName) { Warnings = warnings };
        draft = fields.ApplyTo(draft);
        return draft with { Summary = draft.Summary ?? Summaries.FromHtml(html) };
    }

    [GeneratedRegex(@"^\s*#[ \t]+(.+?)[ \t#]*$\n?", RegexOptions.Multiline)]
    private static partial Regex Heading();
}
