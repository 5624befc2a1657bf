using System.Data.Common;
using Dapper;
using Syndicator.Shared;
using Syndicator.Storage;

namespace Syndicator.Articles;

/// <summary>Reads and writes authors and articles. Writes take the caller's transaction so an import is all or nothing.</summary>
public sealed class ArticleStore(Database database)
{
    private const string SelectArticles = """
        SELECT a.id, a.slug, a.title, a.summary, a.body_html AS BodyHtml, a.image_url AS ImageUrl, a.image_caption AS ImageCaption,
               a.image_credit AS ImageCredit, a.canonical_url AS CanonicalUrl, a.comment_url AS CommentUrl,
               a.published_at AS PublishedAt, a.updated_at AS UpdatedAt, a.content_hash AS ContentHash, a.source_name AS SourceName, a.warnings AS Warnings, a.unpublished_at AS UnpublishedAt,
               a.announce AS Announce, a.announce_at AS AnnounceAt, a.social_x AS SocialX, a.social_mastodon AS SocialMastodon,
               a.social_bluesky AS SocialBluesky, a.skip_accounts AS SkipAccounts,
               au.id AS AuthorId, au.name AS AuthorName, au.bio AS AuthorBio, au.x_handle AS XHandle,
               au.mastodon_handle AS MastodonHandle, au.bluesky_handle AS BlueskyHandle
        FROM articles a JOIN authors au ON au.id = a.author_id
        """;

    public async Task<IReadOnlyList<Article>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<ArticleRow>(new CommandDefinition(
            SelectArticles + " ORDER BY a.published_at DESC, a.id LIMIT @limit", new { limit }, cancellationToken: cancellationToken));
        return await WithTagsAsync(connection, null, rows.ToList(), cancellationToken);
    }

    public async Task<Article?> FindBySlugAsync(string slug, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await FindAsync(connection, null, "a.slug = @value", slug, cancellationToken);
    }

    public async Task<Article?> FindByIdAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await FindAsync(connection, null, "a.id = @value", id, cancellationToken);
    }

    /// <summary>The article that came from this source (a file name, <c>ghost:ID</c>, <c>pull:SOURCE:ENTRY</c>...).</summary>
    public async Task<Article?> FindBySourceNameAsync(string sourceName, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await FindAsync(connection, null, "a.source_name = @value", sourceName, cancellationToken);
    }

    public async Task<int> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM articles", cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Articles (with tags) selected by a caller's <c>WHERE ... ORDER BY ... LIMIT</c> over <c>articles a JOIN authors au</c>.
    /// Rows that are no longer valid articles go to <paramref name="unreadable"/> when it is given, so one bad row never hides the rest.
    /// </summary>
    internal async Task<IReadOnlyList<Article>> QueryAsync(DbConnection connection, string filter, object? parameters, CancellationToken cancellationToken,
        ICollection<UnreadableArticleException>? unreadable = null)
    {
        var rows = await connection.QueryAsync<ArticleRow>(new CommandDefinition(SelectArticles + " " + filter, parameters, cancellationToken: cancellationToken));
        return await WithTagsAsync(connection, null, rows.ToList(), cancellationToken, unreadable);
    }

    /// <summary>
    /// The articles an import batch may meet, each with the name of its source: those with one of these ids, slugs or
    /// source names, in one statement. A row that no longer reads as an article (see <see cref="ArticleRow.ToArticle"/>)
    /// still gives its identity, since it is read only to be replaced.
    /// </summary>
    internal async Task<IReadOnlyList<(Article Article, string? SourceName)>> FindForImportAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyCollection<string> ids, IReadOnlyCollection<string> slugs, IReadOnlyCollection<string> sourceNames, CancellationToken cancellationToken)
    {
        var parameters = new DynamicParameters();
        var dialect = database.Dialect;
        // One IN over a union, so that each part is looked up in its own index.
        var rows = (await connection.QueryAsync<ArticleRow>(new CommandDefinition($"""
            {SelectArticles}
            WHERE a.id IN (SELECT id FROM articles WHERE id IN {SqlList.InRows(parameters, "ids", ids, dialect)}
                           UNION SELECT id FROM articles WHERE slug IN {SqlList.InRows(parameters, "slugs", slugs, dialect)}
                           UNION SELECT id FROM articles WHERE source_name IN {SqlList.InRows(parameters, "sources", sourceNames, dialect)})
            """, parameters, transaction, cancellationToken: cancellationToken))).ToList();
        var articles = await WithTagsAsync(connection, transaction, rows, cancellationToken, forReplacement: true);
        return articles.Select((article, i) => (article, rows[i].SourceName)).ToList();
    }

    internal async Task<bool> SlugTakenAsync(DbConnection connection, DbTransaction transaction, string slug, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT COUNT(*) FROM articles WHERE slug = @slug", new { slug }, transaction, cancellationToken: cancellationToken)) > 0;

    /// <summary>The authors with these names, in one statement.</summary>
    internal async Task<IReadOnlyList<Author>> AuthorsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        var parameters = new DynamicParameters();
        var rows = await connection.QueryAsync<AuthorRow>(new CommandDefinition($"""
            SELECT id AS Id, name AS Name, bio AS Bio, x_handle AS XHandle, mastodon_handle AS MastodonHandle, bluesky_handle AS BlueskyHandle
            FROM authors WHERE name IN {SqlList.InRows(parameters, "names", names, database.Dialect)}
            """, parameters, transaction, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToAuthor()).ToList();
    }

    /// <summary>New authors, in one statement whose rows travel as one JSON parameter.</summary>
    internal async Task InsertAuthorsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<Author> authors, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (authors.Count == 0) return;
        var dialect = database.Dialect;
        await connection.ExecuteAsync(new CommandDefinition($"""
            INSERT INTO authors (id, name, bio, x_handle, mastodon_handle, bluesky_handle, created_at, updated_at)
            SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4, r.value ->> 5, {dialect.Timestamp("@now")}, {dialect.Timestamp("@now")}
            FROM {dialect.JsonRows("@rows", "r")}
            """, new { now = StoredTime.Text(now), rows = SqlList.Rows(authors.Select(a => new[] { a.Id, a.Name, a.Bio, a.Handles.X, a.Handles.Mastodon, a.Handles.Bluesky })) },
            transaction, cancellationToken: cancellationToken));
    }

    /// <summary>An author's bio and handles, as an import merged them.</summary>
    internal Task UpdateAuthorAsync(DbConnection connection, DbTransaction transaction, Author author, DateTimeOffset now, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("""
            UPDATE authors SET bio = @Bio, x_handle = @X, mastodon_handle = @Mastodon, bluesky_handle = @Bluesky, updated_at = @now
            WHERE id = @Id
            """, new { author.Id, author.Bio, author.Handles.X, author.Handles.Mastodon, author.Handles.Bluesky, now }, transaction, cancellationToken: cancellationToken));

    /// <summary>New articles and their tags, each table's rows in one write (COPY on PostgreSQL; see <see cref="SqlDialect.InsertRowsAsync"/>).</summary>
    internal async Task InsertAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<(Article Article, string SourceName, DateTimeOffset Now)> articles,
        CancellationToken cancellationToken)
    {
        if (articles.Count == 0) return;
        await database.Dialect.InsertRowsAsync(connection, transaction, ArticleRows, articles.Select(a => Row(a.Article, a.SourceName, a.Now)), cancellationToken);
        await SaveTagsAsync(connection, transaction, articles.Select(a => a.Article), cancellationToken);
    }

    private static readonly RowTable ArticleRows = new("articles",
    [
        new("id", ColumnType.Text), new("slug", ColumnType.Text), new("title", ColumnType.Text), new("summary", ColumnType.Text),
        new("body_html", ColumnType.Text), new("author_id", ColumnType.Text), new("image_url", ColumnType.Text), new("image_caption", ColumnType.Text),
        new("image_credit", ColumnType.Text), new("canonical_url", ColumnType.Text), new("comment_url", ColumnType.Text),
        new("published_at", ColumnType.Timestamp), new("updated_at", ColumnType.Timestamp), new("content_hash", ColumnType.Text),
        new("source_name", ColumnType.Text), new("warnings", ColumnType.Text), new("imported_at", ColumnType.Timestamp), new("created_at", ColumnType.Timestamp),
        new("announce", ColumnType.Boolean), new("announce_at", ColumnType.Timestamp), new("social_x", ColumnType.Text),
        new("social_mastodon", ColumnType.Text), new("social_bluesky", ColumnType.Text), new("skip_accounts", ColumnType.Text),
    ]);

    private static readonly RowTable TagRows = new("article_tags", [new("article_id", ColumnType.Text), new("tag", ColumnType.Text)]);

    private static object?[] Row(Article article, string sourceName, DateTimeOffset now) =>
    [
        article.Id, article.Slug.Value, article.Title, article.Summary, article.BodyHtml, article.Author.Id,
        article.Image?.Url?.Value, article.Image?.Caption, article.Image?.Credit, article.CanonicalUrl.Value, article.CommentUrl?.Value,
        article.PublishedAt, article.UpdatedAt, article.ContentHash, sourceName,
        article.Warnings.Count == 0 ? null : string.Join('\n', article.Warnings), now, now,
        article.Controls.Announce, article.Controls.AnnounceAt,
        article.Controls.Texts.X, article.Controls.Texts.Mastodon, article.Controls.Texts.Bluesky,
        article.Controls.SkipAccounts.Count == 0 ? null : string.Join('\n', article.Controls.SkipAccounts),
    ];

    internal async Task UpdateAsync(DbConnection connection, DbTransaction transaction, Article article, string sourceName, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE articles SET slug = @Slug, title = @Title, summary = @Summary, body_html = @BodyHtml, author_id = @AuthorId,
                   image_url = @ImageUrl, image_caption = @ImageCaption, image_credit = @ImageCredit, canonical_url = @CanonicalUrl,
                   comment_url = @CommentUrl, published_at = @PublishedAt, updated_at = @UpdatedAt, content_hash = @ContentHash,
                   source_name = @sourceName, warnings = @Warnings, imported_at = @now,
                   announce = @Announce, announce_at = @AnnounceAt, social_x = @SocialX, social_mastodon = @SocialMastodon,
                   social_bluesky = @SocialBluesky, skip_accounts = @SkipAccounts
            WHERE id = @Id
            """, Parameters(article, sourceName, now), transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM article_tags WHERE article_id = @Id", new { article.Id }, transaction, cancellationToken: cancellationToken));
        await SaveTagsAsync(connection, transaction, [article], cancellationToken);
    }

    /// <summary>Unpublishes the article (<paramref name="at"/>) or publishes it again (null); the caller's transaction tells the change handlers.</summary>
    internal Task SetUnpublishedAsync(DbConnection connection, DbTransaction transaction, string id, DateTimeOffset? at, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            "UPDATE articles SET unpublished_at = @at WHERE id = @id", new { id, at }, transaction, cancellationToken: cancellationToken));

    private static object Parameters(Article article, string sourceName, DateTimeOffset now) => new
    {
        article.Id, Slug = article.Slug.Value, article.Title, article.Summary, article.BodyHtml, AuthorId = article.Author.Id,
        ImageUrl = article.Image?.Url?.Value, ImageCaption = article.Image?.Caption, ImageCredit = article.Image?.Credit,
        CanonicalUrl = article.CanonicalUrl.Value, CommentUrl = article.CommentUrl?.Value, article.PublishedAt, article.UpdatedAt, article.ContentHash,
        sourceName, now, Warnings = article.Warnings.Count == 0 ? null : string.Join('\n', article.Warnings),
        article.Controls.Announce, article.Controls.AnnounceAt, SocialX = article.Controls.Texts.X, SocialMastodon = article.Controls.Texts.Mastodon,
        SocialBluesky = article.Controls.Texts.Bluesky, SkipAccounts = article.Controls.SkipAccounts.Count == 0 ? null : string.Join('\n', article.Controls.SkipAccounts),
    };

    /// <summary>The articles' tags, in one write.</summary>
    private Task SaveTagsAsync(DbConnection connection, DbTransaction transaction, IEnumerable<Article> articles, CancellationToken cancellationToken) =>
        database.Dialect.InsertRowsAsync(connection, transaction, TagRows,
            articles.SelectMany(article => article.Tags.Select(tag => new object?[] { article.Id, tag })), cancellationToken);

    private async Task<Article?> FindAsync(DbConnection connection, DbTransaction? transaction, string where, string value, CancellationToken cancellationToken)
    {
        var rows = (await connection.QueryAsync<ArticleRow>(new CommandDefinition(
            SelectArticles + " WHERE " + where, new { value }, transaction, cancellationToken: cancellationToken))).Take(1).ToList();
        return rows.Count == 0 ? null : (await WithTagsAsync(connection, transaction, rows, cancellationToken))[0];
    }

    /// <param name="unreadable">Where a row that cannot be read as an article goes, so the others are still returned; without it, such a row throws.</param>
    private async Task<IReadOnlyList<Article>> WithTagsAsync(
        DbConnection connection, DbTransaction? transaction, IReadOnlyList<ArticleRow> rows, CancellationToken cancellationToken, ICollection<UnreadableArticleException>? unreadable = null,
        bool forReplacement = false)
    {
        if (rows.Count == 0) return [];
        var tags = new Dictionary<string, List<string>>();
        // The ids as one JSON parameter: a feed build reads the articles of eight documents at once (up to 400), and
        // SQLite finds each named parameter by a linear search (400 parameters: 80,000 name comparisons per statement,
        // 7 % of a full build's samples), and every other count of ids was a statement and a Dapper reader of its own.
        var parameters = new DynamicParameters();
        var tagRows = await connection.QueryAsync<(string ArticleId, string Tag)>(new CommandDefinition(
            $"SELECT article_id, tag FROM article_tags WHERE {SqlList.KeyIn(parameters, "article_id", "ids", rows.Select(r => r.Id), database.Dialect)} ORDER BY tag",
            parameters, transaction, cancellationToken: cancellationToken));
        foreach (var (articleId, tag) in tagRows)
        {
            if (!tags.TryGetValue(articleId, out var list)) tags[articleId] = list = [];
            list.Add(tag);
        }
        var articles = new List<Article>(rows.Count);
        foreach (var row in rows)
        {
            try
            {
                articles.Add(row.ToArticle(tags.TryGetValue(row.Id, out var t) ? t : [], forReplacement));
            }
            catch (UnreadableArticleException e) when (unreadable is not null)
            {
                unreadable.Add(e);
            }
        }
        return articles;
    }

    private sealed record AuthorRow(string Id, string Name, string? Bio, string? XHandle, string? MastodonHandle, string? BlueskyHandle)
    {
        public Author ToAuthor() => new(Id, Name, Bio, new SocialHandles(XHandle, MastodonHandle, BlueskyHandle));
    }

    private sealed class ArticleRow
    {
        public string Id { get; init; } = "";
        public string Slug { get; init; } = "";
        public string Title { get; init; } = "";
        public string Summary { get; init; } = "";
        public string BodyHtml { get; init; } = "";
        public string? ImageUrl { get; init; }
        public string? ImageCaption { get; init; }
        public string? ImageCredit { get; init; }
        public string CanonicalUrl { get; init; } = "";
        public string? CommentUrl { get; init; }
        public DateTimeOffset PublishedAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
        public string ContentHash { get; init; } = "";
        public string? SourceName { get; init; }
        public string? Warnings { get; init; }
        public DateTimeOffset? UnpublishedAt { get; init; }
        public bool Announce { get; init; } = true;
        public DateTimeOffset? AnnounceAt { get; init; }
        public string? SocialX { get; init; }
        public string? SocialMastodon { get; init; }
        public string? SocialBluesky { get; init; }
        public string? SkipAccounts { get; init; }
        public string AuthorId { get; init; } = "";
        public string AuthorName { get; init; } = "";
        public string? AuthorBio { get; init; }
        public string? XHandle { get; init; }
        public string? MastodonHandle { get; init; }
        public string? BlueskyHandle { get; init; }

        /// <summary>A stand-in for a stored URL that no longer reads as one, used only while the import that fixes it replaces the row.</summary>
        private static readonly WebUrl Unreadable = WebUrl.Parse("https://unreadable.invalid/");

        public Article ToArticle(IReadOnlyList<string> tags, bool forReplacement = false) => new(
            Id, Shared.Slug.FromStore(Slug), Title, Summary, BodyHtml,
            new Author(AuthorId, AuthorName, AuthorBio, new SocialHandles(XHandle, MastodonHandle, BlueskyHandle)),
            tags,
            ImageUrl is null && ImageCaption is null && ImageCredit is null ? null : new ArticleImage(WebUrl.FromStore(ImageUrl), ImageCaption, ImageCredit),
            // Rows imported before URLs were checked may hold anything; such an article cannot be linked to, and says so.
            WebUrl.FromStore(CanonicalUrl) ?? (forReplacement ? Unreadable : throw new UnreadableArticleException(Id, Slug,
                $"Article {Id} ('{Slug}') has a stored URL that is not an http(s) URL ({CanonicalUrl}); import its file again to fix it.")),
            WebUrl.FromStore(CommentUrl), PublishedAt, UpdatedAt, ContentHash)
        {
            Warnings = Warnings is null ? [] : Warnings.Split('\n'),
            UnpublishedAt = UnpublishedAt,
            Controls = new AnnouncementControls(Announce, AnnounceAt, new SocialTexts(SocialX, SocialMastodon, SocialBluesky),
                SkipAccounts is null ? [] : SkipAccounts.Split('\n')),
        };
    }
}

/// <summary>A stored row that is no longer a valid article (written before the checks it now fails); says which and how to fix it.</summary>
public sealed class UnreadableArticleException(string id, string slug, string message) : Exception(message)
{
    public string Id { get; } = id;
    public string Slug { get; } = slug;
}
