using System.Data.Common;
using Dapper;
using Syndicator.Storage;

namespace Syndicator.Digests;

public sealed class SubscriberStore(Database database, SuppressionList suppressions, TimeProvider time)
{
    private const string Columns = """
        id AS Id, email AS Email, name AS Name, frequency AS Frequency, time_zone AS TimeZone, state AS State,
        hard_bounces AS HardBounces, covered_until AS CoveredUntil, last_period AS LastPeriod, created_at AS CreatedAt,
        signup_id AS SignUpId, signup_at AS SignUpAt
        """;

    /// <summary>Adds a subscriber, or updates name, frequency, zone and follows of an existing one (keeping its state and digest history).</summary>
    public async Task<(Subscriber Subscriber, bool Created)> SaveAsync(
        string email, string? name, DigestFrequency frequency, string timeZone, SubscriberState state,
        IReadOnlyList<string> authors, IReadOnlyList<string> tags, DateTimeOffset coveredUntil, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var existing = await FindByEmailAsync(connection, transaction, email, cancellationToken);
        string id;
        if (existing is null)
            id = await InsertAsync(connection, transaction, email, name, frequency, timeZone, state, coveredUntil, null, cancellationToken);
        else
        {
            id = existing.Id;
            await UpdateAsync(connection, transaction, existing with { Name = name ?? existing.Name, Frequency = frequency, TimeZone = timeZone }, cancellationToken);
        }
        await ReplaceFollowsAsync(connection, transaction, id, authors, tags, cancellationToken);
        var saved = (await GetAsync(connection, transaction, "id = @value", id, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return (saved, existing is null);
    }

    internal Task<Subscriber?> FindByEmailAsync(DbConnection connection, DbTransaction? transaction, string email, CancellationToken cancellationToken) =>
        GetAsync(connection, transaction, "email = @value", SubscriberAddress.Normalize(email), cancellationToken);

    /// <summary>Inserts a subscriber; <paramref name="signUp"/> is the sign-up awaiting confirmation, if any. Returns the new id.</summary>
    internal async Task<string> InsertAsync(DbConnection connection, DbTransaction transaction, string email, string? name, DigestFrequency frequency, string timeZone,
        SubscriberState state, DateTimeOffset coveredUntil, (string Id, DateTimeOffset At)? signUp, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToStoredPrecision();
        var id = Guid.CreateVersion7(now).ToString();
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO subscribers (id, email, name, frequency, time_zone, state, hard_bounces, covered_until, created_at, confirmed_at, signup_id, signup_at)
            VALUES (@id, @email, @name, @frequency, @timeZone, @state, 0, @coveredUntil, @now, @confirmedAt, @signUpId, @signUpAt)
            """, new
            {
                id, email = SubscriberAddress.Normalize(email), name, frequency = Column(frequency), timeZone, state = Column(state),
                coveredUntil = coveredUntil.ToStoredPrecision(), now, confirmedAt = state == SubscriberState.Confirmed ? now : (DateTimeOffset?)null,
                signUpId = signUp?.Id, signUpAt = signUp?.At.ToStoredPrecision(),
            }, transaction, cancellationToken: cancellationToken));
        return id;
    }

    /// <summary>Writes the settings, state and sign-up of <paramref name="subscriber"/> (found by its id), in one statement whatever changed.</summary>
    internal async Task UpdateAsync(DbConnection connection, DbTransaction transaction, Subscriber subscriber, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE subscribers SET name = @Name, frequency = @frequency, time_zone = @TimeZone, state = @state,
                unsubscribed_at = CASE WHEN @state = 'unsubscribed' THEN unsubscribed_at END, signup_id = @SignUpId, signup_at = @signUpAt
            WHERE id = @Id
            """, new
            {
                subscriber.Id, subscriber.Name, frequency = Column(subscriber.Frequency), subscriber.TimeZone, state = Column(subscriber.State),
                subscriber.SignUpId, signUpAt = subscriber.SignUpAt?.ToStoredPrecision(),
            }, transaction, cancellationToken: cancellationToken));

    /// <summary>
    /// A reader's own change of frequency, zone and follows, in one transaction; only while they receive or await the
    /// digest (false otherwise: an unsubscribe that came first wins). State, watermark and sign-up are left alone.
    /// </summary>
    public async Task<bool> UpdatePreferencesAsync(string id, DigestFrequency frequency, string timeZone, IReadOnlyList<string> authors, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var changed = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE subscribers SET frequency = @frequency, time_zone = @timeZone WHERE id = @id AND state IN ('confirmed', 'pending')",
            new { id, frequency = Column(frequency), timeZone }, transaction, cancellationToken: cancellationToken)) == 1;
        if (!changed) return false;
        await ReplaceFollowsAsync(connection, transaction, id, authors, tags, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    internal async Task ReplaceFollowsAsync(DbConnection connection, DbTransaction transaction, string id, IReadOnlyList<string> authors, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM subscriber_follows WHERE subscriber_id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        var follows = authors.Select(a => new { id, kind = "author", value = a.Trim() })
            .Concat(tags.Select(t => new { id, kind = "tag", value = t.Trim() }))
            .Where(f => f.value.Length > 0).DistinctBy(f => (f.kind, f.value.ToLowerInvariant()));
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO subscriber_follows (subscriber_id, kind, value) VALUES (@id, @kind, @value)", follows, transaction, cancellationToken: cancellationToken));
    }

    public async Task<Subscriber?> FindAsync(string emailOrId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await GetAsync(connection, null, emailOrId.Contains('@') ? "email = @value" : "id = @value", emailOrId.Contains('@') ? SubscriberAddress.Normalize(emailOrId) : emailOrId, cancellationToken);
    }

    /// <summary>The subscribers of the given ids that exist, by id: a sending batch reads its recipients at once.</summary>
    internal async Task<IReadOnlyDictionary<string, Subscriber>> FindManyAsync(DbConnection connection, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var parameters = new DynamicParameters();
        return (await QueryAsync(connection, null, SqlList.KeyIn(parameters, "id", "ids", ids.Distinct(), database.Dialect), parameters, cancellationToken))
            .ToDictionary(s => s.Id, StringComparer.Ordinal);
    }

    public async Task<IReadOnlyList<Subscriber>> ListAsync(CancellationToken cancellationToken, SubscriberState? state = null, DigestFrequency? frequency = null)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await QueryAsync(connection, null, "(@state IS NULL OR state = @state) AND (@frequency IS NULL OR frequency = @frequency) ORDER BY email",
            new { state = state is null ? null : Column(state.Value), frequency = frequency is null ? null : Column(frequency.Value) }, cancellationToken);
    }

    /// <summary>
    /// Deletes the subscriber with their follows and digests, and each digest edition no other reader's digest names (its
    /// items go with it). The planner writes an edition in the same transaction as every digest that names it, so an
    /// edition this finds unnamed is never named again. The reader's row goes first: a planner's page that has claimed the
    /// reader holds that row until it commits, so this waits for the page and then finds the digest it wrote (digests have
    /// no foreign key to cascade from the reader since migration 0028); a page after this finds no reader to claim.
    /// </summary>
    public async Task<bool> RemoveAsync(string email, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var id = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition("DELETE FROM subscribers WHERE email = @email RETURNING id",
            new { email = SubscriberAddress.Normalize(email) }, transaction, cancellationToken: cancellationToken));
        if (id is not null)
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                DELETE FROM digest_editions WHERE id IN (SELECT edition_id FROM digests WHERE subscriber_id = @id)
                  AND NOT EXISTS (SELECT 1 FROM digests o WHERE o.edition_id = digest_editions.id AND o.subscriber_id <> @id)
                """, new { id }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition("DELETE FROM digests WHERE subscriber_id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
        return id is not null;
    }

    /// <summary>
    /// Confirms a pending subscriber's sign-up <paramref name="signUpId"/>; their first digest starts at
    /// <paramref name="coveredUntil"/>. False when the subscriber is not pending or the sign-up is no longer theirs.
    /// </summary>
    public async Task<bool> ConfirmAsync(string id, string signUpId, DateTimeOffset coveredUntil, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE subscribers SET state = 'confirmed', confirmed_at = @now, covered_until = @coveredUntil WHERE id = @id AND state = 'pending' AND signup_id = @signUpId",
            new { id, signUpId, now = time.GetUtcNow().ToStoredPrecision(), coveredUntil = coveredUntil.ToStoredPrecision() }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>
    /// Unsubscribes, forgets the sign-up (so no confirmation link sent before works any more) and puts the address on
    /// the suppression list, in one transaction. <paramref name="source"/> says how the reader asked (form, mailbox, ...).
    /// </summary>
    public async Task<bool> UnsubscribeAsync(string id, string source, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var changed = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE subscribers SET state = 'unsubscribed', unsubscribed_at = @now, signup_id = NULL WHERE id = @id AND state <> 'unsubscribed'",
            new { id, now = time.GetUtcNow().ToStoredPrecision() }, transaction, cancellationToken: cancellationToken)) == 1;
        if (await GetAsync(connection, transaction, "id = @value", id, cancellationToken) is { } subscriber)
            await suppressions.AddAsync(connection, transaction, subscriber.Email, SuppressionReason.Unsubscribed, source, null, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    /// <summary>
    /// Marks a subscriber <paramref name="state"/> (bounced or complained, from a bounce report or a complaint) and puts
    /// the address on the suppression list, in one transaction with <paramref name="transaction"/>'s other writes.
    /// The sign-up is forgotten, so an old confirmation link cannot bring the address back.
    /// </summary>
    internal async Task MarkAsync(DbConnection connection, DbTransaction transaction, Subscriber subscriber, SubscriberState state, SuppressionReason reason,
        string source, string? detail, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE subscribers SET state = @state, unsubscribed_at = COALESCE(unsubscribed_at, @now), signup_id = NULL WHERE id = @id",
            new { id = subscriber.Id, state = Column(state), now = time.GetUtcNow().ToStoredPrecision() }, transaction, cancellationToken: cancellationToken));
        await suppressions.AddAsync(connection, transaction, subscriber.Email, reason, source, detail, cancellationToken);
    }

    /// <summary>Counts a soft bounce; the new count.</summary>
    internal async Task<int> CountSoftBounceAsync(DbConnection connection, DbTransaction transaction, string id, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition("UPDATE subscribers SET soft_bounces = soft_bounces + 1 WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT soft_bounces FROM subscribers WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
    }

    /// <summary>Counts a hard bounce and suspends the subscriber at <paramref name="limit"/>. True when this bounce suspended them.</summary>
    public async Task<bool> RecordHardBounceAsync(string id, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("UPDATE subscribers SET hard_bounces = hard_bounces + 1 WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE subscribers SET state = 'suspended' WHERE id = @id AND hard_bounces >= @limit AND state = 'confirmed'", new { id, limit }, cancellationToken: cancellationToken)) == 1;
    }

    internal async Task<Subscriber?> GetAsync(DbConnection connection, DbTransaction? transaction, string where, string value, CancellationToken cancellationToken) =>
        (await QueryAsync(connection, transaction, where, new { value }, cancellationToken)).FirstOrDefault();

    internal async Task<IReadOnlyList<Subscriber>> QueryAsync(DbConnection connection, DbTransaction? transaction, string where, object parameters, CancellationToken cancellationToken)
    {
        var rows = (await connection.QueryAsync<Row>(new CommandDefinition($"SELECT {Columns} FROM subscribers WHERE {where}", parameters, transaction, cancellationToken: cancellationToken))).ToList();
        if (rows.Count == 0) return [];
        var ids = new DynamicParameters();
        var follows = (await connection.QueryAsync<(string SubscriberId, string Kind, string Value)>(new CommandDefinition(
            $"SELECT subscriber_id, kind, value FROM subscriber_follows WHERE subscriber_id IN {SqlList.InRows(ids, "ids", rows.Select(r => r.Id), database.Dialect)} ORDER BY value",
            ids, transaction, cancellationToken: cancellationToken))).ToLookup(f => f.SubscriberId);
        return rows.Select(r => r.ToSubscriber(
            follows[r.Id].Where(f => f.Kind == "author").Select(f => f.Value).ToList(),
            follows[r.Id].Where(f => f.Kind == "tag").Select(f => f.Value).ToList())).ToList();
    }

    public static string Column(DigestFrequency frequency) => frequency.ToString().ToLowerInvariant();
    public static string Column(SubscriberState state) => state.ToString().ToLowerInvariant();

    private sealed class Row
    {
        public string Id { get; init; } = "";
        public string Email { get; init; } = "";
        public string? Name { get; init; }
        public string Frequency { get; init; } = "";
        public string TimeZone { get; init; } = "";
        public string State { get; init; } = "";
        public int HardBounces { get; init; }
        public DateTimeOffset CoveredUntil { get; init; }
        public string? LastPeriod { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public string? SignUpId { get; init; }
        public DateTimeOffset? SignUpAt { get; init; }

        public Subscriber ToSubscriber(IReadOnlyList<string> authors, IReadOnlyList<string> tags) => new(
            Id, Email, Name, Enum.Parse<DigestFrequency>(Frequency, true), TimeZone, Enum.Parse<SubscriberState>(State, true),
            HardBounces, CoveredUntil, LastPeriod, authors, tags, CreatedAt, SignUpId, SignUpAt);
    }
}
