using Syndicator.Shared;

namespace Syndicator.Articles;

/// <summary>An author's handle on each social network; null where the author has none.</summary>
public sealed record SocialHandles(string? X = null, string? Mastodon = null, string? Bluesky = null)
{
    public static readonly SocialHandles None = new();

    /// <summary>Handles from <paramref name="other"/> fill the gaps in this one.</summary>
    public SocialHandles Or(SocialHandles other) => new(X ?? other.X, Mastodon ?? other.Mastodon, Bluesky ?? other.Bluesky);
}

public sealed record Author(string Id, string Name, string? Bio, SocialHandles Handles);

public sealed record ArticleImage(WebUrl? Url, string? Caption, string? Credit);

/// <summary>
/// An article as the store holds it. <see cref="Id"/> never changes once assigned, whatever edits follow. Every URL
/// it carries passed <see cref="WebUrl"/> at import; <see cref="Warnings"/> says what import dropped or changed.
/// </summary>
public sealed record Article(
    string Id,
    Slug Slug,
    string Title,
    string Summary,
    string BodyHtml,
    Author Author,
    IReadOnlyList<string> Tags,
    ArticleImage? Image,
    WebUrl CanonicalUrl,
    WebUrl? CommentUrl,
    DateTimeOffset PublishedAt,
    DateTimeOffset UpdatedAt,
    string ContentHash)
{
    /// <summary>What import refused in the file without refusing the article (an optional URL it dropped, for example).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>When it was unpublished (API DELETE, Ghost's post.unpublished): it is then in no feed and never announced or mailed.</summary>
    public DateTimeOffset? UnpublishedAt { get; init; }

    public bool Unpublished => UnpublishedAt is not null;

    /// <summary>What the article's file says about announcing it (see <see cref="AnnouncementControls"/>).</summary>
    public AnnouncementControls Controls { get; init; } = AnnouncementControls.Default;
}
