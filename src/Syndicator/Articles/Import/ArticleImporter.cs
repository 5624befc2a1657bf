using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Shared;
using Syndicator.Storage;

namespace Syndicator.Articles.Import;

public enum ImportChange
{
    Created,
    Updated,
    Unchanged,
}

public sealed record ImportedArticle(Article Article, ImportChange Change);

/// <summary>What happened to one file: the articles it held, or why it was rejected and where it was set aside.</summary>
public sealed record FileImportResult(string Path, IReadOnlyList<ImportedArticle> Articles, string? Rejection, string? RejectedTo)
{
    public bool Rejected => Rejection is not null;
}

/// <summary>
/// Imports article files into the store. Import is idempotent: the same file again updates the article in place
/// (same id and slug), keeps its first published-at unless the file sets one, and only changes updated-at and the
/// content hash when the content really changed.
/// </summary>
public sealed partial class ArticleImporter(
    Database database,
    ArticleStore store,
    ArticleFileReader reader,
    IOptions<SiteOptions> site,
    IEnumerable<IArticleChangeHandler> changeHandlers,
    IEnumerable<IArticleReviewer> reviewers,
    TimeProvider time,
    ILogger<ArticleImporter> logger)
{
    /// <summary>Imports one file. A bad file is reported, never thrown: the caller goes on with the next one.</summary>
    public async Task<FileImportResult> ImportFileAsync(string path, CancellationToken cancellationToken)
    {
        using var activity = Telemetry.Source.StartActivity("article import");
        activity?.SetTag(Telemetry.File, Path.GetFileName(path));
        var result = await ImportFileUntracedAsync(path, cancellationToken);
        activity?.SetTag(Telemetry.Articles, result.Articles.Count);
        if (result.Rejection is not null) activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, result.Rejection);
        return result;
    }

    private async Task<FileImportResult> ImportFileUntracedAsync(string path, CancellationToken cancellationToken)
    {
        IReadOnlyList<ArticleDraft> drafts;
        try
        {
            drafts = await reader.ReadAsync(path, cancellationToken);
        }
        catch (ArticleRejectedException e)
        {
            logger.LogWarning("Rejected {File}: {Reason}", path, e.Message);
            return new FileImportResult(path, [], e.Message, null);
        }
        catch (IOException e)
        {
            logger.LogWarning("Could not read {File}: {Reason}", path, e.Message);
            return new FileImportResult(path, [], $"the file could not be read: {e.Message}", null);
        }

        try
        {
            var imported = await ImportDraftsAsync(drafts, cancellationToken);
            foreach (var article in imported)
                foreach (var warning in article.Article.Warnings)
                    logger.LogWarning("{File}: {Warning}", path, warning);
            return new FileImportResult(path, imported, null, null);
        }
        catch (ArticleRejectedException e)
        {
            logger.LogWarning("Rejected {File}: {Reason}", path, e.Message);
            return new FileImportResult(path, [], e.Message, null);
        }
    }

    /// <summary>
    /// Stores the drafts of one file in a single transaction: all of the file's articles, or none.
    /// A slug another file's article holds is refused (<see cref="ArticleRejectedException"/>) unless the draft
    /// declares that article's id.
    /// </summary>
    public async Task<IReadOnlyList<ImportedArticle>> ImportDraftsAsync(IReadOnlyList<ArticleDraft> drafts, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var results = new List<ImportedArticle>();
        foreach (var raw in drafts)
        {
            var draft = Clean(raw);
            var now = time.GetUtcNow().ToStoredPrecision();
            var author = await store.SaveAuthorAsync(connection, transaction, draft.Author.Name, draft.Author.Bio, draft.Author.Handles, now, cancellationToken);

            // The file name identifies the article across edits of its title; an explicit slug across renames of the
            // file, but only of its own article: taking over another file's article needs that article's id.
            var byId = draft.DeclaredId is null ? null : await store.FindForImportAsync(connection, transaction, ArticleKey.Id, draft.DeclaredId, cancellationToken);
            var bySlug = draft.Slug is null ? null : await store.FindForImportAsync(connection, transaction, ArticleKey.Slug, draft.Slug, cancellationToken);
            if (bySlug is { } owner && owner.Article.Id != byId?.Article.Id && owner.SourceName != draft.SourceName)
                throw new ArticleRejectedException(
                    $"the slug '{draft.Slug}' belongs to \"{Shown.Value(owner.Article.Title)}\" imported from {owner.SourceName ?? "another source"} (id {owner.Article.Id}); " +
                    $"give this article another slug, or, if this file replaces that one, add 'id: {owner.Article.Id}' to its front matter");
            var existing = byId ?? bySlug ?? await store.FindForImportAsync(connection, transaction, ArticleKey.SourceName, draft.SourceName, cancellationToken);

            var slug = draft.Slug ?? existing?.Article.Slug ?? await FreeSlugAsync(connection, transaction, Slug.FromText(draft.Title), cancellationToken);

            var candidate = new Article(
                existing?.Article.Id ?? Guid.CreateVersion7(now).ToString(),
                slug,
                draft.Title,
                draft.Summary ?? Summaries.FromHtml(draft.BodyHtml),
                draft.BodyHtml,
                author,
                draft.Tags.Select(t => t.Trim()).Where(t => t.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList(),
                draft.Image,
                draft.CanonicalUrl ?? WebUrl.Combine(site.Value.BaseUrl, slug),
                draft.CommentUrl,
                draft.PublishedAt ?? existing?.Article.PublishedAt ?? now,
                draft.UpdatedAt ?? existing?.Article.UpdatedAt ?? draft.PublishedAt ?? now,
                "") { Warnings = draft.Warnings, UnpublishedAt = existing?.Article.UnpublishedAt, Controls = draft.Controls };
            candidate = candidate with { ContentHash = ContentHash(candidate) };
            foreach (var reviewer in reviewers) candidate = reviewer.Review(candidate);

            if (existing is null)
            {
                await store.InsertAsync(connection, transaction, candidate, draft.SourceName, now, cancellationToken);
                foreach (var handler in changeHandlers) await handler.OnArticleChangedAsync(connection, transaction, null, candidate, cancellationToken);
                results.Add(new ImportedArticle(candidate, ImportChange.Created));
                logger.LogInformation("Imported new article {ArticleId} {Slug} from {File}", candidate.Id, candidate.Slug, draft.SourceName);
                continue;
            }

            var old = existing.Value.Article;
            if (old.ContentHash == candidate.ContentHash && old.Slug == candidate.Slug && old.PublishedAt == candidate.PublishedAt
                && old.CanonicalUrl == candidate.CanonicalUrl && old.Author == candidate.Author && old.Warnings.SequenceEqual(candidate.Warnings)
                && old.Controls == candidate.Controls)
            {
                results.Add(new ImportedArticle(old, ImportChange.Unchanged));
                continue;
            }

            var updated = old.ContentHash == candidate.ContentHash
                ? candidate with { UpdatedAt = draft.UpdatedAt ?? old.UpdatedAt }
                : candidate with { UpdatedAt = draft.UpdatedAt ?? now };
            await store.UpdateAsync(connection, transaction, updated, draft.SourceName, now, cancellationToken);
            foreach (var handler in changeHandlers) await handler.OnArticleChangedAsync(connection, transaction, old, updated, cancellationToken);
            results.Add(new ImportedArticle(updated, ImportChange.Updated));
            logger.LogInformation("Updated article {ArticleId} {Slug} from {File}", updated.Id, updated.Slug, draft.SourceName);
        }
        await transaction.CommitAsync(cancellationToken);
        return results;
    }

    /// <summary>
    /// Characters XML 1.0 forbids would break every feed and e-mail the article reaches, so they never enter the store;
    /// times are cut to the store's precision so that what is written reads back equal.
    /// </summary>
    private static ArticleDraft Clean(ArticleDraft draft) => draft with
    {
        Title = XmlChars.Clean(draft.Title).Trim(),
        BodyHtml = XmlChars.Clean(draft.BodyHtml),
        Summary = draft.Summary is null ? null : XmlChars.Clean(draft.Summary),
        Author = draft.Author with { Name = XmlChars.Clean(draft.Author.Name).Trim(), Bio = draft.Author.Bio is null ? null : XmlChars.Clean(draft.Author.Bio) },
        Tags = draft.Tags.Select(XmlChars.Clean).ToList(),
        Image = draft.Image is null ? null : draft.Image with { Caption = draft.Image.Caption is null ? null : XmlChars.Clean(draft.Image.Caption), Credit = draft.Image.Credit is null ? null : XmlChars.Clean(draft.Image.Credit) },
        PublishedAt = draft.PublishedAt?.ToStoredPrecision(),
        UpdatedAt = draft.UpdatedAt?.ToStoredPrecision(),
    };

    private async Task<Slug> FreeSlugAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, Slug slug, CancellationToken cancellationToken)
    {
        var candidate = slug;
        for (var n = 2; await store.SlugTakenAsync(connection, transaction, candidate, cancellationToken); n++) candidate = slug.WithSuffix(n);
        return candidate;
    }

    /// <summary>A fingerprint of what readers see; dates are left out so that re-stating the same date changes nothing.</summary>
    public static string ContentHash(Article article)
    {
        var text = string.Join("\u001f",
            article.Title, article.Summary, article.BodyHtml, article.Author.Name, string.Join(",", article.Tags),
            article.Image?.Url?.Value, article.Image?.Caption, article.Image?.Credit, article.CanonicalUrl.Value, article.CommentUrl?.Value);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

}
