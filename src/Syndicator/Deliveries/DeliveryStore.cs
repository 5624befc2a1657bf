using System.Data.Common;
using Dapper;
using Syndicator.Storage;

namespace Syndicator.Deliveries;

/// <summary>
/// The outbox. Retry state lives on the row (attempts, last error, next attempt), never in memory, so a restart
/// or another node picks up exactly where the last one left off.
/// </summary>
public sealed class DeliveryStore(Database database, TimeProvider time)
{
    private const string Columns = """
        id AS Id, channel AS Channel, subject_kind AS SubjectKind, subject_id AS SubjectId, recipient AS Recipient,
        state AS State, attempts AS Attempts, next_attempt_at AS NextAttemptAt, last_error AS LastError,
        remote_id AS RemoteId, remote_url AS RemoteUrl, claimed_by AS ClaimedBy, lease_expires_at AS LeaseExpiresAt,
        created_at AS CreatedAt, updated_at AS UpdatedAt, sent_at AS SentAt, handed_over_at AS HandedOverAt
        """;

    /// <summary>Creates the delivery unless one exists for the same channel, subject and recipient. True when it was created.</summary>
    public async Task<bool> EnsureAsync(string channel, string subjectKind, string subjectId, string recipient, DateTimeOffset notBefore, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await EnsureAsync(connection, null, channel, subjectKind, subjectId, recipient, notBefore, cancellationToken);
    }

    /// <summary>The same inside the caller's transaction, so a delivery is created exactly when what it delivers is committed.</summary>
    public async Task<bool> EnsureAsync(DbConnection connection, DbTransaction? transaction, string channel, string subjectKind, string subjectId, string recipient, DateTimeOffset notBefore, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var rows = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO deliveries (channel, subject_kind, subject_id, recipient, state, attempts, next_attempt_at, created_at, updated_at)
            VALUES (@channel, @subjectKind, @subjectId, @recipient, 'pending', 0, @notBefore, @now, @now)
            ON CONFLICT (channel, subject_kind, subject_id, recipient) DO NOTHING
            """, new { channel, subjectKind, subjectId, recipient, notBefore, now }, transaction, cancellationToken: cancellationToken));
        return rows == 1;
    }

    /// <summary>
    /// Claims up to <paramref name="limit"/> due deliveries of a channel for <paramref name="node"/>: pending or
    /// retry-wait ones whose time has come, and in-flight ones whose lease ran out because their node died.
    /// The attempt is counted here, before anything is sent, so a crash mid-send is visible on the row.
    /// </summary>
    /// <param name="recipient">Only this recipient's deliveries (one account's), or any recipient's when null.</param>
    /// <param name="subjectId">Only deliveries of this subject (one article's), or of any when null.</param>
    public async Task<IReadOnlyList<Delivery>> ClaimDueAsync(string channel, string node, TimeSpan lease, int limit, CancellationToken cancellationToken, string? recipient = null, string? subjectId = null)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        // One statement: the inner SELECT picks and locks (skipping rows other nodes hold), the UPDATE claims them.
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition($"""
            UPDATE deliveries
            SET state = 'in-flight', attempts = attempts + 1, claimed_by = @node, lease_expires_at = @leaseEnd, updated_at = @now
            WHERE id IN (
                SELECT id FROM deliveries
                WHERE channel = @channel AND (@recipient IS NULL OR recipient = @recipient) AND (@subjectId IS NULL OR subject_id = @subjectId)
                  AND ((state IN ('pending', 'retry-wait') AND next_attempt_at <= @now)
                       OR (state = 'in-flight' AND lease_expires_at < @now))
                ORDER BY next_attempt_at, id
                LIMIT @limit
                {database.Dialect.ForUpdateSkipLocked})
            RETURNING {Columns}
            """, new { channel, recipient, subjectId, now, limit, node, leaseEnd = now + lease }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToDelivery()).OrderBy(d => d.NextAttemptAt).ThenBy(d => d.Id).ToList();
    }

    /// <summary>
    /// Notes that the attempt is about to hand its message to a service that cannot tell a repeat from a new one
    /// (an SMTP relay), with the id the message carries. A claim that later finds this set, with no outcome
    /// recorded, knows the node died while the service may already have taken the message. False when this node
    /// no longer holds the claim: it must not send. The lease is renewed, so a long batch does not lose the
    /// message being sent to another node.
    /// </summary>
    public async Task<bool> MarkHandedOverAsync(long id, string node, string? remoteId, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        return await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE deliveries SET handed_over_at = @now, remote_id = @remoteId, lease_expires_at = @leaseEnd, updated_at = @now
            WHERE id = @id AND state = 'in-flight' AND claimed_by = @node
            """, new { id, node, remoteId, now, leaseEnd = now + lease }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>
    /// Gives back claims this node will not use (it is stopping): they become due again at once for any node,
    /// without the attempt their claim counted. Deliveries already handed over are not given back.
    /// </summary>
    public async Task<int> ReleaseAsync(IReadOnlyCollection<long> ids, string node, CancellationToken cancellationToken)
    {
        if (ids.Count == 0) return 0;
        await using var connection = await database.OpenAsync(cancellationToken);
        var parameters = new DynamicParameters(new { node, now = time.GetUtcNow() });
        return await connection.ExecuteAsync(new CommandDefinition($"""
            UPDATE deliveries SET state = 'pending', attempts = attempts - 1, lease_expires_at = NULL, updated_at = @now
            WHERE id IN {SqlList.In(parameters, "id", ids)} AND state = 'in-flight' AND claimed_by = @node AND handed_over_at IS NULL
            """, parameters, cancellationToken: cancellationToken));
    }

    public Task<bool> MarkSentAsync(long id, string node, string? remoteId, string? remoteUrl, CancellationToken cancellationToken) =>
        FinishAsync(id, node, DeliveryState.Sent, "remote_id = @remoteId, remote_url = @remoteUrl, sent_at = @now, last_error = NULL",
            new { remoteId, remoteUrl }, cancellationToken);

    public Task<bool> MarkRetryAsync(long id, string node, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken) =>
        FinishAsync(id, node, DeliveryState.RetryWait, "last_error = @error, next_attempt_at = @nextAttemptAt", new { error, nextAttemptAt }, cancellationToken);

    public Task<bool> MarkFailedAsync(long id, string node, string error, CancellationToken cancellationToken) =>
        FinishAsync(id, node, DeliveryState.Failed, "last_error = @error", new { error }, cancellationToken);

    /// <summary>Hands a failed delivery back to its channel, keeping its attempts and last error for the record.</summary>
    public async Task<bool> RetryAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE deliveries SET state = 'pending', next_attempt_at = @now, updated_at = @now WHERE id = @id AND state = 'failed'",
            new { id, now }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task<Delivery?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<DeliveryRow>(new CommandDefinition(
            $"SELECT {Columns} FROM deliveries WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        return row?.ToDelivery();
    }

    public async Task<IReadOnlyList<Delivery>> ListAsync(DeliveryState? state, string? subjectId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition($"""
            SELECT {Columns} FROM deliveries
            WHERE (@state IS NULL OR state = @state) AND (@subjectId IS NULL OR subject_id = @subjectId)
            ORDER BY updated_at DESC, id DESC
            LIMIT @limit
            """, new { state = state?.ToColumn(), subjectId, limit }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToDelivery()).ToList();
    }

    /// <summary>Hands every failed delivery back to its channel (one channel's, when given), as <see cref="RetryAsync"/> does one. Returns how many.</summary>
    public async Task<int> RetryAllFailedAsync(string? channel, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE deliveries SET state = 'pending', next_attempt_at = @now, updated_at = @now WHERE state = 'failed' AND (@channel IS NULL OR channel = @channel)",
            new { channel, now }, cancellationToken: cancellationToken));
    }

    /// <summary>Deletes sent deliveries sent before <paramref name="cutoff"/>; nothing pending, waiting or failed is touched.</summary>
    public async Task<int> DeleteSentBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM deliveries WHERE state = 'sent' AND sent_at < @cutoff", new { cutoff }, cancellationToken: cancellationToken));
    }

    /// <summary>How many deliveries each channel has in each state; combinations with none are left out.</summary>
    public async Task<IReadOnlyList<DeliveryCount>> CountByChannelAndStateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Channel, string State, long Count)>(new CommandDefinition(
            "SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state ORDER BY channel, state", cancellationToken: cancellationToken));
        return rows.Select(r => new DeliveryCount(r.Channel, DeliveryStates.FromColumn(r.State), r.Count)).ToList();
    }

    /// <summary>
    /// Each channel's queue: the deliveries its next run would claim (the same condition as <see cref="ClaimDueAsync"/>).
    /// Channels with nothing due are left out.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long>> CountDueByChannelAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        var rows = await connection.QueryAsync<(string Channel, long Count)>(new CommandDefinition("""
            SELECT channel, COUNT(*) FROM deliveries
            WHERE (state IN ('pending', 'retry-wait') AND next_attempt_at <= @now) OR (state = 'in-flight' AND lease_expires_at < @now)
            GROUP BY channel
            """, new { now }, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.Channel, r => r.Count, StringComparer.Ordinal);
    }

    /// <summary>Every delivery of one subject (e.g. kind <c>article</c> and an article's id), oldest first.</summary>
    public async Task<IReadOnlyList<Delivery>> ListForSubjectAsync(string subjectKind, string subjectId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition($"""
            SELECT {Columns} FROM deliveries WHERE subject_kind = @subjectKind AND subject_id = @subjectId ORDER BY channel, recipient, id
            """, new { subjectKind, subjectId }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToDelivery()).ToList();
    }

    /// <summary>The e-mail digests that carry an article, counted by the state of their delivery.</summary>
    public async Task<IReadOnlyDictionary<DeliveryState, long>> CountDigestsWithArticleAsync(string articleId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string State, long Count)>(new CommandDefinition("""
            SELECT d.state, COUNT(*) FROM digest_items i
            JOIN deliveries d ON d.subject_kind = 'digest' AND d.subject_id = i.digest_id
            WHERE i.article_id = @articleId
            GROUP BY d.state
            """, new { articleId }, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => DeliveryStates.FromColumn(r.State), r => r.Count);
    }

    /// <summary>
    /// A claimed delivery moves on only while its node still holds the claim; a late node whose lease was taken over
    /// changes nothing. The node's name stays on the row, so it tells who made the last attempt.
    /// </summary>
    private async Task<bool> FinishAsync(long id, string node, DeliveryState to, string set, object values, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var parameters = new DynamicParameters(values);
        parameters.Add("id", id);
        parameters.Add("node", node);
        parameters.Add("to", to.ToColumn());
        parameters.Add("now", time.GetUtcNow());
        return await connection.ExecuteAsync(new CommandDefinition($"""
            UPDATE deliveries SET state = @to, {set}, lease_expires_at = NULL, handed_over_at = NULL, updated_at = @now
            WHERE id = @id AND state = 'in-flight' AND claimed_by = @node
            """, parameters, cancellationToken: cancellationToken)) == 1;
    }

    private sealed class DeliveryRow
    {
        public long Id { get; init; }
        public string Channel { get; init; } = "";
        public string SubjectKind { get; init; } = "";
        public string SubjectId { get; init; } = "";
        public string Recipient { get; init; } = "";
        public string State { get; init; } = "";
        public int Attempts { get; init; }
        public DateTimeOffset NextAttemptAt { get; init; }
        public string? LastError { get; init; }
        public string? RemoteId { get; init; }
        public string? RemoteUrl { get; init; }
        public string? ClaimedBy { get; init; }
        public DateTimeOffset? LeaseExpiresAt { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
        public DateTimeOffset? SentAt { get; init; }
        public DateTimeOffset? HandedOverAt { get; init; }

        public Delivery ToDelivery() => new(Id, Channel, SubjectKind, SubjectId, Recipient, DeliveryStates.FromColumn(State), Attempts,
            NextAttemptAt, LastError, RemoteId, RemoteUrl, ClaimedBy, LeaseExpiresAt, CreatedAt, UpdatedAt, SentAt, HandedOverAt);
    }
}

/// <summary>How many deliveries of one channel are in one state.</summary>
public sealed record DeliveryCount(string Channel, DeliveryState State, long Count);
