using System.Data.Common;
using Dapper;
using Syndicator.Articles;
using Syndicator.Shared;
using Syndicator.Storage;

namespace Syndicator.Feeds;

public sealed record DirtyFeed
{
    public string Scope { get; init; } = "";
    public DateTimeOffset Since { get; init; }

    /// <summary>Counts the changes to the mark: a build clears it only if it is still the version the build read.</summary>
    public long Version { get; init; }
}

/// <summary>The first article of a recorded archive page (<c>feed_archive_pages</c>), and the page's number.</summary>
public sealed record PageStart(int Page, DateTimeOffset PublishedAt, string ArticleId);

/// <summary>
/// A dirty mark as a build reads it, with what the store recorded of its scope: the scope itself (null when its folder
/// is not given out yet, or its author is gone: <see cref="FeedStore.ResolveAsync"/> decides), the article count its
/// last build recorded (null: never built), and the start of the archive page the build reads the scope from (null:
/// from its first article). See <see cref="FeedStore.DirtyAsync"/>.
/// </summary>
public sealed record DirtyScope(DirtyFeed Mark, FeedScope? Scope, int? RecordedCount, PageStart? Start);

/// <summary>An article's place in a scope's order: (published_at, id); and when its entry says it was last updated.</summary>
public readonly record struct ScopeArticle(string Id, DateTimeOffset PublishedAt, DateTimeOffset Updated = default);

/// <summary>
/// The scope's articles in publication order from position <see cref="From"/> (the start of an archive page, or 0)
/// to the newest: what an incremental build reads instead of counting the whole scope.
/// </summary>
public sealed record ScopeTail(int From, IReadOnlyList<ScopeArticle> Articles)
{
    public int Count => From + Articles.Count;
}

/// <summary>
/// What a build read of a scope, recorded with its mark: the articles it holds (for <c>index.html</c> and the OPML
/// list) and the first article of each complete archive page from <paramref name="FirstPage"/> on (for the next
/// build's <see cref="FeedStore.TailAsync"/>).
/// </summary>
public sealed record ScopeRecord(FeedScope Scope, int Articles, int CompletePages, int FirstPage, IReadOnlyList<ScopeArticle> PageStarts);

/// <summary>How a scope's build failed: some articles were left out of documents that were written, or a document was not written at all.</summary>
public enum ScopeFailureKind
{
    ItemsLeftOut,
    NotWritten,
}

/// <summary>An article a build left out of a scope's feed, with the file it was imported from and why.</summary>
public sealed record LeftOutItem(string ArticleId, string Slug, string? SourceName, string Reason)
{
    public override string ToString() => $"{Slug} ({SourceName ?? "source unknown"}): {Reason}";
}

/// <summary>One scope's failed build: what <c>feed_build_failures</c> and <c>feed_items_left_out</c> hold for it.</summary>
public sealed record ScopeBuildFailure(string Scope, ScopeFailureKind Kind, string Error, IReadOnlyList<LeftOutItem> LeftOut)
{
    public override string ToString() => LeftOut.Count == 0 ? $"{Scope}: {Error}" : $"{Scope}: {Error}: {string.Join(", ", LeftOut)}";
}

/// <summary>A scope whose builds keep failing, as recorded across runs and nodes.</summary>
public sealed record FailingScope(string Scope, int ConsecutiveFailures, DateTimeOffset FirstFailedAt, DateTimeOffset LastFailedAt, ScopeFailureKind Kind, string LastError, IReadOnlyList<LeftOutItem> LeftOut);

/// <summary>The feed capability's SQL: which articles a scope holds, in what order, and which scopes need rebuilding.</summary>
public sealed class FeedStore(Database database, ArticleStore articles)
{
    /// <summary>Before any article could have been published: marking a scope dirty since then rebuilds all of it.</summary>
    public static readonly DateTimeOffset Beginning = new(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>An unpublished article is in no feed.</summary>
    private static string Where(FeedScope scope) => scope.Kind switch
    {
        FeedKind.Site => "WHERE a.unpublished_at IS NULL",
        FeedKind.Author => "WHERE a.author_id = @key AND a.unpublished_at IS NULL",
        _ => "WHERE a.id IN (SELECT article_id FROM article_tags WHERE tag = @key) AND a.unpublished_at IS NULL",
    };

    /// <summary>
    /// The articles of a scope, for reads that need only their place in the order and whether they are published. A
    /// tag's articles are looked up by id, which <c>ix_articles_feed_position</c> answers without reading the rows
    /// (their overflow pages, as these columns come after the body): 22 ms against 5 ms for a tag of 1,000 articles
    /// in a SQLite store of 100,000, where SQLite's planner, without statistics, chose the primary key's index.
    /// </summary>
    private string Positions(FeedScope scope) =>
        scope.Kind == FeedKind.Tag ? $"articles a {database.Dialect.UsingIndex("ix_articles_feed_position")} {Where(scope)}" : $"articles a {Where(scope)}";

    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);

    public Task<int> CountAsync(DbConnection connection, FeedScope scope, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<int>(new CommandDefinition(
            $"SELECT COUNT(*) FROM {Positions(scope)}", new { key = scope.Key }, cancellationToken: cancellationToken));

    public Task<int> CountBeforeAsync(DbConnection connection, FeedScope scope, DateTimeOffset since, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<int>(new CommandDefinition(
            $"SELECT COUNT(*) FROM {Positions(scope)} AND a.published_at < @since", new { key = scope.Key, since }, cancellationToken: cancellationToken));

    /// <summary>
    /// The scope's articles from <paramref name="start"/> (the recorded start of the archive page before the last one
    /// that begins before the scope's earliest change, see <see cref="DirtyAsync"/>) to the newest, or all of them
    /// when no such page is recorded. Every change since the scope's last build lies at or after its mark's since, so
    /// the recorded page still starts at that article, and nothing before it needs reading or counting.
    /// </summary>
    public async Task<ScopeTail> TailAsync(DbConnection connection, FeedScope scope, PageStart? start, int pageSize, CancellationToken cancellationToken)
    {
        if (start is not null)
        {
            var tail = await ArticlesFromAsync(connection, scope, start.PublishedAt, cancellationToken);
            // Articles published at the same instant as the page's first one but ordered before it belong to the page before.
            var at = tail.FindIndex(a => a.Id == start.ArticleId);
            if (at >= 0) return new ScopeTail((start.Page - 1) * pageSize, tail[at..]);
            // The recorded start is gone, which no change can do without an earlier mark: read the whole scope.
        }
        return new ScopeTail(0, await ArticlesFromAsync(connection, scope, null, cancellationToken));
    }

    private async Task<List<ScopeArticle>> ArticlesFromAsync(DbConnection connection, FeedScope scope, DateTimeOffset? from, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(string Id, DateTimeOffset PublishedAt, DateTimeOffset UpdatedAt)>(new CommandDefinition(
            $"SELECT a.id, a.published_at, a.updated_at FROM {Positions(scope)}{(from is null ? "" : " AND a.published_at >= @from")} ORDER BY a.published_at, a.id",
            new { key = scope.Key, from }, cancellationToken: cancellationToken)))
        .Select(r => new ScopeArticle(r.Id, r.PublishedAt, r.UpdatedAt > r.PublishedAt ? r.UpdatedAt : r.PublishedAt)).ToList();

    /// <summary>These articles (with tags), in no particular order; rows that no longer read as articles go to <paramref name="unreadable"/>.</summary>
    public Task<IReadOnlyList<Article>> ByIdsAsync(DbConnection connection, IReadOnlyCollection<string> ids, CancellationToken cancellationToken,
        ICollection<UnreadableArticleException> unreadable)
    {
        // One JSON parameter, not one per id: see ArticleStore.WithTagsAsync.
        var parameters = new DynamicParameters();
        return articles.QueryAsync(connection, $"WHERE {SqlList.KeyIn(parameters, "a.id", "ids", ids, database.Dialect)}", parameters, cancellationToken, unreadable);
    }

    /// <summary>Articles of the scope in publication order (oldest first), from position <paramref name="offset"/>.</summary>
    public Task<IReadOnlyList<Article>> OldestFirstAsync(DbConnection connection, FeedScope scope, int offset, int limit, CancellationToken cancellationToken,
        ICollection<UnreadableArticleException>? unreadable = null) =>
        articles.QueryAsync(connection, $"{Where(scope)} ORDER BY a.published_at, a.id LIMIT @limit OFFSET @offset",
            new { key = scope.Key, limit, offset }, cancellationToken, unreadable);

    public Task<IReadOnlyList<Article>> NewestAsync(DbConnection connection, FeedScope scope, int limit, CancellationToken cancellationToken,
        ICollection<UnreadableArticleException>? unreadable = null) =>
        articles.QueryAsync(connection, $"{Where(scope)} ORDER BY a.published_at DESC, a.id DESC LIMIT @limit",
            new { key = scope.Key, limit }, cancellationToken, unreadable);

    /// <summary>Every scope that has articles: the site, each author, each tag.</summary>
    public async Task<IReadOnlyList<(FeedScope Scope, int Count)>> ScopesAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var scopes = new List<(FeedScope, int)> { (FeedScope.Site, await CountAsync(connection, FeedScope.Site, cancellationToken)) };
        var authors = (await connection.QueryAsync<(string Id, string Name, int Count)>(new CommandDefinition(
            "SELECT au.id, au.name, COUNT(*) FROM authors au JOIN articles a ON a.author_id = au.id WHERE a.unpublished_at IS NULL GROUP BY au.id, au.name ORDER BY au.name, au.id",
            cancellationToken: cancellationToken))).ToList();
        var authorFolders = await FoldersAsync(connection, FeedKind.Author, authors.Select(a => (a.Id, a.Name)).ToList(), cancellationToken);
        scopes.AddRange(authors.Select(a => (new FeedScope(FeedKind.Author, a.Id, authorFolders[a.Id], a.Name), a.Count)));
        var tags = (await connection.QueryAsync<(string Tag, int Count)>(new CommandDefinition(
            "SELECT t.tag, COUNT(*) FROM article_tags t JOIN articles a ON a.id = t.article_id WHERE a.unpublished_at IS NULL GROUP BY t.tag ORDER BY t.tag", cancellationToken: cancellationToken))).ToList();
        var tagFolders = await FoldersAsync(connection, FeedKind.Tag, tags.Select(t => (t.Tag, t.Tag)).ToList(), cancellationToken);
        scopes.AddRange(tags.Select(t => (new FeedScope(FeedKind.Tag, t.Tag, tagFolders[t.Tag], t.Tag), t.Count)));
        return scopes;
    }

    /// <summary>
    /// <see cref="ScopesAsync"/> as the builds recorded them (<c>feed_scope_counts</c>), without counting: right for
    /// every scope once the dirty ones are built, as every change marks the scopes whose counts it moves.
    /// </summary>
    public async Task<IReadOnlyList<(FeedScope Scope, int Count)>> RecordedScopesAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var site = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT articles FROM feed_scope_counts WHERE kind = 'site' AND scope_key = ''", cancellationToken: cancellationToken));
        var scopes = new List<(FeedScope, int)> { (FeedScope.Site, site ?? 0) };
        var authors = (await connection.QueryAsync<(string Id, string Name, int Count)>(new CommandDefinition(
            "SELECT au.id, au.name, c.articles FROM feed_scope_counts c JOIN authors au ON au.id = c.scope_key WHERE c.kind = 'author' AND c.articles > 0 ORDER BY au.name, au.id",
            cancellationToken: cancellationToken))).ToList();
        var authorFolders = await FoldersAsync(connection, FeedKind.Author, authors.Select(a => (a.Id, a.Name)).ToList(), cancellationToken);
        scopes.AddRange(authors.Select(a => (new FeedScope(FeedKind.Author, a.Id, authorFolders[a.Id], a.Name), a.Count)));
        var tags = (await connection.QueryAsync<(string Tag, int Count)>(new CommandDefinition(
            "SELECT scope_key, articles FROM feed_scope_counts WHERE kind = 'tag' AND articles > 0 ORDER BY scope_key", cancellationToken: cancellationToken))).ToList();
        var tagFolders = await FoldersAsync(connection, FeedKind.Tag, tags.Select(t => (t.Tag, t.Tag)).ToList(), cancellationToken);
        scopes.AddRange(tags.Select(t => (new FeedScope(FeedKind.Tag, t.Tag, tagFolders[t.Tag], t.Tag), t.Count)));
        return scopes;
    }

    public async Task<FeedScope?> ResolveAsync(DbConnection connection, string scopeId, CancellationToken cancellationToken)
    {
        if (scopeId == FeedScope.Site.Id) return FeedScope.Site;
        if (scopeId.StartsWith("tag:", StringComparison.Ordinal))
        {
            var tag = scopeId[4..];
            return new FeedScope(FeedKind.Tag, tag, (await FoldersAsync(connection, FeedKind.Tag, [(tag, tag)], cancellationToken))[tag], tag);
        }
        var id = scopeId[7..];
        var name = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT name FROM authors WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        return name is null ? null : new FeedScope(FeedKind.Author, id, (await FoldersAsync(connection, FeedKind.Author, [(id, name)], cancellationToken))[id], name);
    }

    /// <summary>The feeds that hold <paramref name="article"/>: the site's, its author's, then each tag's in the article's order.</summary>
    public async Task<IReadOnlyList<FeedScope>> ScopesOfAsync(DbConnection connection, Article article, CancellationToken cancellationToken)
    {
        List<FeedScope> scopes = [FeedScope.Site];
        foreach (var id in article.Tags.Select(FeedScope.TagId).Prepend(FeedScope.AuthorId(article.Author)))
            if (await ResolveAsync(connection, id, cancellationToken) is { } scope) scopes.Add(scope);
        return scopes;
    }

    /// <summary>
    /// The folder of each author or tag: the one stored for it, or, the first time, its name as a slug ("C++" →
    /// <c>c-plus-plus</c>), with "-2", "-3"... when another name of the same kind holds that folder already. Stored,
    /// so the folder never changes with later names or rebuild order; the unique index makes two service nodes
    /// giving out the same folder at once impossible, and the loser tries again.
    /// </summary>
    private static async Task<IReadOnlyDictionary<string, Slug>> FoldersAsync(
        DbConnection connection, FeedKind kind, IReadOnlyList<(string Key, string Name)> scopes, CancellationToken cancellationToken)
    {
        var kindName = KindName(kind);
        if (scopes.Count is > 0 and <= 8)
        {
            // An incremental build resolves a few scopes: their own rows, not every folder of the kind.
            var parameters = new DynamicParameters(new { kindName });
            var own = (await connection.QueryAsync<(string Key, string Folder)>(new CommandDefinition(
                    $"SELECT scope_key, folder FROM feed_folders WHERE kind = @kindName AND scope_key IN {SqlList.In(parameters, "key", scopes.Select(s => s.Key).Distinct().ToList())}",
                    parameters, cancellationToken: cancellationToken)))
                .ToDictionary(r => r.Key, r => r.Folder, StringComparer.Ordinal);
            if (scopes.All(s => own.ContainsKey(s.Key))) return scopes.DistinctBy(s => s.Key).ToDictionary(s => s.Key, s => Slug.FromStore(own[s.Key]), StringComparer.Ordinal);
        }
        for (var attempt = 1; ; attempt++)
        {
            var stored = (await connection.QueryAsync<(string Key, string Folder)>(new CommandDefinition(
                    "SELECT scope_key, folder FROM feed_folders WHERE kind = @kindName", new { kindName }, cancellationToken: cancellationToken)))
                .ToDictionary(r => r.Key, r => r.Folder, StringComparer.Ordinal);
            var missing = scopes.Where(s => !stored.ContainsKey(s.Key)).DistinctBy(s => s.Key).ToList();
            if (missing.Count == 0) return scopes.DistinctBy(s => s.Key).ToDictionary(s => s.Key, s => Slug.FromStore(stored[s.Key]), StringComparer.Ordinal);

            var taken = stored.Values.ToHashSet(StringComparer.Ordinal);
            var added = new List<object>();
            foreach (var (key, name) in missing)
            {
                var stem = Slug.FromText(name, kindName);
                var folder = stem;
                for (var n = 2; !taken.Add(folder.Value); n++) folder = stem.WithSuffix(n);
                added.Add(new { kindName, key, folder = folder.Value });
            }
            try
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO feed_folders (kind, scope_key, folder) VALUES (@kindName, @key, @folder)", added, cancellationToken: cancellationToken));
            }
            catch (DbException) when (attempt < 5)
            {
                // Another node gave out one of these folders (or keys) meanwhile: read again and choose again.
            }
        }
    }

    /// <summary>
    /// The dirty marks, each with what a build needs of its scope, in one statement whatever their number: the scope's
    /// name and folder, the count its last build recorded (what <c>index.html</c> lists it with now), and the recorded
    /// start of the archive page before the last one that begins before the mark's since (one page earlier than
    /// needed: when a page completes, the builder rewrites the one before it too). On PostgreSQL each statement is a
    /// round trip; these were three plus two a scope.
    /// </summary>
    public async Task<IReadOnlyList<DirtyScope>> DirtyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        // Page starts are recorded for pages 1 to the last complete one, and start no later as the page number grows.
        var rows = await connection.QueryAsync<DirtyRow>(new CommandDefinition("""
            SELECT d.scope AS Scope, d.since AS Since, d.version AS Version, c.articles AS Articles, f.folder AS Folder, au.name AS AuthorName,
                   p.page AS StartPage, p.published_at AS StartPublishedAt, p.article_id AS StartArticleId
            FROM (SELECT scope, since, version,
                         CASE WHEN scope = 'site' THEN 'site' WHEN scope LIKE 'author:%' THEN 'author' ELSE 'tag' END AS kind,
                         CASE WHEN scope = 'site' THEN '' WHEN scope LIKE 'author:%' THEN substr(scope, 8) ELSE substr(scope, 5) END AS scope_key
                  FROM feed_dirty) d
            LEFT JOIN feed_scope_counts c ON c.kind = d.kind AND c.scope_key = d.scope_key
            LEFT JOIN feed_folders f ON f.kind = d.kind AND f.scope_key = d.scope_key
            LEFT JOIN authors au ON d.kind = 'author' AND au.id = d.scope_key
            LEFT JOIN feed_archive_pages p ON p.scope = d.scope AND p.page = (
                SELECT CASE WHEN MAX(q.page) > 1 THEN MAX(q.page) - 1 ELSE MAX(q.page) END
                FROM feed_archive_pages q WHERE q.scope = d.scope AND q.published_at < d.since)
            ORDER BY d.scope
            """, cancellationToken: cancellationToken));
        return rows.Select(r =>
        {
            var mark = new DirtyFeed { Scope = r.Scope, Since = r.Since, Version = r.Version };
            FeedScope? scope = r.Scope == FeedScope.Site.Id ? FeedScope.Site
                : r.Folder is null ? null
                : r.Scope.StartsWith("author:", StringComparison.Ordinal) ? r.AuthorName is null ? null : new FeedScope(FeedKind.Author, r.Scope[7..], Slug.FromStore(r.Folder), r.AuthorName)
                : new FeedScope(FeedKind.Tag, r.Scope[4..], Slug.FromStore(r.Folder), r.Scope[4..]);
            var start = r.StartPage is { } page && r.StartArticleId is { } id && r.StartPublishedAt is { } at && r.Since > Beginning ? new PageStart(page, at, id) : null;
            return new DirtyScope(mark, scope, r.Articles, start);
        }).ToList();
    }

    private sealed class DirtyRow
    {
        public string Scope { get; init; } = "";
        public DateTimeOffset Since { get; init; }
        public long Version { get; init; }
        public int? Articles { get; init; }
        public string? Folder { get; init; }
        public string? AuthorName { get; init; }
        public int? StartPage { get; init; }
        public DateTimeOffset? StartPublishedAt { get; init; }
        public string? StartArticleId { get; init; }
    }

    /// <summary>
    /// Scopes that built cleanly, in one transaction and one command (on PostgreSQL one round trip and the commit):
    /// what the build read of each recorded, each failure record ended, and the marks in <paramref name="clearMarks"/>
    /// cleared, each unless a change arrived meanwhile (then its version moved and the next build takes it). A build
    /// clears a mark only once <c>index.html</c> and <c>feeds.opml</c> list the scope's count, so a scope without a
    /// mark is always listed with its recorded count.
    /// </summary>
    public async Task RecordCleanAsync(IReadOnlyList<(DirtyFeed Mark, ScopeRecord? Read)> clean, IReadOnlyList<DirtyFeed> clearMarks, CancellationToken cancellationToken)
    {
        if (clean.Count == 0 && clearMarks.Count == 0) return;
        var sql = new System.Text.StringBuilder();
        var parameters = new DynamicParameters();
        if (clean.Count > 0)
        {
            var scopes = SqlList.InRows(parameters, "scopes", clean.Select(c => c.Mark.Scope), database.Dialect);
            sql.Append($"DELETE FROM feed_items_left_out WHERE scope IN {scopes};\n");
            sql.Append($"DELETE FROM feed_build_failures WHERE scope IN {scopes};\n");
            AppendRecord(sql, parameters, clean.Select(c => c.Read).OfType<ScopeRecord>().ToList());
        }
        if (clearMarks.Count > 0)
        {
            parameters.Add("marks", SqlList.Rows(clearMarks.Select(m => new[] { m.Scope, m.Version.ToString(System.Globalization.CultureInfo.InvariantCulture) })));
            sql.Append($"DELETE FROM feed_dirty WHERE (scope, version) IN (SELECT r.value ->> 0, CAST(r.value ->> 1 AS BIGINT) FROM {database.Dialect.JsonRows("@marks", "r")});\n");
        }
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql.ToString(), parameters, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The statements that record each scope's count and archive page starts as this build read them (<see cref="ScopeRecord"/>): three whatever the number of scopes.</summary>
    private void AppendRecord(System.Text.StringBuilder sql, DynamicParameters parameters, IReadOnlyList<ScopeRecord> reads)
    {
        if (reads.Count == 0) return;
        var dialect = database.Dialect;
        string Number(int n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        parameters.Add("counts", SqlList.Rows(reads.Select(r => new[] { KindName(r.Scope.Kind), r.Scope.Key, Number(r.Articles) })));
        sql.Append($"""
            INSERT INTO feed_scope_counts (kind, scope_key, articles)
            SELECT r.value ->> 0, r.value ->> 1, CAST(r.value ->> 2 AS INTEGER) FROM {dialect.JsonRows("@counts", "r")} WHERE 1 = 1
            ON CONFLICT (kind, scope_key) DO UPDATE SET articles = excluded.articles;

            """);
        parameters.Add("complete", SqlList.Rows(reads.Select(r => new[] { r.Scope.Id, Number(r.CompletePages) })));
        sql.Append($"""
            DELETE FROM feed_archive_pages
            WHERE (scope, page) IN (SELECT p.scope, p.page FROM {dialect.JsonRows("@complete", "r")}
                                    JOIN feed_archive_pages p ON p.scope = r.value ->> 0 AND p.page > CAST(r.value ->> 1 AS INTEGER));

            """);
        // A full build records thousands of pages for the site: all of them in one statement.
        var pages = reads.SelectMany(r => r.PageStarts.Select((start, i) => new[] { r.Scope.Id, Number(r.FirstPage + i), StoredTime.Text(start.PublishedAt), start.Id })).ToList();
        if (pages.Count == 0) return;
        parameters.Add("pages", SqlList.Rows(pages));
        sql.Append($"""
            INSERT INTO feed_archive_pages (scope, page, published_at, article_id)
            SELECT r.value ->> 0, CAST(r.value ->> 1 AS INTEGER), {dialect.Timestamp("r.value ->> 2")}, r.value ->> 3 FROM {dialect.JsonRows("@pages", "r")} WHERE 1 = 1
            ON CONFLICT (scope, page) DO UPDATE SET published_at = excluded.published_at, article_id = excluded.article_id;

            """);
    }

    private static string KindName(FeedKind kind) => kind switch
    {
        FeedKind.Site => "site",
        FeedKind.Author => "author",
        _ => "tag",
    };

    /// <summary>
    /// Marks each scope dirty from its time (an existing mark keeps the earlier of the two), in one statement whose rows
    /// travel as one JSON parameter. Every mark counts up the version, so a build that read the mark before this change
    /// leaves it for the next build (<see cref="RecordCleanAsync"/>).
    /// </summary>
    public static Task MarkAsync(DbConnection connection, DbTransaction? transaction, SqlDialect dialect, IReadOnlyDictionary<string, DateTimeOffset> since, CancellationToken cancellationToken) =>
        since.Count == 0 ? Task.CompletedTask : connection.ExecuteAsync(new CommandDefinition($"""
            INSERT INTO feed_dirty (scope, since)
            SELECT r.value ->> 0, {dialect.Timestamp("r.value ->> 1")} FROM {dialect.JsonRows("@rows", "r")} WHERE 1 = 1
            ON CONFLICT (scope) DO UPDATE SET since = CASE WHEN excluded.since < feed_dirty.since THEN excluded.since ELSE feed_dirty.since END,
                version = feed_dirty.version + 1
            """, new { rows = SqlList.Rows(since.Select(s => new[] { s.Key, StoredTime.Text(s.Value) })) }, transaction, cancellationToken: cancellationToken));

    /// <summary>The file each article was imported from (<c>articles.source_name</c>), for the warning that leaves it out.</summary>
    public async Task<IReadOnlyDictionary<string, string?>> SourceNamesAsync(DbConnection connection, IReadOnlyCollection<string> articleIds, CancellationToken cancellationToken)
    {
        if (articleIds.Count == 0) return new Dictionary<string, string?>();
        var parameters = new DynamicParameters();
        var rows = await connection.QueryAsync<(string Id, string? SourceName)>(new CommandDefinition(
            $"SELECT id, source_name FROM articles WHERE id IN {SqlList.In(parameters, "id", articleIds)}", parameters, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.Id, r => r.SourceName);
    }

    /// <summary>Counts one more failed build of the scope, replaces the list of what it left out, and records what the build read of it.</summary>
    public async Task RecordFailedBuildAsync(ScopeBuildFailure failure, ScopeRecord? read, DateTimeOffset now, CancellationToken cancellationToken)
    {
        now = now.ToStoredPrecision();
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO feed_build_failures (scope, consecutive_failures, first_failed_at, last_failed_at, kind, last_error)
            VALUES (@scope, 1, @now, @now, @kind, @error)
            ON CONFLICT (scope) DO UPDATE SET consecutive_failures = feed_build_failures.consecutive_failures + 1,
                last_failed_at = excluded.last_failed_at, kind = excluded.kind, last_error = excluded.last_error
            """, new { scope = failure.Scope, now, kind = failure.Kind.ToColumn(), error = failure.Error }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM feed_items_left_out WHERE scope = @scope", new { scope = failure.Scope }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO feed_items_left_out (scope, article_id, slug, source_name, reason, left_out_at)
            VALUES (@scope, @ArticleId, @Slug, @SourceName, @Reason, @now)
            """, failure.LeftOut.Select(i => new { scope = failure.Scope, i.ArticleId, i.Slug, i.SourceName, i.Reason, now }), transaction, cancellationToken: cancellationToken));
        if (read is not null)
        {
            var sql = new System.Text.StringBuilder();
            var parameters = new DynamicParameters();
            AppendRecord(sql, parameters, [read]);
            await connection.ExecuteAsync(new CommandDefinition(sql.ToString(), parameters, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Scopes whose latest build failed, most failures in a row first, each with the articles it left out.</summary>
    public async Task<IReadOnlyList<FailingScope>> FailingScopesAsync(int minimumConsecutive, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var scopes = (await connection.QueryAsync<FailureRow>(new CommandDefinition("""
            SELECT scope AS Scope, consecutive_failures AS Consecutive, first_failed_at AS FirstFailedAt, last_failed_at AS LastFailedAt,
                   kind AS Kind, last_error AS LastError
            FROM feed_build_failures
            WHERE consecutive_failures >= @minimumConsecutive ORDER BY consecutive_failures DESC, scope
            """, new { minimumConsecutive }, cancellationToken: cancellationToken))).ToList();
        if (scopes.Count == 0) return [];
        var parameters = new DynamicParameters();
        var items = (await connection.QueryAsync<(string Scope, string ArticleId, string Slug, string? SourceName, string Reason)>(new CommandDefinition(
            $"SELECT scope, article_id, slug, source_name, reason FROM feed_items_left_out WHERE scope IN {SqlList.In(parameters, "scope", scopes.Select(s => s.Scope).ToList())} ORDER BY scope, slug",
            parameters, cancellationToken: cancellationToken))).ToLookup(i => i.Scope);
        return scopes.Select(s => new FailingScope(s.Scope, s.Consecutive, s.FirstFailedAt, s.LastFailedAt, FeedFailureColumns.KindFromColumn(s.Kind), s.LastError,
            items[s.Scope].Select(i => new LeftOutItem(i.ArticleId, i.Slug, i.SourceName, i.Reason)).ToList())).ToList();
    }

    private sealed class FailureRow
    {
        public string Scope { get; init; } = "";
        public int Consecutive { get; init; }
        public DateTimeOffset FirstFailedAt { get; init; }
        public DateTimeOffset LastFailedAt { get; init; }
        public string Kind { get; init; } = "";
        public string LastError { get; init; } = "";
    }

    public async Task MarkAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var scopes = await ScopesAsync(connection, cancellationToken);
        await MarkAsync(connection, null, database.Dialect, scopes.ToDictionary(s => s.Scope.Id, _ => Beginning, StringComparer.Ordinal), cancellationToken);
    }
}

/// <summary>The record of failed feed builds (migration 0010), counted across runs and nodes until a clean build of the scope.</summary>
public static class FeedFailureColumns
{
    public static string ToColumn(this ScopeFailureKind kind) => kind == ScopeFailureKind.NotWritten ? "not-written" : "items-left-out";

    public static ScopeFailureKind KindFromColumn(string value) => value == "not-written" ? ScopeFailureKind.NotWritten : ScopeFailureKind.ItemsLeftOut;
}

/// <summary>Marks the feeds an article change touches: the site, its author and tags, before and after the change.</summary>
public sealed class FeedInvalidation(Database database) : IArticleChangeHandler
{
    public Task OnArticleChangedAsync(DbConnection connection, DbTransaction transaction, Article? before, Article after, CancellationToken cancellationToken) =>
        OnArticlesChangedAsync(connection, transaction, [new ArticleChange(before, after)], cancellationToken);

    /// <summary>Every scope the batch touches once, from the earliest publication time among its changes, in one statement.</summary>
    public Task OnArticlesChangedAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<ArticleChange> changes, CancellationToken cancellationToken)
    {
        var marks = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var (before, after) in changes)
        {
            var scopes = new List<string> { FeedScope.Site.Id, FeedScope.AuthorId(after.Author) };
            scopes.AddRange(after.Tags.Select(FeedScope.TagId));
            var since = after.PublishedAt;
            if (before is not null)
            {
                scopes.Add(FeedScope.AuthorId(before.Author));
                scopes.AddRange(before.Tags.Select(FeedScope.TagId));
                if (before.PublishedAt < since) since = before.PublishedAt;
            }
            foreach (var scope in scopes)
                marks[scope] = marks.TryGetValue(scope, out var marked) && marked < since ? marked : since;
        }
        return FeedStore.MarkAsync(connection, transaction, database.Dialect, marks, cancellationToken);
    }
}
