using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace Syndicator.Benchmarks;

/// <summary>Bulk-loads a <see cref="Corpus"/> straight into a migrated, empty database, in the column formats the importer writes.</summary>
public static class Loaders
{
    public sealed record LoadCounts(int Authors, int Articles, int ArticleTags);

    public static async Task<LoadCounts> SqliteAsync(string connectionString, Corpus corpus, CancellationToken ct)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString) { Pooling = false };
        await using var connection = new SqliteConnection(builder.ConnectionString);
        await connection.OpenAsync(ct);
        await Exec(connection, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;", ct);

        await using (var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct))
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = """
                INSERT INTO authors (id, name, bio, x_handle, mastodon_handle, bluesky_handle, created_at, updated_at)
                VALUES ($id, $name, $bio, $x, $mastodon, $bluesky, $created, $created)
                """;
            var p = Params(insert, "$id", "$name", "$bio", "$x", "$mastodon", "$bluesky", "$created");
            insert.Prepare();
            foreach (var a in corpus.Authors)
            {
                Set(p, a.Id, a.Name, a.Bio, a.X, a.Mastodon, a.Bluesky, Corpus.Format(a.CreatedAt));
                await insert.ExecuteNonQueryAsync(ct);
            }
            await tx.CommitAsync(ct);
        }

        // Migration 0003 added articles.created_at (first import time), which the importer fills; so does the loader, when it exists.
        bool createdAt;
        await using (var probe = connection.CreateCommand())
        {
            probe.CommandText = "SELECT COUNT(*) FROM pragma_table_info('articles') WHERE name = 'created_at'";
            createdAt = Convert.ToInt64(await probe.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) > 0;
        }

        var articles = 0;
        var tags = 0;
        const int batch = 10_000;
        SqliteTransaction? transaction = null;
        SqliteCommand? article = null, tag = null;
        SqliteParameter[] ap = [], tp = [];
        try
        {
            foreach (var a in corpus.Articles())
            {
                if (transaction is null)
                {
                    transaction = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
                    article = connection.CreateCommand();
                    article.Transaction = transaction;
                    article.CommandText = $"""
                        INSERT INTO articles (id, slug, title, summary, body_html, author_id, image_url, image_caption, image_credit,
                                              canonical_url, comment_url, published_at, updated_at, content_hash, source_name, imported_at{(createdAt ? ", created_at" : "")})
                        VALUES ($id, $slug, $title, $summary, $body, $author, $image, $caption, $credit, $canonical, $comments,
                                $published, $updated, $hash, $source, $imported{(createdAt ? ", $imported" : "")})
                        """;
                    ap = Params(article, "$id", "$slug", "$title", "$summary", "$body", "$author", "$image", "$caption", "$credit",
                        "$canonical", "$comments", "$published", "$updated", "$hash", "$source", "$imported");
                    article.Prepare();
                    tag = connection.CreateCommand();
                    tag.Transaction = transaction;
                    tag.CommandText = "INSERT INTO article_tags (article_id, tag) VALUES ($id, $tag)";
                    tp = Params(tag, "$id", "$tag");
                    tag.Prepare();
                }

                Set(ap, a.Id, a.Slug, a.Title, a.Summary, a.BodyHtml, a.AuthorId, a.ImageUrl, a.ImageCaption, a.ImageCredit,
                    a.CanonicalUrl, a.CommentUrl, Corpus.Format(a.PublishedAt), Corpus.Format(a.UpdatedAt), a.ContentHash, a.SourceName,
                    Corpus.Format(a.ImportedAt));
                await article!.ExecuteNonQueryAsync(ct);
                foreach (var t in a.Tags)
                {
                    Set(tp, a.Id, t);
                    await tag!.ExecuteNonQueryAsync(ct);
                    tags++;
                }

                if (++articles % batch == 0)
                {
                    await transaction.CommitAsync(ct);
                    await DisposeAll(transaction, article, tag);
                    transaction = null;
                    article = tag = null;
                    Bench.Log($"  loaded {articles:N0} articles");
                }
            }
            if (transaction is not null) await transaction.CommitAsync(ct);
        }
        finally
        {
            await DisposeAll(transaction, article, tag);
        }

        await Exec(connection, "PRAGMA wal_checkpoint(TRUNCATE);", ct);
        return new LoadCounts(corpus.Authors.Count, articles, tags);
    }

    public static async Task<LoadCounts> PostgresAsync(string connectionString, Corpus corpus, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);

        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY authors (id, name, bio, x_handle, mastodon_handle, bluesky_handle, created_at, updated_at) FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var a in corpus.Authors)
            {
                await copy.StartRowAsync(ct);
                await Text(copy, a.Id, ct);
                await Text(copy, a.Name, ct);
                await Text(copy, a.Bio, ct);
                await Text(copy, a.X, ct);
                await Text(copy, a.Mastodon, ct);
                await Text(copy, a.Bluesky, ct);
                await copy.WriteAsync(a.CreatedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await copy.WriteAsync(a.CreatedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            }
            await copy.CompleteAsync(ct);
        }

        bool createdAt;
        await using (var probe = new NpgsqlCommand(
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'articles' AND column_name = 'created_at'", connection))
            createdAt = (long)(await probe.ExecuteScalarAsync(ct))! > 0;

        // article_tags references articles, so its COPY follows the articles' commit; the pairs are small enough to keep.
        var articleTags = new List<(string Id, string Tag)>();
        var articles = 0;
        await using (var copy = await connection.BeginBinaryImportAsync($"""
            COPY articles (id, slug, title, summary, body_html, author_id, image_url, image_caption, image_credit,
                           canonical_url, comment_url, published_at, updated_at, content_hash, source_name, imported_at{(createdAt ? ", created_at" : "")}) FROM STDIN (FORMAT BINARY)
            """, ct))
        {
            foreach (var a in corpus.Articles())
            {
                await copy.StartRowAsync(ct);
                await Text(copy, a.Id, ct);
                await Text(copy, a.Slug, ct);
                await Text(copy, a.Title, ct);
                await Text(copy, a.Summary, ct);
                await Text(copy, a.BodyHtml, ct);
                await Text(copy, a.AuthorId, ct);
                await Text(copy, a.ImageUrl, ct);
                await Text(copy, a.ImageCaption, ct);
                await Text(copy, a.ImageCredit, ct);
                await Text(copy, a.CanonicalUrl, ct);
                await Text(copy, a.CommentUrl, ct);
                await copy.WriteAsync(a.PublishedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await copy.WriteAsync(a.UpdatedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await Text(copy, a.ContentHash, ct);
                await Text(copy, a.SourceName, ct);
                await copy.WriteAsync(a.ImportedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                if (createdAt) await copy.WriteAsync(a.ImportedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                foreach (var t in a.Tags) articleTags.Add((a.Id, t));
                if (++articles % 20_000 == 0) Bench.Log($"  copied {articles:N0} articles");
            }
            await copy.CompleteAsync(ct);
        }

        await using (var copy = await connection.BeginBinaryImportAsync("COPY article_tags (article_id, tag) FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var (id, tag) in articleTags)
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(id, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(tag, NpgsqlDbType.Text, ct);
            }
            await copy.CompleteAsync(ct);
        }

        // A running server's autovacuum would have analyzed these tables soon after such an import; do it now so plans are steady.
        await using (var vacuum = new NpgsqlCommand("VACUUM ANALYZE authors, articles, article_tags", connection))
        {
            vacuum.CommandTimeout = 0;
            await vacuum.ExecuteNonQueryAsync(ct);
        }
        return new LoadCounts(corpus.Authors.Count, articles, articleTags.Count);
    }

    private static async Task Text(NpgsqlBinaryImporter copy, string? value, CancellationToken ct)
    {
        if (value is null) await copy.WriteNullAsync(ct);
        else await copy.WriteAsync(value, NpgsqlDbType.Text, ct);
    }

    private static SqliteParameter[] Params(SqliteCommand command, params string[] names) =>
        names.Select(n => command.Parameters.Add(n, SqliteType.Text)).ToArray();

    private static void Set(SqliteParameter[] parameters, params string?[] values)
    {
        for (var i = 0; i < values.Length; i++) parameters[i].Value = (object?)values[i] ?? DBNull.Value;
    }

    private static async Task Exec(SqliteConnection connection, string sql, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task DisposeAll(params IAsyncDisposable?[] items)
    {
        foreach (var item in items) if (item is not null) await item.DisposeAsync();
    }
}
