using Syndicator.Articles;

namespace Syndicator.Feeds;

public enum FeedKind
{
    Site,
    Author,
    Tag,
}

/// <summary>Which articles a feed holds: the whole site, one author's, or one tag's.</summary>
public sealed record FeedScope(FeedKind Kind, string Key, string Slug, string Name)
{
    public static readonly FeedScope Site = new(FeedKind.Site, "", "site", "");

    public static FeedScope ForAuthor(Author author) => new(FeedKind.Author, author.Id, Articles.Import.ArticleImporter.Slugify(author.Name), author.Name);

    public static FeedScope ForTag(string tag) => new(FeedKind.Tag, tag, Articles.Import.ArticleImporter.Slugify(tag), tag);

    /// <summary>The key stored in <c>feed_dirty.scope</c>.</summary>
    public string Id => Kind switch
    {
        FeedKind.Site => "site",
        FeedKind.Author => "author:" + Key,
        _ => "tag:" + Key,
    };

    /// <summary>The scope's folder under the feed output folder.</summary>
    public string Folder => Kind switch
    {
        FeedKind.Site => "site",
        FeedKind.Author => "authors/" + Slug,
        _ => "tags/" + Slug,
    };
}

/// <summary>
/// One feed document: the current feed (newest items) or an RFC 5005 archive page. Archive page 1 holds the
/// oldest <c>ItemsPerFeed</c> articles; only complete pages are archived, so archive pages stay stable while the
/// current feed moves on.
/// </summary>
public sealed record FeedDocument(FeedScope Scope, IReadOnlyList<Article> Items, int? ArchivePage, int CompletePages)
{
    /// <summary>Derived from the items, never from the clock, so an unchanged feed rebuilds to the same bytes.</summary>
    public DateTimeOffset Updated => Items.Count == 0 ? DateTimeOffset.UnixEpoch : Items.Max(a => a.UpdatedAt > a.PublishedAt ? a.UpdatedAt : a.PublishedAt);

    public bool IsArchive => ArchivePage is not null;
}
