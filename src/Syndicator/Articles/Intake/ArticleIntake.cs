using Dapper;
using Microsoft.Extensions.Logging;
using Syndicator.Articles.Import;
using Syndicator.Scheduling;
using Syndicator.Storage;

namespace Syndicator.Articles.Intake;

/// <summary>Who sent an article over HTTP: an API key, Ghost, or a pull source. Shown in the article's history.</summary>
public sealed record IntakeActor(string Kind, string Name)
{
    public static IntakeActor ApiKey(string name) => new("api key", name);
    public static readonly IntakeActor Ghost = new("ghost", "webhook");
    public static IntakeActor Source(string name) => new("source", name);

    public override string ToString() => $"{Kind} '{Name}'";
}

/// <summary>One line of an article's history: what an intake did, who sent it, and when.</summary>
public sealed record HistoryEntry(DateTimeOffset At, string Action, string Actor, string? Detail);

/// <summary>An article an intake refused: when, by whom it was sent, under which slug if it had one, and why.</summary>
public sealed record IntakeRefusal(DateTimeOffset At, string? Slug, string Actor, string Problem);

/// <summary>What an intake did: <c>created</c>, <c>updated</c>, <c>unchanged</c>, <c>republished</c> or <c>unpublished</c>.</summary>
public sealed record IntakeResult(Article Article, string Action);

/// <summary>
/// What every HTTP intake (API, Ghost, pulls) does once it has a text: parse it with the file parsers
/// (<see cref="ArticleFileReader.Parse"/>), store it with <see cref="ArticleImporter"/>, unpublish or publish again,
/// and write the article's history. There is no other way in, so an article from a CMS gets every check a file gets.
/// </summary>
public sealed class ArticleIntake(
    Database database,
    ArticleStore store,
    ArticleImporter importer,
    ArticleFileReader reader,
    IEnumerable<IArticleChangeHandler> changeHandlers,
    JobTrigger jobs,
    TimeProvider time,
    ILogger<ArticleIntake> logger)
{
    /// <summary>Drafts from a text in a file format (<c>.json</c>, <c>.md</c>, <c>.txt</c>); throws <see cref="ArticleRejectedException"/>.</summary>
    public IReadOnlyList<ArticleDraft> Parse(string text, string sourceName, string extension) => reader.Parse(text, sourceName, extension);

    /// <summary>Stores the draft (new, edited or unchanged), publishes it again if it was unpublished, and records who sent it.</summary>
    /// <param name="bodyHash">The SHA-256 of what was sent, kept in the history so the same body again is recognised.</param>
    public async Task<IntakeResult> PublishAsync(ArticleDraft draft, IntakeActor actor, string bodyHash, CancellationToken cancellationToken)
    {
        var imported = (await importer.ImportDraftsAsync([draft], cancellationToken))[0];
        var article = imported.Article;
        var action = imported.Change.ToString().ToLowerInvariant();
        if (article.Unpublished)
        {
            article = await SetUnpublishedAsync(article, null, cancellationToken);
            action = "republished";
        }
        await RecordAsync(article.Id, article.Slug, action, actor, article.Warnings.Count == 0 ? null : string.Join("; ", article.Warnings), bodyHash, cancellationToken);
        logger.LogInformation("{Actor}: {Action} article {ArticleId} {Slug}", actor, action, article.Id, article.Slug);
        if (action != "unchanged") await jobs.FireNowAsync(JobCatalog.FeedBuild, cancellationToken);
        return new IntakeResult(article, action);
    }

    /// <summary>
    /// Takes the article out of every feed; announcements and digests not yet sent never go out (their channels refuse an
    /// unpublished article). Deliveries already made stay recorded. Unpublishing twice changes nothing.
    /// </summary>
    public async Task<IntakeResult> UnpublishAsync(Article article, IntakeActor actor, CancellationToken cancellationToken)
    {
        if (article.Unpublished) return new IntakeResult(article, "unchanged");
        var after = await SetUnpublishedAsync(article, time.GetUtcNow().ToStoredPrecision(), cancellationToken);
        await RecordAsync(article.Id, article.Slug, "unpublished", actor, null, null, cancellationToken);
        logger.LogInformation("{Actor}: unpublished article {ArticleId} {Slug}", actor, article.Id, article.Slug);
        await jobs.FireNowAsync(JobCatalog.FeedBuild, cancellationToken);
        return new IntakeResult(after, "unpublished");
    }

    /// <summary>A refused article, kept in the history (by slug when it had one) so the publisher can see it besides the sender's answer.</summary>
    public async Task RecordRefusalAsync(string? slug, IntakeActor actor, string problem, CancellationToken cancellationToken)
    {
        logger.LogWarning("{Actor}: refused an article{Slug}: {Problem}", actor, slug is null ? "" : $" ('{slug}')", problem);
        await RecordAsync(null, slug, "refused", actor, problem, null, cancellationToken);
    }

    public async Task<IReadOnlyList<HistoryEntry>> HistoryAsync(string articleId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<HistoryRow>(new CommandDefinition(
            "SELECT at AS At, action AS Action, actor AS Actor, detail AS Detail FROM article_history WHERE article_id = @articleId ORDER BY id",
            new { articleId }, cancellationToken: cancellationToken))).Select(r => new HistoryEntry(r.At, r.Action, r.Actor, r.Detail)).ToList();
    }

    /// <summary>The newest refusals, for the dashboard: the sender had its answer, and the publisher sees them here.</summary>
    public async Task<IReadOnlyList<IntakeRefusal>> RecentRefusalsAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<HistoryRow>(new CommandDefinition(
            "SELECT at AS At, slug AS Slug, action AS Action, actor AS Actor, detail AS Detail FROM article_history WHERE action = 'refused' ORDER BY id DESC LIMIT @limit",
            new { limit }, cancellationToken: cancellationToken))).Select(r => new IntakeRefusal(r.At, r.Slug, r.Actor, r.Detail ?? "")).ToList();
    }

    /// <summary>The hash of the last body accepted for the article, to tell the same body sent again from a different one.</summary>
    public async Task<string?> LastBodyHashAsync(string articleId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT body_hash FROM article_history WHERE article_id = @articleId AND body_hash IS NOT NULL ORDER BY id DESC LIMIT 1",
            new { articleId }, cancellationToken: cancellationToken));
    }

    public Task<Article?> FindAsync(string slug, CancellationToken cancellationToken) => store.FindBySlugAsync(slug, cancellationToken);

    /// <summary>Sets or clears the unpublished mark and tells every change handler (feeds to rebuild), in one transaction.</summary>
    private async Task<Article> SetUnpublishedAsync(Article article, DateTimeOffset? at, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await store.SetUnpublishedAsync(connection, transaction, article.Id, at, cancellationToken);
        var after = article with { UnpublishedAt = at };
        foreach (var handler in changeHandlers) await handler.OnArticleChangedAsync(connection, transaction, article, after, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return after;
    }

    private async Task RecordAsync(string? articleId, string? slug, string action, IntakeActor actor, string? detail, string? bodyHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO article_history (article_id, slug, at, action, actor, detail, body_hash)
            VALUES (@articleId, @slug, @at, @action, @actor, @detail, @bodyHash)
            """, new { articleId, slug, at = time.GetUtcNow().ToStoredPrecision(), action, actor = actor.ToString(), detail, bodyHash }, cancellationToken: cancellationToken));
    }

    private sealed class HistoryRow
    {
        public DateTimeOffset At { get; init; }
        public string? Slug { get; init; }
        public string Action { get; init; } = "";
        public string Actor { get; init; } = "";
        public string? Detail { get; init; }
    }
}
