using Syndicator.Shared;

namespace Syndicator.Articles.Import;

/// <summary>
/// The article fields that front matter, a sidecar or a JSON article may set. Null means "not set here".
/// Slugs and URLs are checked as they are read: a bad slug or canonical URL rejects the file (naming the key and
/// its line); a bad image or comment URL is dropped with a line in <see cref="Warnings"/>.
/// </summary>
internal sealed partial record MetadataFields(
    string? Title,
    Slug? Slug,
    string? Summary,
    AuthorDraft? Author,
    IReadOnlyList<string>? Tags,
    ArticleImage? Image,
    WebUrl? CanonicalUrl,
    WebUrl? CommentUrl,
    DateTimeOffset? PublishedAt,
    DateTimeOffset? UpdatedAt,
    string? DeclaredId,
    IReadOnlyList<string> Warnings)
{
    public static readonly MetadataFields None = new(null, null, null, null, null, null, null, null, null, null, null, []);

    /// <summary>The announcement controls this file sets (<see cref="AnnouncementControlFields"/>); none by default.</summary>
    public AnnouncementControlFields Controls { get; init; } = AnnouncementControlFields.None;

    public static MetadataFields Read(Metadata meta)
    {
        var warnings = new List<string>();
        var tags = meta.List("tags", "categories", "keywords");
        return new MetadataFields(
            ReadTitle(meta, warnings),
            ReadSlug(meta),
            meta.String("summary", "description", "excerpt"),
            ReadAuthor(meta),
            meta.Has("tags", "categories", "keywords") ? tags : null,
            ReadImage(meta, warnings),
            Url(meta, warnings, required: true, "url", "canonicalUrl", "canonical_url", "link"),
            Url(meta, warnings, required: false, "commentUrl", "comment_url", "comments"),
            meta.Date("date", "published", "publishedAt", "published_at"),
            meta.Date("updated", "updatedAt", "updated_at", "modified"),
            meta.String("id"),
            warnings) { Controls = AnnouncementControlFields.Read(meta, warnings) };
    }

    /// <summary>
    /// A title is one line: a line break in it would split a mail subject or a post, so it is joined into one line with a
    /// warning. (Other characters XML forbids are removed at import, as everywhere else.)
    /// </summary>
    private static string? ReadTitle(Metadata meta, List<string> warnings)
    {
        var title = meta.String("title");
        if (title is null || LineBreaks().IsMatch(title) is false) return title;
        var joined = LineBreaks().Replace(title, " ");
        warnings.Add($"'title'{(meta.LineOf("title") is { } line ? $" (line {line})" : "")} held a line break and was joined into one line: \"{Shown.Value(joined)}\"");
        return joined;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"[ \t]*[\r\n\u0085\u2028\u2029]+[ \t]*")]
    private static partial System.Text.RegularExpressions.Regex LineBreaks();

    private static Slug? ReadSlug(Metadata meta)
    {
        var text = meta.String("slug");
        if (text is null) return null;
        if (Shared.Slug.TryParse(text, out var slug, out var problem)) return slug;
        throw new ArticleRejectedException(
            $"'slug' is \"{Shown.Value(text)}\", which cannot be a slug: {problem}. Use letters and digits (any script) joined by '-', at most {Shared.Slug.MaxLength} characters",
            meta.LineOf("slug"));
    }

    /// <summary>A URL field: checked and brought to its URI form, or refused (required) or dropped with a warning.</summary>
    internal static WebUrl? Url(Metadata meta, ICollection<string> warnings, bool required, params string[] keys)
    {
        var text = meta.String(keys);
        if (text is null) return null;
        if (WebUrl.TryParse(text, out var url, out var problem)) return url;
        var key = meta.KeyOf(keys);
        var line = meta.LineOf(key);
        if (required)
            throw new ArticleRejectedException($"'{key}' is \"{Shown.Value(text)}\", which is not an absolute http(s) URL: {problem}; write it like https://magazine.example/2026/my-article", line);
        warnings.Add($"'{key}'{(line is null ? "" : $" (line {line})")} was dropped: \"{Shown.Value(text)}\" is not an absolute http(s) URL ({problem})");
        return null;
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

    private static ArticleImage? ReadImage(Metadata meta, List<string> warnings)
    {
        var section = meta.Section("image");
        if (section is not null)
            return new ArticleImage(Url(section, warnings, required: false, "url", "src"), section.String("caption", "alt"), section.String("credit"));
        return Url(meta, warnings, required: false, "image") is { } url ? new ArticleImage(url, null, null) : null;
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
        DeclaredId = DeclaredId ?? draft.DeclaredId,
        Warnings = [.. draft.Warnings, .. Warnings],
        Controls = Controls.ApplyTo(draft.Controls),
    };
}
