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

/// <summary>An article as an import stored it (or found it unchanged).</summary>
public sealed record ImportedArticle(Article Article, ImportChange Change);

/// <summary>
/// What an import did to one article, without its text: a summary of thousands of files holds this much per article,
/// and <see cref="ArticleStore"/> has the rest.
/// </summary>
public sealed record ArticleOutcome(string Id, Slug Slug, string Title, string AuthorName, IReadOnlyList<string> Warnings, ImportChange Change)
{
    public static ArticleOutcome Of(ImportedArticle imported) =>
        new(imported.Article.Id, imported.Article.Slug, imported.Article.Title, imported.Article.Author.Name, imported.Article.Warnings, imported.Change);
}

/// <summary>What happened to one file: the articles it held, or why it was rejected and where it was set aside.</summary>
public sealed record FileImportResult(string Path, IReadOnlyList<ArticleOutcome> Articles, string? Rejection, string? RejectedTo)
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
    /// <summary>Files stored in one transaction: a commit costs a disk flush, so a batch pays one for many files.</summary>
    public const int FilesPerTransaction = 100;

    /// <summary>Imports one file. A bad file is reported, never thrown: the caller goes on with the next one.</summary>
    public async Task<FileImportResult> ImportFileAsync(string path, CancellationToken cancellationToken)
    {
        await foreach (var result in ImportFilesAsync([path], cancellationToken)) return result;
        throw new InvalidOperationException($"No result for {path}.");
    }

    /// <summary>
    /// Imports files in batches of <see cref="FilesPerTransaction"/>: each batch is read and parsed first, then stored
    /// on one connection in one transaction (see <see cref="ImportBatch"/>): a file that is refused is left out alone,
    /// recorded, and the batch goes on. A batch's results come once it is committed, so a caller that moves files away
    /// moves only what is stored. The next batch is read and parsed while one is stored (the store waits on its
    /// statements and commit, the parsing uses the other core), one batch ahead at most: whatever the number of files,
    /// two batches are in memory.
    /// </summary>
    public async IAsyncEnumerable<FileImportResult> ImportFilesAsync(IEnumerable<string> paths, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var ahead = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var batches = paths.Chunk(FilesPerTransaction).GetEnumerator();
        var next = batches.MoveNext() ? ReadBatchAsync(batches.Current, ahead.Token) : null;
        try
        {
            while (next is not null)
            {
                var read = await next;
                next = batches.MoveNext() ? ReadBatchAsync(batches.Current, ahead.Token) : null;
                var stored = await StoreAsync(read.Where(r => r.Drafts is not null).Select(r => (r.Path, r.Drafts!)).ToList(), cancellationToken);
                var index = 0;
                foreach (var (path, _, refused) in read)
                {
                    if (refused is not null) { yield return refused; continue; }
                    var (articles, rejection) = stored[index++];
                    yield return new FileImportResult(path, articles?.Select(ArticleOutcome.Of).ToList() ?? [], rejection?.Message, null);
                }
            }
        }
        finally
        {
            // A caller that stops early, or a batch that fails to store, leaves the batch read ahead unused: stopped
            // and awaited here, so no read outlives the import (its files are read again by the next import).
            if (next is not null)
            {
                await ahead.CancelAsync();
                try { await next; }
                catch (Exception e) when (e is OperationCanceledException || ahead.IsCancellationRequested) { }
            }
        }
    }

    /// <summary>A batch's files read, parsed and cleaned on every core (the CPU-bound part), in file order.</summary>
    private Task<(string Path, IReadOnlyList<ArticleDraft>? Drafts, FileImportResult? Refused)[]> ReadBatchAsync(string[] batch, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            var read = new (string Path, IReadOnlyList<ArticleDraft>? Drafts, FileImportResult? Refused)[batch.Length];
            Parallel.For(0, batch.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken },
                i => read[i] = Read(batch[i], cancellationToken));
            return read;
        }, cancellationToken);

    /// <summary>The file's drafts, cleaned, or its refusal: a file that cannot be read or parsed never reaches the store.</summary>
    private (string Path, IReadOnlyList<ArticleDraft>? Drafts, FileImportResult? Refused) Read(string path, CancellationToken cancellationToken)
    {
        try
        {
            return (path, reader.Read(path, cancellationToken).Select(Clean).ToList(), null);
        }
        catch (ArticleRejectedException e)
        {
            logger.LogWarning("Rejected {File}: {Reason}", path, e.Message);
            return (path, null, new FileImportResult(path, [], e.Message, null));
        }
        // NotSupportedException: a path the runtime cannot read as a file (some devices).
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            logger.LogWarning("Could not read {File}: {Reason}", path, e.Message);
            return (path, null, new FileImportResult(path, [], $"the file could not be read: {e.Message}", null));
        }
    }

    /// <summary>
    /// Stores the drafts of one file in a single transaction: all of the file's articles, or none.
    /// A slug another file's article holds is refused (<see cref="ArticleRejectedException"/>) unless the draft
    /// declares that article's id.
    /// </summary>
    public async Task<IReadOnlyList<ImportedArticle>> ImportDraftsAsync(IReadOnlyList<ArticleDraft> drafts, CancellationToken cancellationToken)
    {
        var (articles, rejection) = (await StoreAsync([(drafts.FirstOrDefault()?.SourceName ?? "", drafts.Select(Clean).ToList())], cancellationToken))[0];
        return articles ?? throw rejection!;
    }

    /// <summary>
    /// Files' drafts in one transaction, each file all or nothing: its articles, or the reason it was refused. Nothing
    /// of a refused file is written (see <see cref="ImportBatch"/>).
    /// </summary>
    private async Task<(IReadOnlyList<ImportedArticle>? Articles, ArticleRejectedException? Rejection)[]> StoreAsync(
        IReadOnlyList<(string Name, IReadOnlyList<ArticleDraft> Drafts)> files, CancellationToken cancellationToken)
    {
        var results = new (IReadOnlyList<ImportedArticle>?, ArticleRejectedException?)[files.Count];
        if (files.Count == 0) return results;
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var batch = await ImportBatch.BeginAsync(connection, transaction, store, files.SelectMany(f => f.Drafts).ToList(), cancellationToken);
        for (var i = 0; i < files.Count; i++)
        {
            var (name, drafts) = files[i];
            using var activity = Telemetry.Source.StartActivity("article import");
            activity?.SetTag(Telemetry.File, Path.GetFileName(name));
            batch.BeginFile();
            try
            {
                var imported = new List<ImportedArticle>(drafts.Count);
                foreach (var draft in drafts) imported.Add(await PlanAsync(batch, draft, cancellationToken));
                foreach (var article in imported)
                    foreach (var warning in article.Article.Warnings)
                        logger.LogWarning("{File}: {Warning}", name, warning);
                results[i] = (imported, null);
                activity?.SetTag(Telemetry.Articles, imported.Count);
            }
            catch (ArticleRejectedException e)
            {
                batch.Refuse();
                logger.LogWarning("Rejected {File}: {Reason}", name, e.Message);
                results[i] = (null, e);
                activity?.SetTag(Telemetry.Articles, 0);
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.Message);
            }
        }
        await batch.WriteAsync(changeHandlers, time.GetUtcNow().ToStoredPrecision(), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return results;
    }

    /// <summary>Decides what one draft does to the store (create, update, nothing), against the batch; throws <see cref="ArticleRejectedException"/> to refuse its file.</summary>
    private async Task<ImportedArticle> PlanAsync(ImportBatch batch, ArticleDraft draft, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToStoredPrecision();
        var author = batch.Author(draft.Author, now);

        // The file name identifies the article across edits of its title; an explicit slug across renames of the
        // file, but only of its own article: taking over another file's article needs that article's id.
        var byId = draft.DeclaredId is null ? null : batch.ById(draft.DeclaredId);
        var bySlug = draft.Slug is null ? null : batch.BySlug(draft.Slug);
        if (bySlug is { } owner && owner.Article.Id != byId?.Article.Id && owner.SourceName != draft.SourceName)
            throw new ArticleRejectedException(
                $"the slug '{draft.Slug}' belongs to \"{Shown.Value(owner.Article.Title)}\" imported from {owner.SourceName ?? "another source"} (id {owner.Article.Id}); " +
                $"give this article another slug, or, if this file replaces that one, add 'id: {owner.Article.Id}' to its front matter");
        var existing = byId ?? bySlug ?? batch.BySource(draft.SourceName);

        var slug = draft.Slug ?? existing?.Article.Slug ?? await FreeSlugAsync(batch, Slug.FromText(draft.Title), cancellationToken);

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
            batch.Insert(candidate, draft.SourceName, now);
            logger.LogInformation("Imported new article {ArticleId} {Slug} from {File}", candidate.Id, candidate.Slug, draft.SourceName);
            return new ImportedArticle(candidate, ImportChange.Created);
        }

        var old = existing.Article;
        if (old.ContentHash == candidate.ContentHash && old.Slug == candidate.Slug && old.PublishedAt == candidate.PublishedAt
            && old.CanonicalUrl == candidate.CanonicalUrl && old.Author == candidate.Author && old.Warnings.SequenceEqual(candidate.Warnings)
            && old.Controls == candidate.Controls)
            return new ImportedArticle(old, ImportChange.Unchanged);

        var updated = old.ContentHash == candidate.ContentHash
            ? candidate with { UpdatedAt = draft.UpdatedAt ?? old.UpdatedAt }
            : candidate with { UpdatedAt = draft.UpdatedAt ?? now };
        batch.Update(existing, updated, draft.SourceName, now);
        logger.LogInformation("Updated article {ArticleId} {Slug} from {File}", updated.Id, updated.Slug, draft.SourceName);
        return new ImportedArticle(updated, ImportChange.Updated);
    }

    /// <summary>
    /// Characters XML 1.0 forbids would break every feed and e-mail the article reaches, so they never enter the store,
    /// and the article carries a warning naming the fields they were taken from (an escape sequence in a title is
    /// more often a paste gone wrong than intent, and the publisher should see it was changed);
    /// times are cut to the store's precision so that what is written reads back equal.
    /// </summary>
    private static ArticleDraft Clean(ArticleDraft draft)
    {
        var removed = new List<(string Field, int Count)>();
        string Field(string name, string text)
        {
            var clean = XmlChars.Clean(text);
            if (!ReferenceEquals(clean, text)) removed.Add((name, text.Length - clean.Length));
            return clean;
        }
        string? Optional(string name, string? text) => text is null ? null : Field(name, text);

        var cleaned = draft with
        {
            Title = Field("title", draft.Title).Trim(),
            BodyHtml = Field("body", draft.BodyHtml),
            Summary = Optional("summary", draft.Summary),
            Author = draft.Author with { Name = Field("author's name", draft.Author.Name).Trim(), Bio = Optional("author's bio", draft.Author.Bio) },
            Tags = draft.Tags.Select(t => Field("tags", t)).ToList(),
            Image = draft.Image is null ? null : draft.Image with { Caption = Optional("image caption", draft.Image.Caption), Credit = Optional("image credit", draft.Image.Credit) },
            PublishedAt = draft.PublishedAt?.ToStoredPrecision(),
            UpdatedAt = draft.UpdatedAt?.ToStoredPrecision(),
        };
        return removed.Count == 0 ? cleaned : cleaned with
        {
            Warnings = [.. draft.Warnings, $"characters a feed cannot carry (control characters such as escape sequences, or half a surrogate pair) were removed from {string.Join(", ", removed.GroupBy(r => r.Field).Select(g => $"the {g.Key} ({g.Sum(r => r.Count)})"))}; remove them from the source to silence this warning"],
        };
    }

    private static async Task<Slug> FreeSlugAsync(ImportBatch batch, Slug slug, CancellationToken cancellationToken)
    {
        var candidate = slug;
        for (var n = 2; await batch.SlugTakenAsync(candidate, cancellationToken); n++) candidate = slug.WithSuffix(n);
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
