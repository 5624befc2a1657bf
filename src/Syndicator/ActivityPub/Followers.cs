using System.Data.Common;
using Dapper;
using Syndicator.Storage;

namespace Syndicator.ActivityPub;

public enum FollowState
{
    Accepted,
    /// <summary>Held for the publisher (ActivityPub:ApproveFollowers); gets nothing until accepted.</summary>
    Pending,
}

/// <summary>A remote account following one of ours. <see cref="DeliveryInbox"/> is where activities for it go.</summary>
public sealed record Follower(long Id, string Actor, string Remote, string Inbox, string? SharedInbox, string FollowActivity, FollowState State, DateTimeOffset CreatedAt)
{
    public string DeliveryInbox => SharedInbox ?? Inbox;
}

/// <summary>Likes, boosts and replies one article received.</summary>
public sealed record InteractionCounts(string ArticleId, int Likes, int Announces, int Replies);

/// <summary>Followers, the interactions our articles received, and the inbox's replay guard.</summary>
public sealed class FollowerStore(Database database, TimeProvider time)
{
    private const string Columns = """
        id AS Id, actor AS Actor, follower AS Remote, inbox AS Inbox, shared_inbox AS SharedInbox, follow_activity AS FollowActivity,
        state AS State, created_at AS CreatedAt
        """;

    /// <summary>Records (or renews) a follow; returns the row as it now stands.</summary>
    public async Task<Follower> AddAsync(DbConnection connection, DbTransaction transaction, string actor, RemoteActor remote, string followActivity, FollowState state, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // A repeated Follow (the remote server lost our Accept, or follows again) keeps the row and its state.
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO activitypub_followers (actor, follower, inbox, shared_inbox, follow_activity, state, created_at, updated_at)
            VALUES (@actor, @follower, @inbox, @shared, @followActivity, @state, @now, @now)
            ON CONFLICT (actor, follower) DO UPDATE SET inbox = excluded.inbox, shared_inbox = excluded.shared_inbox,
                follow_activity = excluded.follow_activity, updated_at = excluded.updated_at
            """, new { actor, follower = remote.Id, inbox = remote.Inbox, shared = remote.SharedInbox, followActivity, state = Column(state), now },
            transaction, cancellationToken: cancellationToken));
        return (await connection.QuerySingleAsync<Row>(new CommandDefinition($"SELECT {Columns} FROM activitypub_followers WHERE actor = @actor AND follower = @follower",
            new { actor, follower = remote.Id }, transaction, cancellationToken: cancellationToken))).ToFollower();
    }

    public async Task<Follower?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition($"SELECT {Columns} FROM activitypub_followers WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        return row?.ToFollower();
    }

    public async Task<IReadOnlyList<Follower>> ListAsync(string? actor, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM activitypub_followers WHERE (@actor IS NULL OR actor = @actor) ORDER BY actor, created_at, id",
            new { actor }, cancellationToken: cancellationToken))).Select(r => r.ToFollower()).ToList();
    }

    public async Task<int> CountAsync(string actor, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT COUNT(*) FROM activitypub_followers WHERE actor = @actor AND state = 'accepted'", new { actor }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Where an activity for these actors' followers goes: each accepted follower's server's shared inbox, else its own
    /// inbox, each once.
    /// </summary>
    public async Task<IReadOnlyList<string>> DeliveryInboxesAsync(DbConnection connection, DbTransaction? transaction, IReadOnlyCollection<string> actors, CancellationToken cancellationToken)
    {
        var parameters = new DynamicParameters();
        return (await connection.QueryAsync<string>(new CommandDefinition($"""
            SELECT DISTINCT COALESCE(shared_inbox, inbox) FROM activitypub_followers
            WHERE state = 'accepted' AND actor IN {SqlList.In(parameters, "actor", actors)}
            ORDER BY 1
            """, parameters, transaction, cancellationToken: cancellationToken))).ToList();
    }

    public async Task<bool> AcceptAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE activitypub_followers SET state = 'accepted', updated_at = @now WHERE id = @id AND state = 'pending'",
            new { id, now = time.GetUtcNow() }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>Removes one remote account's follow of one of our actors (an Undo, or by hand).</summary>
    public async Task<int> RemoveAsync(string actor, string remote, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM activitypub_followers WHERE actor = @actor AND follower = @remote", new { actor, remote }, cancellationToken: cancellationToken));
    }

    public async Task<int> RemoveAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("DELETE FROM activitypub_followers WHERE id = @id", new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>A remote account deleted itself: it follows nothing of ours any more.</summary>
    public async Task<int> RemoveEverywhereAsync(string remote, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("DELETE FROM activitypub_followers WHERE follower = @remote", new { remote }, cancellationToken: cancellationToken));
    }

    /// <summary>An inbox answered 410 Gone: every follower delivered through it is gone.</summary>
    public async Task<int> RemoveByInboxAsync(string inbox, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM activitypub_followers WHERE inbox = @inbox OR shared_inbox = @inbox", new { inbox }, cancellationToken: cancellationToken));
    }

    /// <summary>Counts a Like, Announce or reply once per remote activity. False when it was counted before.</summary>
    public async Task<bool> AddInteractionAsync(string activity, string articleId, string kind, string actor, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO activitypub_interactions (activity, article_id, kind, actor, created_at) VALUES (@activity, @articleId, @kind, @actor, @now)
            ON CONFLICT (activity) DO NOTHING
            """, new { activity, articleId, kind, actor, now = time.GetUtcNow() }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>An Undo of a Like or Announce: only the actor who made it can take it back.</summary>
    public async Task<int> RemoveInteractionAsync(string activity, string actor, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM activitypub_interactions WHERE activity = @activity AND actor = @actor", new { activity, actor }, cancellationToken: cancellationToken));
    }

    public async Task<InteractionCounts> CountInteractionsAsync(string articleId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<(string Kind, long Count)>(new CommandDefinition(
            "SELECT kind, COUNT(*) FROM activitypub_interactions WHERE article_id = @articleId GROUP BY kind", new { articleId }, cancellationToken: cancellationToken)))
            .ToDictionary(r => r.Kind, r => (int)r.Count);
        return new InteractionCounts(articleId, rows.GetValueOrDefault("like"), rows.GetValueOrDefault("announce"), rows.GetValueOrDefault("reply"));
    }

    /// <summary>
    /// Notes a signature as used; false when it was used before (a replay), on any node. Signatures older than the
    /// window are refused by their date, so their rows go.
    /// </summary>
    public async Task<bool> FirstUseAsync(string signatureHash, TimeSpan window, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM activitypub_seen_signatures WHERE seen_at < @cutoff",
            new { cutoff = now - window - window }, cancellationToken: cancellationToken));
        return await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO activitypub_seen_signatures (signature_hash, seen_at) VALUES (@signatureHash, @now) ON CONFLICT (signature_hash) DO NOTHING",
            new { signatureHash, now }, cancellationToken: cancellationToken)) == 1;
    }

    public static string Column(FollowState state) => state == FollowState.Accepted ? "accepted" : "pending";

    private sealed class Row
    {
        public long Id { get; init; }
        public string Actor { get; init; } = "";
        public string Remote { get; init; } = "";
        public string Inbox { get; init; } = "";
        public string? SharedInbox { get; init; }
        public string FollowActivity { get; init; } = "";
        public string State { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }

        public Follower ToFollower() => new(Id, Actor, Remote, Inbox, SharedInbox, FollowActivity,
            State == "pending" ? FollowState.Pending : FollowState.Accepted, CreatedAt);
    }
}
