namespace Syndicator.Feeds;

/// <summary>
/// The layout of the feed folder, shared by the builder and the HTTP endpoint:
/// <code>
/// site/rss.xml  site/atom.xml  site/feed.json          the whole site, newest items
/// site/archive/3/rss.xml ...                           RFC 5005 archive pages, 1 = oldest
/// authors/{slug}/rss.xml ...  tags/{slug}/rss.xml ...  per author, per tag, same shape
/// index.html  feeds.opml                               every feed, for people and for readers
/// </code>
/// </summary>
public static class FeedPaths
{
    public const string Rss = "rss.xml";
    public const string Atom = "atom.xml";
    public const string Json = "feed.json";
    public const string Index = "index.html";
    public const string Opml = "feeds.opml";

    /// <summary>The Content-Type a file in the feed folder is served with.</summary>
    public static string ContentType(string fileName) => Path.GetFileName(fileName) switch
    {
        Rss => "application/rss+xml; charset=utf-8",
        Atom => "application/atom+xml; charset=utf-8",
        Json => "application/feed+json; charset=utf-8",
        Opml => "text/x-opml; charset=utf-8",
        Index => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    };
}
