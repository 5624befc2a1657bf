using System.Data.Common;
using Dapper;
using Syndicator.Storage;

namespace Syndicator.ActivityPub;

/// <summary>
/// Which object in the fediverse an article is now. Round 1 is its first publication; each time it is published again
/// after an unpublish it is a new object (round 2, 3, ...), because the Delete that went out with the unpublish made the
/// followers' servers drop the old id for good: Mastodon keeps a tombstone and ignores any later Create of it.
/// </summary>
public sealed class ArticleRounds(Database database)
{
    public async Task<int> CurrentAsync(DbConnection connection, DbTransaction? transaction, string articleId, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT round FROM activitypub_article_rounds WHERE article_id = @articleId", new { articleId }, transaction, cancellationToken: cancellationToken)) ?? 1;

    public async Task<int> CurrentAsync(string articleId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await CurrentAsync(connection, null, articleId, cancellationToken);
    }

    /// <summary>The current round of each article; those not listed are in round 1.</summary>
    public async Task<IReadOnlyDictionary<string, int>> CurrentAsync(DbConnection connection, IReadOnlyCollection<string> articleIds, CancellationToken cancellationToken)
    {
        if (articleIds.Count == 0) return new Dictionary<string, int>();
        var parameters = new DynamicParameters();
        var rows = await connection.QueryAsync<(string ArticleId, long Round)>(new CommandDefinition(
            $"SELECT article_id, round FROM activitypub_article_rounds WHERE article_id IN {SqlList.In(parameters, "id", articleIds)}",
            parameters, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.ArticleId, r => (int)r.Round, StringComparer.Ordinal);
    }

    /// <summary>Starts the article's next round, in the transaction that publishes it again; returns the new round.</summary>
    public async Task<int> NextAsync(DbConnection connection, DbTransaction transaction, string articleId, CancellationToken cancellationToken) =>
        (int)await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
            INSERT INTO activitypub_article_rounds (article_id, round) VALUES (@articleId, 2)
            ON CONFLICT (article_id) DO UPDATE SET round = activitypub_article_rounds.round + 1
            RETURNING round
            """, new { articleId }, transaction, cancellationToken: cancellationToken));
}
