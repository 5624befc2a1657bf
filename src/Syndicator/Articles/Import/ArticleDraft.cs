using Syndicator.Shared;

namespace Syndicator.Articles.Import;

/// <summary>
/// What one source file says about an article, before the store assigns an id. Optional values the file
/// leaves out get defaults at import time: published now, slug from the title, URL from the site's base URL.
/// Slugs and URLs are already checked here: a bad required one rejected the file, a bad optional one was dropped
/// with a line in <see cref="Warnings"/>.
/// </summary>
public sealed record ArticleDraft(
    string Title,
    string BodyHtml,
    string? Summary,
    AuthorDraft Author,
    IReadOnlyList<string> Tags,
    ArticleImage? Image,
    Slug? Slug,
    WebUrl? CanonicalUrl,
    WebUrl? CommentUrl,
    DateTimeOffset? PublishedAt,
    DateTimeOffset? UpdatedAt,
    string SourceName)
{
    /// <summary>
    /// The id of the stored article this file declares it is (front matter <c>id:</c>): only then may it take a slug
    /// that an article from another file holds.
    /// </summary>
    public string? DeclaredId { get; init; }

    public IReadOnlyList<string> Warnings { get; init; } = [];

    public AnnouncementControls Controls { get; init; } = AnnouncementControls.Default;
}

public sealed record AuthorDraft(string Name, string? Bio, SocialHandles Handles);
