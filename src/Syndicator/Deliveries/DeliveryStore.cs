using System.Buffers.Binary;
using System.Data;
using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using Syndicator.Storage;

namespace Syndicator.Deliveries;

/// <summary>Which due deliveries a drain takes: one account's, one article's, at most so many.</summary>
public sealed record DrainFilter(string? Recipient = null, DeliverySubject? Subject = null, int? Limit = null)
{
    public static DrainFilter All { get; } = new();
}

/// <summary>An account a network told to wait, until when and why.</summary>
public sealed record DeliveryPause(string Channel, string Recipient, DateTimeOffset PausedUntil, string Reason, DateTimeOffset UpdatedAt);

/// <summary>
/// The outbox. Retry state lives on the row (attempts, last error, next attempt), never in memory, so a restart
/// or another node picks up exactly where the last one left off. Every state change goes through
/// <see cref="MoveAsync"/>, which only makes the moves <see cref="DeliveryStates.Transitions"/> allows.
/// </summary>
public sealed class DeliveryStore(Database database, TimeProvider time)
{
    private const string Columns = """
        id AS Id, channel AS Channel, subject_kind AS SubjectKind, subject_id AS SubjectId, subject_version AS SubjectVersion,
        recipient_kind AS RecipientKind, recipient AS Recipient, delivery_key AS Key,
        state AS State, attempts AS Attempts, next_attempt_at AS NextAttemptAt, last_error AS LastError,
        remote_id AS RemoteId, remote_url AS RemoteUrl, claimed_by AS ClaimedBy, lease_expires_at AS LeaseExpiresAt,
        created_at AS CreatedAt, updated_at AS UpdatedAt, sent_at AS SentAt, handed_over_at AS HandedOverAt
        """;

    /// <summary>
    /// Still to be sent: the predicate of the due and recipient indexes (migration 0029), which leave out the sent,
    /// failed and unconfirmed rows (nearly all of them, kept for the record). A query that needs one of those indexes
    /// says this word for word beside its own condition on the state, so SQLite and PostgreSQL both know the index holds
    /// every row the query can match.
    /// </summary>
    private const string Active = "state IN ('pending', 'retry-wait', 'in-flight')";

    /// <summary>
    /// The state test of a statement that finds its rows by a key: ids, or one subject's. Written plainly, a test such as
    /// "state = 'in-flight'" lets PostgreSQL prove <see cref="Active"/>, the partial indexes' predicate, and when its
    /// statistics say few rows are active (a store not yet analysed, or one analysed before a digest run queued
    /// thousands) it reads a whole partial index for a handful of rows: some 5 ms per statement at 10,000 queued,
    /// against 0.2 ms by the primary key, and growing with the queue. As IS TRUE the test proves nothing, so the rows are
    /// found by their key. SQLite finds them by rowid or the subject key either way.
    /// </summary>
    internal static string ByKeyWhere(string stateTest) => $"({stateTest}) IS TRUE";

    /// <summary>Due now: waiting and its time has come, or in flight on a node whose lease ran out.</summary>
    private const string Due = $"""
        ({Active} AND ((state IN ('pending', 'retry-wait') AND next_attempt_at <= @now) OR (state = 'in-flight' AND lease_expires_at < @now)))
        """;

    /// <summary>Not to an account a network told to wait.</summary>
    private const string NotPaused = """
        NOT EXISTS (SELECT 1 FROM delivery_pauses p WHERE p.channel = deliveries.channel AND p.recipient = deliveries.recipient AND p.paused_until > @now)
        """;

    /// <summary>Not of a subject a person held.</summary>
    private const string NotHeld = """
        NOT EXISTS (SELECT 1 FROM delivery_holds h WHERE h.subject_kind = deliveries.subject_kind AND h.subject_id = deliveries.subject_id)
        """;

    /// <summary>Creates the delivery unless one exists for the same channel, subject and recipient. True when it was created.</summary>
    public async Task<bool> EnsureAsync(string channel, DeliverySubject subject, DeliveryRecipient recipient, DateTimeOffset notBefore, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await EnsureAsync(connection, null, channel, subject, recipient, notBefore, cancellationToken);
    }

    /// <summary>The same inside the caller's transaction, so a delivery is created exactly when what it delivers is committed.</summary>
    public async Task<bool> EnsureAsync(DbConnection connection, DbTransaction? transaction, string channel, DeliverySubject subject, DeliveryRecipient recipient, DateTimeOffset notBefore, CancellationToken cancellationToken) =>
        await EnsureManyAsync(connection, transaction, channel, [(subject, recipient)], notBefore, cancellationToken) == 1;

    /// <summary>
    /// <see cref="EnsureAsync(DbConnection, DbTransaction?, string, DeliverySubject, DeliveryRecipient, DateTimeOffset, CancellationToken)"/>
    /// for many at once, in one statement (planning 100,000 digests writes 100,000 deliveries): how many were created.
    /// </summary>
    public async Task<int> EnsureManyAsync(DbConnection connection, DbTransaction? transaction, string channel,
        IReadOnlyCollection<(DeliverySubject Subject, DeliveryRecipient Recipient)> deliveries, DateTimeOffset notBefore, CancellationToken cancellationToken)
    {
        if (deliveries.Count == 0) return 0;
        var parameters = new DynamicParameters(new
        {
            channel, notBefore, now = time.GetUtcNow(),
            rows = SqlList.Rows(deliveries.Select(d => new[] { d.Subject.KindColumn, d.Subject.Id, d.Subject.Version, d.Recipient.KindColumn, d.Recipient.Id, NewKey() })),
        });
        // One parameter for every row (see SqlList.InRows); "WHERE 1 = 1" tells SQLite's parser the ON CONFLICT is the INSERT's.
        return await connection.ExecuteAsync(new CommandDefinition($"""
            INSERT INTO deliveries (channel, subject_kind, subject_id, subject_version, recipient_kind, recipient, delivery_key, state, attempts, next_attempt_at, created_at, updated_at)
            SELECT @channel, r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4, r.value ->> 5, 'pending', 0, @notBefore, @now, @now
            FROM {database.Dialect.JsonRows("@rows", "r")} WHERE 1 = 1
            ON CONFLICT (channel, subject_kind, subject_id, subject_version, recipient) DO NOTHING
            """, parameters, transaction, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Deliveries of subjects created in the same transaction, so none of them can exist yet (the digests a planning
    /// page writes): a plain insert, without the conflict check <see cref="EnsureManyAsync"/> makes for every row (on
    /// PostgreSQL 100,000 rows took 6.8 s with it against 4.2 s without); a duplicate fails the transaction. On
    /// PostgreSQL the rows go in with binary COPY (<see cref="SqlDialect.InsertRowsAsync"/>), which spends less of the server's
    /// time than an INSERT that takes the same rows apart from a JSON parameter.
    /// </summary>
    public Task<int> AddNewManyAsync(DbConnection connection, DbTransaction transaction, string channel,
        IReadOnlyCollection<(DeliverySubject Subject, DeliveryRecipient Recipient)> deliveries, DateTimeOffset notBefore, CancellationToken cancellationToken)
    {
        if (deliveries.Count == 0) return Task.FromResult(0);
        var now = time.GetUtcNow();
        return database.Dialect.InsertRowsAsync(connection, transaction, NewRows,
            deliveries.Select(d => new object?[] { channel, d.Subject.KindColumn, d.Subject.Id, d.Subject.Version, d.Recipient.KindColumn, d.Recipient.Id, NewKey(), "pending", 0, notBefore, now, now }),
            cancellationToken);
    }

    private static readonly RowTable NewRows = new("deliveries",
    [
        new("channel", ColumnType.Text), new("subject_kind", ColumnType.Text), new("subject_id", ColumnType.Text), new("subject_version", ColumnType.Text),
        new("recipient_kind", ColumnType.Text), new("recipient", ColumnType.Text), new("delivery_key", ColumnType.Text), new("state", ColumnType.Text),
        new("attempts", ColumnType.Integer), new("next_attempt_at", ColumnType.Timestamp), new("created_at", ColumnType.Timestamp), new("updated_at", ColumnType.Timestamp),
    ]);

    /// <summary>Whether a delivery exists (in any state) for the same channel, subject and recipient: the key <see cref="EnsureAsync(DbConnection, DbTransaction?, string, DeliverySubject, DeliveryRecipient, DateTimeOffset, CancellationToken)"/> keeps unique.</summary>
    public async Task<bool> ExistsAsync(DbConnection connection, DbTransaction? transaction, string channel, DeliverySubject subject, DeliveryRecipient recipient, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<int>(new CommandDefinition("""
            SELECT COUNT(*) FROM deliveries WHERE channel = @channel AND subject_kind = @subjectKind AND subject_id = @subjectId
              AND subject_version = @subjectVersion AND recipient = @recipient
            """, new { channel, subjectKind = subject.KindColumn, subjectId = subject.Id, subjectVersion = subject.Version, recipient = recipient.Id },
            transaction, cancellationToken: cancellationToken)) > 0;

    /// <summary>
    /// Moves the due time of a subject's deliveries that have not been tried yet (pending, no attempt) on
    /// <paramref name="channel"/>: a publisher who changes when an article is announced changes it for what still waits.
    /// </summary>
    public async Task<int> RescheduleUntriedAsync(DbConnection connection, DbTransaction? transaction, string channel, DeliverySubject subject, DateTimeOffset notBefore, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(new CommandDefinition(RescheduleUntried,
            new { channel, subjectKind = subject.KindColumn, subjectId = subject.Id, subjectVersion = subject.Version, notBefore, now = time.GetUtcNow() },
            transaction, cancellationToken: cancellationToken));

    internal static readonly string RescheduleUntried = $"""
        UPDATE deliveries SET next_attempt_at = @notBefore, updated_at = @now
        WHERE channel = @channel AND subject_kind = @subjectKind AND subject_id = @subjectId AND subject_version = @subjectVersion
          AND {ByKeyWhere("state = 'pending'")} AND attempts = 0
        """;

    /// <summary>
    /// 128 bits in hex, short enough for a Message-ID's left part: the creation time in milliseconds (48 bits) then 80
    /// random bits, unique across every store and unguessable. Time first so new keys go at the end of the key's index
    /// (planning 100,000 digests with random keys rewrote most of its pages in every transaction).
    /// </summary>
    private string NewKey()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes, time.GetUtcNow().ToUnixTimeMilliseconds() << 16);
        RandomNumberGenerator.Fill(bytes[6..]);
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>
    /// Claims up to <paramref name="limit"/> due deliveries of a channel for <paramref name="node"/>, oldest first,
    /// skipping accounts a network told to wait. The attempt is counted here, before anything is sent, so a crash
    /// mid-send is visible on the row. With <paramref name="oneNodePerRecipient"/>, a recipient another node is
    /// sending to is left to that node, so an account's posts go out one at a time across the cluster.
    /// </summary>
    public async Task<IReadOnlyList<Delivery>> ClaimDueAsync(string channel, string node, TimeSpan lease, int limit, DrainFilter filter, bool oneNodePerRecipient, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        var othersSending = oneNodePerRecipient
            ? $"""
              AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.channel = deliveries.channel AND o.recipient = deliveries.recipient
                              AND o.{Active} AND o.state = 'in-flight' AND o.claimed_by <> @node AND o.lease_expires_at >= @now)
              """
            : "";
        // One statement: the inner SELECT picks and locks (skipping rows other nodes hold), the UPDATE claims them.
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition($"""
            UPDATE deliveries
            SET state = 'in-flight', attempts = attempts + 1, claimed_by = @node, lease_expires_at = @leaseEnd, updated_at = @now
            WHERE id IN (
                SELECT id FROM deliveries
                WHERE channel = @channel AND (@recipient IS NULL OR recipient = @recipient)
                  AND (@subjectKind IS NULL OR (subject_kind = @subjectKind AND subject_id = @subjectId))
                  AND {Due} AND {NotPaused} AND {NotHeld} {othersSending}
                ORDER BY next_attempt_at, id
                LIMIT @limit
                {database.Dialect.ForUpdateSkipLocked})
            RETURNING {Columns}
            """, new
            {
                channel, recipient = filter.Recipient, subjectKind = filter.Subject?.KindColumn, subjectId = filter.Subject?.Id,
                now, limit, node, leaseEnd = now + lease,
            }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToDelivery()).OrderBy(d => d.NextAttemptAt).ThenBy(d => d.Id).ToList();
    }

    /// <summary>Extends the lease of claims this node still holds, so a batch that outlives its lease is not taken over while it is being sent.</summary>
    public async Task<int> RenewAsync(IReadOnlyCollection<long> ids, string node, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (ids.Count == 0) return 0;
        await using var connection = await database.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        var parameters = new DynamicParameters(new { node, now, leaseEnd = now + lease });
        // A row another statement holds (its outcome or hand-over being written) is skipped, not waited for: the
        // next renewal, a third of a lease later, gets it. Waiting made PostgreSQL see deadlocks with the batched
        // sent marks, whose rows an UPDATE ... IN (...) does not lock in any fixed order.
        return await connection.ExecuteAsync(new CommandDefinition($"""
            UPDATE deliveries SET lease_expires_at = @leaseEnd
            WHERE id IN (SELECT id FROM deliveries WHERE id IN {SqlList.In(parameters, "id", ids)} AND {ByKeyWhere("state = 'in-flight'")} AND claimed_by = @node
                         ORDER BY id {database.Dialect.ForUpdateSkipLocked})
            """, parameters, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Notes that the attempt is about to hand its message to a service that cannot tell a repeat from a new one
    /// (an SMTP relay), with the id the message carries. A claim that later finds this set, with no outcome
    /// recorded, knows the node died while the service may already have taken the message. False when this node
    /// no longer holds the claim: it must not send. The lease is renewed with it.
    /// </summary>
    public async Task<bool> MarkHandedOverAsync(long id, string node, string? remoteId, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var marks = OpenMarks(node, lease);
        return (await marks.WriteAsync([new HandOverMark(id, remoteId)], [], cancellationToken)).HandedOver.Count == 1;
    }

    /// <summary>A writer of many hand-over marks and sent outcomes per transaction, on a connection of its own (one sending batch's).</summary>
    public DeliveryMarks OpenMarks(string node, TimeSpan lease) => new(database, time, node, lease);

    /// <summary>
    /// Gives back claims this node will not use (it is stopping, or the account was told to wait): they become due
    /// again without the attempt their claim counted, keeping their place in the queue. Deliveries already handed
    /// over are not given back.
    /// </summary>
    public Task<int> ReleaseAsync(IReadOnlyCollection<long> ids, string node, CancellationToken cancellationToken) =>
        MoveAsync(ids, node, DeliveryState.InFlight, DeliveryState.Pending, "attempts = attempts - 1", null, "handed_over_at IS NULL", cancellationToken);

    /// <summary>The network refused for rate reasons only: the delivery waits, in its place, without the attempt counting.</summary>
    public async Task<bool> DeferAsync(long id, string node, string error, CancellationToken cancellationToken) =>
        await MoveAsync([id], node, DeliveryState.InFlight, DeliveryState.Pending, "attempts = attempts - 1, last_error = @error", new { error }, null, cancellationToken) == 1;

    public async Task<bool> MarkSentAsync(long id, string node, string? remoteId, string? remoteUrl, CancellationToken cancellationToken) =>
        await MarkSentAsync([new SentMark(id, remoteId, remoteUrl)], node, cancellationToken) == 1;

    /// <summary>
    /// Several sent outcomes in one transaction (one commit, one round trip, instead of one each): how many rows were
    /// still this node's to write. Each row moves only from in-flight and only while <paramref name="node"/> holds it.
    /// </summary>
    public async Task<int> MarkSentAsync(IReadOnlyList<SentMark> marks, string node, CancellationToken cancellationToken)
    {
        await using var writer = OpenMarks(node, TimeSpan.Zero);
        return (await writer.WriteAsync([], marks, cancellationToken)).Sent;
    }

    public async Task<bool> MarkRetryAsync(long id, string node, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken) =>
        await MoveAsync([id], node, DeliveryState.InFlight, DeliveryState.RetryWait, "last_error = @error, next_attempt_at = @nextAttemptAt", new { error, nextAttemptAt }, null, cancellationToken) == 1;

    public async Task<bool> MarkFailedAsync(long id, string node, string error, CancellationToken cancellationToken) =>
        await MoveAsync([id], node, DeliveryState.InFlight, DeliveryState.Failed, "last_error = @error", new { error }, null, cancellationToken) == 1;

    public async Task<bool> MarkUnconfirmedAsync(long id, string node, string error, CancellationToken cancellationToken) =>
        await MoveAsync([id], node, DeliveryState.InFlight, DeliveryState.Unconfirmed, "last_error = @error", new { error }, null, cancellationToken) == 1;

    /// <summary>Hands a failed or unconfirmed delivery back to its channel (by hand), keeping its attempts and last error for the record.</summary>
    public async Task<bool> RetryAsync(long id, CancellationToken cancellationToken) =>
        await MoveAsync([id], null, [DeliveryState.Failed, DeliveryState.Unconfirmed], DeliveryState.Pending, "next_attempt_at = @now", null, null, cancellationToken) == 1;

    /// <summary>Hands every failed delivery back to its channel (one channel's, when given). Unconfirmed ones are left: each needs a person to check it first.</summary>
    public Task<int> RetryAllFailedAsync(string? channel, CancellationToken cancellationToken) =>
        MoveAsync(null, null, [DeliveryState.Failed], DeliveryState.Pending, "next_attempt_at = @now", new { channel }, "(@channel IS NULL OR channel = @channel)", cancellationToken);

    /// <summary>What every move out of in-flight clears: the claim's lease and the hand-over mark (this move and <see cref="DeliveryMarks"/>'s to sent).</summary>
    internal const string LeavingInFlight = "lease_expires_at = NULL, handed_over_at = NULL";

    private Task<int> MoveAsync(IReadOnlyCollection<long>? ids, string? node, DeliveryState from, DeliveryState to, string set, object? values, string? where, CancellationToken cancellationToken) =>
        MoveAsync(ids, node, [from], to, set, values, where, cancellationToken);

    /// <summary>
    /// The one place a delivery changes state. The move must be in the state table; the row must be in one of the
    /// <paramref name="from"/> states and, for a claimed delivery, still held by <paramref name="node"/>, so a late
    /// node whose lease was taken over changes nothing. Leaving in-flight clears the lease and the hand-over mark;
    /// the node's name stays on the row, so it tells who made the last attempt.
    /// </summary>
    private async Task<int> MoveAsync(IReadOnlyCollection<long>? ids, string? node, DeliveryState[] from, DeliveryState to, string set, object? values, string? where, CancellationToken cancellationToken)
    {
        foreach (var f in from)
            if (!DeliveryStates.CanMove(f, to)) throw new InvalidOperationException($"A delivery cannot move from {f.ToColumn()} to {to.ToColumn()}.");
        if (ids is { Count: 0 }) return 0;
        await using var connection = await database.OpenAsync(cancellationToken);
        var parameters = new DynamicParameters(values);
        parameters.Add("node", node);
        parameters.Add("to", to.ToColumn());
        parameters.Add("now", time.GetUtcNow());
        var inState = $"state IN {SqlList.In(parameters, "from", from.Select(f => f.ToColumn()).ToList())}";
        var conditions = new List<string> { ids is null ? inState : ByKeyWhere(inState) };
        if (ids is not null) conditions.Add($"id IN {SqlList.In(parameters, "id", ids)}");
        if (node is not null) conditions.Add("claimed_by = @node");
        if (where is not null) conditions.Add(where);
        var leaving = from.Contains(DeliveryState.InFlight) ? $", {LeavingInFlight}" : "";
        return await connection.ExecuteAsync(new CommandDefinition($"""
            UPDATE deliveries SET state = @to, {set}{leaving}, updated_at = @now
            WHERE {string.Join(" AND ", conditions)}
            """, parameters, cancellationToken: cancellationToken));
    }

    /// <summary>Stops every claim of deliveries to this recipient until <paramref name="until"/>, on every node (a later pause wins).</summary>
    public async Task PauseAsync(string channel, string recipient, DateTimeOffset until, string reason, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO delivery_pauses (channel, recipient, paused_until, reason, updated_at) VALUES (@channel, @recipient, @until, @reason, @now)
            ON CONFLICT (channel, recipient) DO UPDATE SET
                paused_until = CASE WHEN excluded.paused_until > delivery_pauses.paused_until THEN excluded.paused_until ELSE delivery_pauses.paused_until END,
                reason = excluded.reason, updated_at = excluded.updated_at
            """, new { channel, recipient, until, reason, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    /// <summary>Lifts a recipient's pause at once (an ActivityPub inbox the publisher or its server brought back); false when there was none.</summary>
    public async Task<bool> UnpauseAsync(string channel, string recipient, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("DELETE FROM delivery_pauses WHERE channel = @channel AND recipient = @recipient",
            new { channel, recipient }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>Until when this recipient must not be sent to, or null when it may be now.</summary>
    public async Task<DateTimeOffset?> PausedUntilAsync(string channel, string recipient, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<DateTimeOffset?>(new CommandDefinition(
            "SELECT paused_until FROM delivery_pauses WHERE channel = @channel AND recipient = @recipient AND paused_until > @now",
            new { channel, recipient, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    /// <summary>Every pause on record, newest first, the ones over included (the dashboard and /ready show them).</summary>
    public async Task<IReadOnlyList<DeliveryPause>> ListPausesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<DeliveryPause>(new CommandDefinition(
            "SELECT channel AS Channel, recipient AS Recipient, paused_until AS PausedUntil, reason AS Reason, updated_at AS UpdatedAt FROM delivery_pauses ORDER BY updated_at DESC",
            cancellationToken: cancellationToken))).ToList();
    }

    /// <summary>Channels with attempts since <paramref name="since"/> and every one of them failed: no row of theirs moved to sent in it.</summary>
    public async Task<IReadOnlyList<StuckChannel>> StuckChannelsAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<StuckChannel>(new CommandDefinition("""
            SELECT channel AS Channel,
                   SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS Failed,
                   SUM(CASE WHEN state = 'retry-wait' THEN 1 ELSE 0 END) AS Retrying
            FROM deliveries
            WHERE updated_at >= @since AND attempts > 0 AND state IN ('sent', 'failed', 'retry-wait')
            GROUP BY channel
            HAVING SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) = 0
            ORDER BY channel
            """, new { since = since.ToStoredPrecision() }, cancellationToken: cancellationToken))).ToList();
    }

    /// <summary>
    /// Accounts whose pause ended before <paramref name="endedBefore"/> and that still have deliveries waiting which
    /// nothing has touched since the pause ended: the channel is not picking them up. A pause row stays after it ends,
    /// so an ended pause alone says nothing.
    /// </summary>
    public async Task<IReadOnlyList<DeliveryPause>> OverduePausesAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<DeliveryPause>(new CommandDefinition($"""
            SELECT p.channel AS Channel, p.recipient AS Recipient, p.paused_until AS PausedUntil, p.reason AS Reason, p.updated_at AS UpdatedAt
            FROM delivery_pauses p
            WHERE p.paused_until < @endedBefore
              AND EXISTS (SELECT 1 FROM deliveries d WHERE d.channel = p.channel AND d.recipient = p.recipient
                          AND d.{Active} AND d.state IN ('pending', 'retry-wait') AND d.next_attempt_at <= @endedBefore AND d.updated_at < p.paused_until)
            ORDER BY p.channel, p.recipient
            """, new { endedBefore = endedBefore.ToStoredPrecision() }, cancellationToken: cancellationToken))).ToList();
    }

    /// <summary>How many e-mails (or posts) of a channel were sent in the hour before now, on every node.</summary>
    public async Task<int> CountSentSinceAsync(string channel, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT COUNT(*) FROM deliveries WHERE channel = @channel AND state = 'sent' AND sent_at > @since",
            new { channel, since }, cancellationToken: cancellationToken));
    }

    public async Task<Delivery?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<DeliveryRow>(new CommandDefinition(
            $"SELECT {Columns} FROM deliveries WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        return row?.ToDelivery();
    }

    /// <summary>The delivery of <paramref name="channel"/> whose random key is <paramref name="key"/> (named by a bounce or complaint), or null.</summary>
    public async Task<Delivery?> FindByKeyAsync(string channel, string key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<DeliveryRow>(new CommandDefinition(
            $"SELECT {Columns} FROM deliveries WHERE delivery_key = @key AND channel = @channel", new { key, channel }, cancellationToken: cancellationToken));
        return row?.ToDelivery();
    }

    /// <summary>The newest deliveries first, narrowed by state, channel and subject when given.</summary>
    public Task<IReadOnlyList<Delivery>> ListAsync(DeliveryState? state, string? channel, DeliverySubject? subject, int limit, CancellationToken cancellationToken) =>
        ListAsync(new DeliveryQuery(state, channel, subject, Limit: limit), cancellationToken);

    /// <summary>The most recently changed deliveries first, narrowed by every filter the query gives (a subject by kind and id, any version).</summary>
    public async Task<IReadOnlyList<Delivery>> ListAsync(DeliveryQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        // Typed even when null, so PostgreSQL knows what "@x IS NULL" compares; a time given goes through the store's timestamp handler.
        var parameters = new DynamicParameters();
        parameters.Add("state", query.State?.ToColumn(), DbType.String);
        parameters.Add("channel", query.Channel, DbType.String);
        parameters.Add("subjectKind", query.Subject?.KindColumn, DbType.String);
        parameters.Add("subjectId", query.Subject?.Id, DbType.String);
        parameters.Add("recipientKind", query.Recipient?.KindColumn, DbType.String);
        parameters.Add("recipient", query.Recipient?.Id, DbType.String);
        if (query.Since is { } since) parameters.Add("since", since.ToStoredPrecision());
        else parameters.Add("since", null, DbType.DateTimeOffset);
        parameters.Add("limit", query.Limit, DbType.Int32);
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition($"""
            SELECT {Columns} FROM deliveries
            WHERE (@state IS NULL OR state = @state) AND (@channel IS NULL OR channel = @channel)
              AND (@subjectKind IS NULL OR (subject_kind = @subjectKind AND subject_id = @subjectId))
              AND (@recipientKind IS NULL OR (recipient_kind = @recipientKind AND recipient = @recipient))
              AND (@since IS NULL OR updated_at >= @since)
            ORDER BY updated_at DESC, id DESC
            LIMIT @limit
            """, parameters, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToDelivery()).ToList();
    }

    /// <summary>Every delivery of the given subjects of one kind (the articles on a dashboard page), oldest first.</summary>
    public async Task<IReadOnlyList<Delivery>> ListForSubjectsAsync(SubjectKind kind, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0) return [];
        await using var connection = await database.OpenAsync(cancellationToken);
        var parameters = new DynamicParameters(new { subjectKind = new DeliverySubject(kind, "").KindColumn });
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition($"""
            SELECT {Columns} FROM deliveries WHERE subject_kind = @subjectKind AND subject_id IN {SqlList.In(parameters, "id", ids)} ORDER BY id
            """, parameters, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToDelivery()).ToList();
    }

    /// <summary>Makes a subject's waiting deliveries (pending or waiting to retry) due now: a person asked for them to go.</summary>
    public async Task<int> MakeDueAsync(DeliverySubject subject, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(MakeDue, new { kind = subject.KindColumn, id = subject.Id, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    internal static readonly string MakeDue = $"""
        UPDATE deliveries SET next_attempt_at = @now, updated_at = @now
        WHERE subject_kind = @kind AND subject_id = @id AND {ByKeyWhere("state IN ('pending', 'retry-wait')")} AND next_attempt_at > @now
        """;

    /// <summary>Adds one ended attempt to its delivery's history.</summary>
    public async Task RecordAttemptAsync(DeliveryAttemptRecord attempt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO delivery_attempts (delivery_id, attempt, node, outcome, status, cause, error, message, at)
            VALUES (@DeliveryId, @Attempt, @Node, @outcome, @Status, @cause, @Error, @Message, @At)
            """, new
            {
                attempt.DeliveryId, attempt.Attempt, attempt.Node, outcome = attempt.Outcome.ToColumn(), attempt.Status,
                cause = attempt.Cause.ToString().ToLowerInvariant(), attempt.Error, attempt.Message, attempt.At,
            }, cancellationToken: cancellationToken));
    }

    /// <summary>The attempts of the given deliveries, oldest first.</summary>
    public async Task<IReadOnlyList<DeliveryAttemptRecord>> AttemptsAsync(IReadOnlyCollection<long> deliveryIds, CancellationToken cancellationToken)
    {
        if (deliveryIds.Count == 0) return [];
        await using var connection = await database.OpenAsync(cancellationToken);
        var parameters = new DynamicParameters();
        var rows = await connection.QueryAsync<AttemptRow>(new CommandDefinition($"""
            SELECT delivery_id AS DeliveryId, attempt AS Attempt, node AS Node, outcome AS Outcome, status AS Status, cause AS Cause,
                   error AS Error, message AS Message, at AS At
            FROM delivery_attempts WHERE delivery_id IN {SqlList.In(parameters, "id", deliveryIds)} ORDER BY id
            """, parameters, cancellationToken: cancellationToken));
        return rows.Select(r => new DeliveryAttemptRecord(r.DeliveryId, r.Attempt, r.Node, AttemptOutcomes.FromColumn(r.Outcome), r.Status,
            Enum.TryParse<FailureCause>(r.Cause, ignoreCase: true, out var cause) ? cause : FailureCause.Other, r.Error, r.Message, r.At)).ToList();
    }

    /// <summary>Holds a subject: none of its deliveries is claimed until <see cref="UnholdAsync"/>. False when it was held already.</summary>
    public async Task<bool> HoldAsync(DeliverySubject subject, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO delivery_holds (subject_kind, subject_id, held_at) VALUES (@kind, @id, @now) ON CONFLICT (subject_kind, subject_id) DO NOTHING
            """, new { kind = subject.KindColumn, id = subject.Id, now = time.GetUtcNow() }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>Lifts a hold; the subject's waiting deliveries are claimed again in their place. False when it was not held.</summary>
    public async Task<bool> UnholdAsync(DeliverySubject subject, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM delivery_holds WHERE subject_kind = @kind AND subject_id = @id",
            new { kind = subject.KindColumn, id = subject.Id }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>When each of the given subjects of one kind was held; those not held are left out.</summary>
    public async Task<IReadOnlyDictionary<string, DateTimeOffset>> HeldAsync(SubjectKind kind, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0) return new Dictionary<string, DateTimeOffset>();
        await using var connection = await database.OpenAsync(cancellationToken);
        var parameters = new DynamicParameters(new { kind = new DeliverySubject(kind, "").KindColumn });
        var rows = await connection.QueryAsync<(string Id, DateTimeOffset HeldAt)>(new CommandDefinition($"""
            SELECT subject_id, held_at FROM delivery_holds WHERE subject_kind = @kind AND subject_id IN {SqlList.In(parameters, "id", ids)}
            """, parameters, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.Id, r => r.HeldAt, StringComparer.Ordinal);
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
        var rows = await connection.QueryAsync<(string Channel, long Count)>(new CommandDefinition($"""
            SELECT channel, COUNT(*) FROM deliveries WHERE {Due} AND {NotPaused} AND {NotHeld} GROUP BY channel
            """, new { now = time.GetUtcNow() }, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.Channel, r => r.Count, StringComparer.Ordinal);
    }

    /// <summary>Every delivery of one subject (e.g. an article), oldest first.</summary>
    public async Task<IReadOnlyList<Delivery>> ListForSubjectAsync(DeliverySubject subject, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition($"""
            SELECT {Columns} FROM deliveries WHERE subject_kind = @subjectKind AND subject_id = @subjectId ORDER BY channel, recipient, id
            """, new { subjectKind = subject.KindColumn, subjectId = subject.Id }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToDelivery()).ToList();
    }

    private sealed class AttemptRow
    {
        public long DeliveryId { get; init; }
        public int Attempt { get; init; }
        public string Node { get; init; } = "";
        public string Outcome { get; init; } = "";
        public int? Status { get; init; }
        public string Cause { get; init; } = "";
        public string? Error { get; init; }
        public string? Message { get; init; }
        public DateTimeOffset At { get; init; }
    }

    private sealed class DeliveryRow
    {
        public long Id { get; init; }
        public string Channel { get; init; } = "";
        public string SubjectKind { get; init; } = "";
        public string SubjectId { get; init; } = "";
        public string SubjectVersion { get; init; } = "";
        public string RecipientKind { get; init; } = "";
        public string Recipient { get; init; } = "";
        public string Key { get; init; } = "";
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

        public Delivery ToDelivery() => new(Id, Channel,
            new DeliverySubject(DeliverySubject.ParseKind(SubjectKind), SubjectId, SubjectVersion),
            new DeliveryRecipient(DeliveryRecipient.ParseKind(RecipientKind), Recipient), Key,
            DeliveryStates.FromColumn(State), Attempts, NextAttemptAt, LastError, RemoteId, RemoteUrl, ClaimedBy, LeaseExpiresAt,
            CreatedAt, UpdatedAt, SentAt, HandedOverAt);
    }
}

/// <summary>A channel whose every attempt in a window failed: how many for good, how many waiting to retry.</summary>
/// Init properties, not a constructor: SQLite's SUM comes back typed by its values, which Dapper converts only into properties.
public sealed record StuckChannel
{
    public string Channel { get; init; } = "";
    public long Failed { get; init; }
    public long Retrying { get; init; }
}

/// <summary>How many deliveries of one channel are in one state.</summary>
public sealed record DeliveryCount(string Channel, DeliveryState State, long Count);

/// <summary>A delivery the service accepted: what it called the message, and where it shows it.</summary>
public sealed record SentMark(long Id, string? RemoteId, string? RemoteUrl);
