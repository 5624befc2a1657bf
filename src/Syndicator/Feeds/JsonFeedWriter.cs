using System.Text.Encodings.Web;
using System.Text.Json;
using Syndicator.Articles;

namespace Syndicator.Feeds;

/// <summary>JSON Feed 1.1 (https://jsonfeed.org/version/1.1). Paging uses <c>next_url</c> towards older items, as the spec suggests.</summary>
public static class JsonFeedWriter
{
    internal static readonly byte[] EndWithItems = "\n  ]\n}"u8.ToArray();
    private static readonly byte[] EndEmpty = "]\n}"u8.ToArray();

    public static FeedFileBytes Write(FeedDocument document, FeedLinks links) => Write(document.Render(new FeedEntryRenderer()), links);

    private static readonly byte[] Comma = ","u8.ToArray();

    /// <summary>The document's head, then each entry's bytes (a comma between them), then the closing brackets.</summary>
    public static FeedFileBytes Write(FeedPage page, FeedLinks links)
    {
        var parts = new List<ReadOnlyMemory<byte>>(2 * page.Entries.Count + 1) { Head(page, links) };
        for (var i = 0; i < page.Entries.Count; i++)
        {
            if (i > 0) parts.Add(Comma);
            parts.Add(page.Entries[i].Json);
        }
        parts.Add(page.Entries.Count == 0 ? EndEmpty : EndWithItems);
        return new FeedFileBytes(parts);
    }

    /// <summary>Everything up to and including the opening bracket of <c>items</c>.</summary>
    private static byte[] Head(FeedPage page, FeedLinks links)
    {
        var scope = page.Scope;
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, FeedEntryRenderer.JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("version", "https://jsonfeed.org/version/1.1");
            json.WriteString("title", links.Title(scope));
            json.WriteString("home_page_url", links.SiteUrl);
            json.WriteString("feed_url", links.Url(scope, page.ArchivePage, FeedPaths.Json));
            json.WriteString("description", links.Description(scope));
            json.WriteString("language", links.Site.Language);
            if (links.Options.IconUrl is { } icon) json.WriteString("icon", icon);
            var older = page.ArchivePage is { } number ? (number > 1 ? number - 1 : (int?)null) : (page.CompletePages > 0 ? page.CompletePages : null);
            if (older is not null) json.WriteString("next_url", links.Url(scope, older, FeedPaths.Json));
            if (links.Options.Hubs.Count > 0)
            {
                json.WriteStartArray("hubs");
                foreach (var hub in links.Options.Hubs)
                {
                    json.WriteStartObject();
                    json.WriteString("type", "WebSub");
                    json.WriteString("url", hub);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            json.WriteStartArray("items");
            json.Flush();
        }
        return stream.ToArray();
    }

    internal static void WriteItem(Utf8JsonWriter json, Article article)
    {
        json.WriteStartObject();
        json.WriteString("id", "urn:uuid:" + article.Id);
        json.WriteString("url", article.CanonicalUrl.Value);
        json.WriteString("title", article.Title);
        json.WriteString("content_html", article.BodyHtml);
        json.WriteString("summary", article.Summary);
        if (article.Image?.Url is { } image) json.WriteString("image", image.Value);
        json.WriteString("date_published", article.PublishedAt.ToString("yyyy-MM-dd'T'HH:mm:ssK"));
        json.WriteString("date_modified", (article.UpdatedAt > article.PublishedAt ? article.UpdatedAt : article.PublishedAt).ToString("yyyy-MM-dd'T'HH:mm:ssK"));
        json.WriteStartArray("authors");
        json.WriteStartObject();
        json.WriteString("name", article.Author.Name);
        json.WriteEndObject();
        json.WriteEndArray();
        if (article.Tags.Count > 0)
        {
            json.WriteStartArray("tags");
            foreach (var tag in article.Tags) json.WriteStringValue(tag);
            json.WriteEndArray();
        }
        if (article.Image?.Url is { } url)
        {
            json.WriteStartArray("attachments");
            json.WriteStartObject();
            json.WriteString("url", url.Value);
            json.WriteString("mime_type", FeedLinks.ImageType(url));
            if (article.Image.Caption is { } caption) json.WriteString("title", caption);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        if (article.CommentUrl is not null || article.Image?.Caption is not null)
        {
            // JSON Feed has no place for these; its extension convention is a key starting with an underscore.
            json.WriteStartObject("_syndicator");
            if (article.CommentUrl is { } comments) json.WriteString("comments_url", comments.Value);
            if (article.Image?.Caption is { } caption) json.WriteString("image_caption", caption);
            if (article.Image?.Credit is { } credit) json.WriteString("image_credit", credit);
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }
}
