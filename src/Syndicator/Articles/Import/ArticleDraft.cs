namespace Syndicator.Articles.Import;

/// <summary>
/// What one source file says about an article, before the store assigns an id. Optional values the file
/// leaves out get defaults at import time: published now, slug from the title, URL from the site's base URL.
/// </summary>
public sealed record ArticleDraft(
    string Title,
    string BodyHtml,
    string? Summary,
    AuthorDraft Author,
    IReadOnlyList<string> Tags,
    ArticleImage? Image,
    string? Slug,
    string? CanonicalUrl,
    string? CommentUrl,
    DateTimeOffset? PublishedAt,
    DateTimeOffset? UpdatedAt,
    string SourceName);

public sealed record AuthorDraft(string Name, string? Bio, SocialHandles Handles);
