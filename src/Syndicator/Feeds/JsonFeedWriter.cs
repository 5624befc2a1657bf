using System.Text.Encodings.Web;
using System.Text.Json;
using Syndicator.Articles;

namespace Syndicator.Feeds;

/// <summary>JSON Feed 1.1 (https://jsonfeed.org/version/1.1). Paging uses <c>next_url</c> towards older items, as the spec suggests.</summary>
public static class JsonFeedWriter
{
    private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Write(FeedDocument document, FeedLinks links)
    {
        var scope = document.Scope;
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, Options))
        {
            json.WriteStartObject();
            json.WriteString("version", "https://jsonfeed.org/version/1.1");
            json.WriteString("title", links.Title(scope));
            json.WriteString("home_page_url", links.SiteUrl);
            json.WriteString("feed_url", links.Url(scope, document.ArchivePage, FeedPaths.Json));
            json.WriteString("description", links.Description(scope));
            json.WriteString("language", links.Site.Language);
            if (links.Options.IconUrl is { } icon) json.WriteString("icon", icon);
            var older = document.ArchivePage is { } page ? (page > 1 ? page - 1 : (int?)null) : (document.CompletePages > 0 ? document.CompletePages : null);
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
            foreach (var article in document.Items) WriteItem(json, article);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteItem(Utf8JsonWriter json, Article article)
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
