using Syndicator.Articles;
using Microsoft.Extensions.Options;
using Syndicator.Shared;

namespace Syndicator.Feeds;

/// <summary>Public URLs of feed documents and the feed-level facts every format shares (title, description, hubs).</summary>
public sealed class FeedLinks(IOptions<SiteOptions> site, IOptions<FeedOptions> feeds)
{
    public SiteOptions Site => site.Value;
    public FeedOptions Options => feeds.Value;

    public string BaseUrl => (feeds.Value.PublicUrl ?? site.Value.BaseUrl.TrimEnd('/') + "/feeds").TrimEnd('/');

    /// <summary>Where the document is written under the output folder.</summary>
    public string RelativePath(FeedScope scope, int? archivePage, string file) =>
        archivePage is null ? $"{scope.Folder}/{file}" : $"{scope.Folder}/archive/{archivePage}/{file}";

    /// <summary>The document's URL relative to the feed folder's URL, percent-encoded.</summary>
    public string RelativeUrl(FeedScope scope, int? archivePage, string file) =>
        archivePage is null ? $"{scope.UrlFolder}/{file}" : $"{scope.UrlFolder}/archive/{archivePage}/{file}";

    /// <summary>The document's public URL: a URI (ASCII, percent-encoded), valid as an Atom id and a WebSub topic.</summary>
    public string Url(FeedScope scope, int? archivePage, string file) => $"{BaseUrl}/{RelativeUrl(scope, archivePage, file)}";

    public string Title(FeedScope scope) => XmlChars.Clean(scope.Kind switch
    {
        FeedKind.Site => site.Value.Title,
        FeedKind.Author => $"{site.Value.Title}: {scope.Name}",
        _ => $"{site.Value.Title}: {scope.Name}",
    });

    public string Description(FeedScope scope) => XmlChars.Clean(scope.Kind switch
    {
        FeedKind.Site => $"New articles from {site.Value.Title}",
        FeedKind.Author => $"Articles by {scope.Name} in {site.Value.Title}",
        _ => $"Articles tagged \u201c{scope.Name}\u201d in {site.Value.Title}",
    });

    public string SiteUrl => site.Value.BaseUrl;

    public const string Generator = "Syndicator";

    /// <summary>An image's MIME type from its URL's extension; JPEG when it cannot tell.</summary>
    public static string ImageType(Shared.WebUrl url)
    {
        var path = url.ToUri().AbsolutePath;
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => "image/png",
            ".gif" => "image/gif",
            ".webp" => "image/webp",
            ".svg" => "image/svg+xml",
            ".avif" => "image/avif",
            _ => "image/jpeg",
        };
    }
}
