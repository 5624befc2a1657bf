using Syndicator.Articles;
using Syndicator.Shared;

namespace Syndicator.Feeds;

public enum FeedKind
{
    Site,
    Author,
    Tag,
}

/// <summary>
/// Which articles a feed holds: the whole site, one author's, or one tag's. <see cref="FolderName"/> is the
/// folder the store gave the author or tag once (see <see cref="FeedStore"/>), so two names never share one.
/// </summary>
public sealed record FeedScope(FeedKind Kind, string Key, Slug FolderName, string Name)
{
    public static readonly FeedScope Site = new(FeedKind.Site, "", Slug.FromText("site"), "");

    /// <summary>The key stored in <c>feed_dirty.scope</c> for an author's feed.</summary>
    public static string AuthorId(Author author) => "author:" + author.Id;

    /// <summary>The key stored in <c>feed_dirty.scope</c> for a tag's feed.</summary>
    public static string TagId(string tag) => "tag:" + tag;

    public string Id => Kind switch
    {
        FeedKind.Site => "site",
        FeedKind.Author => "author:" + Key,
        _ => TagId(Key),
    };

    /// <summary>The scope's folder under the feed output folder, as a file path.</summary>
    public string Folder => Kind switch
    {
        FeedKind.Site => "site",
        FeedKind.Author => "authors/" + FolderName.Value,
        _ => "tags/" + FolderName.Value,
    };

    /// <summary>The same folder as a URL path: the folder name percent-encoded, whatever script it is in.</summary>
    public string UrlFolder => Kind switch
    {
        FeedKind.Site => "site",
        FeedKind.Author => "authors/" + FolderName.UrlSegment,
        _ => "tags/" + FolderName.UrlSegment,
    };
}

/// <summary>
/// One feed document: the current feed (newest items) or an RFC 5005 archive page. Archive page 1 holds the
/// oldest <c>ItemsPerFeed</c> articles; only complete pages are archived, so archive pages stay stable while the
/// current feed moves on.
/// </summary>
public sealed record FeedDocument(FeedScope Scope, IReadOnlyList<Article> Items, int? ArchivePage, int CompletePages)
{
    /// <summary>The same document with each article's entries rendered.</summary>
    public FeedPage Render(FeedEntryRenderer renderer) => new(Scope, Items.Select(renderer.Render).ToList(), ArchivePage, CompletePages);
}

/// <summary>A feed document as the build writes it: the entries already rendered, newest first.</summary>
public sealed record FeedPage(FeedScope Scope, IReadOnlyList<FeedEntry> Entries, int? ArchivePage, int CompletePages)
{
    /// <summary>Derived from the items, never from the clock, so an unchanged feed rebuilds to the same bytes.</summary>
    public DateTimeOffset Updated => Entries.Count == 0 ? DateTimeOffset.UnixEpoch : Entries.Max(e => e.Updated);

    public bool IsArchive => ArchivePage is not null;
}
