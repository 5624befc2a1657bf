using System.Text.Json;
using Markdig;

namespace Syndicator.Articles.Import;

/// <summary>One article object or an array of them. The body is <c>bodyHtml</c> (HTML) or <c>body</c> (Markdown).</summary>
public static class JsonArticleParser
{
    public static IReadOnlyList<ArticleDraft> Parse(string text, string sourceName, string defaultAuthor, BodyLimits? limits = null)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ArticleRejectedException($"invalid JSON: {e.Message}", (int?)e.LineNumber + 1, e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                var drafts = new List<ArticleDraft>();
                var index = 0;
                foreach (var element in root.EnumerateArray())
                {
                    try
                    {
                        drafts.Add(ParseOne(element, text, $"{sourceName}#{index}", defaultAuthor, limits ?? BodyLimits.Default));
                    }
                    catch (ArticleRejectedException e)
                    {
                        throw new ArticleRejectedException($"article {index + 1} of the array: {e.Problem}", e.Line, e);
                    }
                    index++;
                }
                if (drafts.Count == 0) throw new ArticleRejectedException("the JSON array holds no articles", 1);
                return drafts;
            }
            return [ParseOne(root, text, sourceName, defaultAuthor, limits ?? BodyLimits.Default)];
        }
    }

    private static ArticleDraft ParseOne(JsonElement element, string text, string sourceName, string defaultAuthor, BodyLimits limits)
    {
        var meta = Metadata.FromJson(element, text);
        var fields = MetadataFields.Read(meta);
        if (fields.Title is null) throw new ArticleRejectedException("no title: set \"title\" on the article", meta.LineOf("title"));

        var warnings = new List<string>();
        string html;
        if (meta.String("bodyHtml", "body_html", "contentHtml", "content_html", "html") is { } rawHtml)
        {
            limits.CheckHtml(rawHtml);
            html = HtmlCleaner.Sanitize(rawHtml, warnings);
        }
        else if (meta.String("body", "content", "markdown") is { } markdown)
        {
            limits.CheckText(markdown);
            html = HtmlCleaner.Sanitize(Markdown.ToHtml(markdown), warnings);
        }
        else html = "";
        if (html.Length == 0)
            throw new ArticleRejectedException($"\"{fields.Title}\" has no body: set \"bodyHtml\" (HTML) or \"body\" (Markdown)", meta.LineOf("title"));

        var draft = fields.ApplyTo(new ArticleDraft(fields.Title, html, null, new AuthorDraft(defaultAuthor, null, SocialHandles.None), [], null, null, null, null, null, null, sourceName) { Warnings = warnings });
        return draft with { Summary = draft.Summary ?? Summaries.FromHtml(html) };
    }
}
