namespace Syndicator.Articles.Import;

/// <summary>The article fields that front matter, a sidecar or a JSON article may set. Null means "not set here".</summary>
internal sealed record MetadataFields(
    string? Title,
    string? Slug,
    string? Summary,
    AuthorDraft? Author,
    IReadOnlyList<string>? Tags,
    ArticleImage? Image,
    string? CanonicalUrl,
    string? CommentUrl,
    DateTimeOffset? PublishedAt,
    DateTimeOffset? UpdatedAt)
{
    public static MetadataFields Read(Metadata meta)
    {
        var tags = meta.List("tags", "categories", "keywords");
        return new MetadataFields(
            meta.String("title"),
            meta.String("slug"),
            meta.String("summary", "description", "excerpt"),
            ReadAuthor(meta),
            meta.Has("tags", "categories", "keywords") ? tags : null,
            ReadImage(meta),
            meta.String("url", "canonicalUrl", "canonical_url", "link"),
            meta.String("commentUrl", "comment_url", "comments"),
            meta.Date("date", "published", "publishedAt", "published_at"),
            meta.Date("updated", "updatedAt", "updated_at", "modified"));
    }

    private static AuthorDraft? ReadAuthor(Metadata meta)
    {
        var section = meta.Section("author");
        if (section is null)
        {
            var name = meta.String("author");
            return name is null ? null : new AuthorDraft(name, null, SocialHandles.None);
        }
        var authorName = section.String("name")
            ?? throw new ArticleRejectedException("'author' has no 'name'", meta.LineOf("author"));
        var bio = section.String("bio");
        var handles = new SocialHandles(
            section.String("x", "twitter")?.TrimStart('@'),
            section.String("mastodon")?.TrimStart('@'),
            section.String("bluesky", "bsky")?.TrimStart('@'));
        return new AuthorDraft(authorName, bio, bio is null ? handles : handles.Or(BioParser.Handles(bio)));
    }

    private static ArticleImage? ReadImage(Metadata meta)
    {
        var section = meta.Section("image");
        if (section is not null)
            return new ArticleImage(section.String("url", "src"), section.String("caption", "alt"), section.String("credit"));
        var url = meta.String("image");
        return url is null ? null : new ArticleImage(url, null, null);
    }

    /// <summary>Lays these fields over <paramref name="draft"/>: what is set here wins, what is not keeps the draft's value.</summary>
    public ArticleDraft ApplyTo(ArticleDraft draft) => draft with
    {
        Title = Title ?? draft.Title,
        Slug = Slug ?? draft.Slug,
        Summary = Summary ?? draft.Summary,
        Author = Author is null ? draft.Author : Author with { Bio = Author.Bio ?? draft.Author.Bio, Handles = Author.Handles.Or(draft.Author.Handles) },
        Tags = Tags ?? draft.Tags,
        Image = Image is null ? draft.Image : new ArticleImage(Image.Url ?? draft.Image?.Url, Image.Caption ?? draft.Image?.Caption, Image.Credit ?? draft.Image?.Credit),
        CanonicalUrl = CanonicalUrl ?? draft.CanonicalUrl,
        CommentUrl = CommentUrl ?? draft.CommentUrl,
        PublishedAt = PublishedAt ?? draft.PublishedAt,
        UpdatedAt = UpdatedAt ?? draft.UpdatedAt,
    };
}
