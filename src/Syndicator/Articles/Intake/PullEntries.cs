using System.Net;
using System.ServiceModel.Syndication;
using System.Text.Json;
using System.Xml;
using Syndicator.Articles.Import;

namespace Syndicator.Articles.Intake;

/// <summary>One entry of a pulled source: its id there, its title (for messages) and the JSON article the file parser reads.</summary>
public sealed record PullEntry(string Id, string Title, string ArticleJson);

/// <summary>A source's answer that is not a feed (or not WordPress's list of posts): the whole poll fails with this reason.</summary>
public sealed class PullFormatException(string message) : Exception(message);

/// <summary>Turns what a source answered into entries: RSS 2.0 or Atom 1.0 feeds, and WordPress's <c>/wp-json/wp/v2/posts</c>.</summary>
public static class PullEntries
{
    private const string ContentModule = "http://purl.org/rss/1.0/modules/content/";
    private const string DublinCore = "http://purl.org/dc/elements/1.1/";

    public static IReadOnlyList<PullEntry> Read(PullKind kind, byte[] body, Uri source, string? defaultAuthor) =>
        kind == PullKind.WordPress ? WordPress(body, defaultAuthor) : Feed(body, source, defaultAuthor);

    /// <summary>Full content from content:encoded (RSS) or atom:content where the feed has it, else the summary.</summary>
    public static IReadOnlyList<PullEntry> Feed(byte[] body, Uri source, string? defaultAuthor)
    {
        SyndicationFeed feed;
        try
        {
            // No DTDs: a feed that declares entities (billion laughs) is refused, not expanded.
            using var reader = XmlReader.Create(new MemoryStream(body), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            feed = SyndicationFeed.Load(reader);
        }
        catch (Exception e) when (e is XmlException or FormatException or InvalidOperationException or NotSupportedException)
        {
            throw new PullFormatException($"the answer is not an RSS 2.0 or Atom 1.0 feed: {e.Message}");
        }

        var entries = new List<PullEntry>();
        foreach (var item in feed.Items)
        {
            var link = item.Links.FirstOrDefault(l => l.RelationshipType is null or "alternate")?.Uri ?? item.Links.FirstOrDefault()?.Uri;
            var url = link is null ? null : link.IsAbsoluteUri ? link : new Uri(source, link);
            var id = item.Id ?? url?.ToString();
            var title = item.Title?.Text;
            if (id is null) id = "title:" + title;

            var html = item.ElementExtensions.ReadElementExtensions<string>("encoded", ContentModule).FirstOrDefault(c => !string.IsNullOrWhiteSpace(c))
                ?? Html(item.Content as TextSyndicationContent)
                ?? Html(item.Summary);
            var summary = item.Summary is { } s ? Summaries.FromHtml(Html(s) ?? "") : null;
            var author = item.Authors.Select(a => a.Name ?? a.Email).FirstOrDefault(a => !string.IsNullOrWhiteSpace(a))
                ?? item.ElementExtensions.ReadElementExtensions<string>("creator", DublinCore).FirstOrDefault()
                ?? defaultAuthor;
            var image = item.Links.FirstOrDefault(l => l.RelationshipType == "enclosure" && l.MediaType?.StartsWith("image/", StringComparison.OrdinalIgnoreCase) == true)?.Uri;
            entries.Add(new PullEntry(id, title ?? id, Serialize(new Dictionary<string, object?>
            {
                ["title"] = title,
                ["bodyHtml"] = html,
                ["summary"] = string.IsNullOrWhiteSpace(summary) ? null : summary,
                ["author"] = author,
                ["tags"] = item.Categories.Select(c => c.Name).Where(n => !string.IsNullOrWhiteSpace(n)).ToList(),
                ["url"] = url?.OriginalString,
                ["image"] = image?.OriginalString,
                ["date"] = item.PublishDate == default ? null : item.PublishDate.ToString("O"),
                ["updated"] = item.LastUpdatedTime == default ? null : item.LastUpdatedTime.ToString("O"),
            })));
        }
        return entries;
    }

    /// <summary>Atom's text content is plain text: it is escaped and kept as a paragraph; html and xhtml are HTML already.</summary>
    private static string? Html(TextSyndicationContent? content) =>
        content is null || string.IsNullOrWhiteSpace(content.Text) ? null
        : content.Type == "text" ? HtmlCleaner.Paragraphs(content.Text.Split("\n\n", StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        : content.Text;

    /// <summary>WordPress's posts with <c>_embed</c>: the author's name, the featured image and the categories and tags come embedded.</summary>
    public static IReadOnlyList<PullEntry> WordPress(byte[] body, string? defaultAuthor)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new PullFormatException($"the answer is not JSON: {e.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                throw new PullFormatException("the answer is not a JSON array of posts, as /wp-json/wp/v2/posts gives; check the source's Url");
            var entries = new List<PullEntry>();
            foreach (var post in document.RootElement.EnumerateArray())
            {
                var id = post.TryGetProperty("id", out var idValue) ? idValue.ToString() : null;
                if (string.IsNullOrEmpty(id)) throw new PullFormatException("a post has no 'id'; this does not look like WordPress's posts");
                // WordPress renders titles with HTML entities (&#8217;), and percent-encodes slugs in other scripts.
                var title = Rendered(post, "title") is { } t ? WebUtility.HtmlDecode(t) : null;
                var slug = Text(post, "slug") is { } s ? Uri.UnescapeDataString(s) : null;
                var embedded = post.TryGetProperty("_embedded", out var e) ? e : default;
                var author = First(embedded, "author") is { } a ? Text(a, "name") : null;
                var media = First(embedded, "wp:featuredmedia");
                var terms = embedded.ValueKind == JsonValueKind.Object && embedded.TryGetProperty("wp:term", out var termLists) && termLists.ValueKind == JsonValueKind.Array
                    ? termLists.EnumerateArray().Where(l => l.ValueKind == JsonValueKind.Array).SelectMany(l => l.EnumerateArray())
                        .Select(term => Text(term, "name")).OfType<string>().Select(WebUtility.HtmlDecode).OfType<string>().ToList()
                    : [];
                entries.Add(new PullEntry(id, title ?? id, Serialize(new Dictionary<string, object?>
                {
                    ["title"] = title,
                    ["slug"] = slug,
                    ["bodyHtml"] = Rendered(post, "content"),
                    ["summary"] = Rendered(post, "excerpt") is { } excerpt && Summaries.FromHtml(excerpt) is { Length: > 0 } text ? text : null,
                    ["author"] = author ?? defaultAuthor,
                    ["tags"] = terms,
                    ["url"] = Text(post, "link"),
                    ["image"] = media is { } m && Text(m, "source_url") is { } src
                        ? new Dictionary<string, object?> { ["url"] = src, ["caption"] = Text(m, "alt_text") }
                        : null,
                    // WordPress's *_gmt times carry no zone; they are UTC.
                    ["date"] = Text(post, "date_gmt") is { } date ? date + "Z" : null,
                    ["updated"] = Text(post, "modified_gmt") is { } modified ? modified + "Z" : null,
                })));
            }
            return entries;
        }
    }

    private static string? Rendered(JsonElement post, string name) =>
        post.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? Text(value, "rendered") : null;

    private static JsonElement? First(JsonElement parent, string name) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0
            ? list[0] : null;

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s : null;

    private static string Serialize(Dictionary<string, object?> article) =>
        JsonSerializer.Serialize(article.Where(kv => kv.Value is not null).ToDictionary());
}
