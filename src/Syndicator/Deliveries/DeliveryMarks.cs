using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using Syndicator.Storage;

namespace Syndicator.Deliveries;

/// <summary>A message about to be handed to its service, with the id it carries (see <see cref="DeliveryStore.MarkHandedOverAsync"/>).</summary>
public sealed record HandOverMark(long Id, string? RemoteId);

/// <summary>
/// Writes one node's hand-over marks and sent outcomes, many in one transaction, on a connection of its own that it
/// keeps until disposed (one sending batch). Every row moves only while <c>node</c> holds its claim, as in the store's
/// other moves. On SQLite each row is one run of a statement prepared once for the writer's life: parsing and planning
/// the same UPDATE for every message, through Dapper and a pooled connection, was most of a mark's cost. On PostgreSQL
/// the marks travel as arrays, hand-overs and outcomes in one round trip and one commit. One write at a time: the
/// caller serialises them (<see cref="DeliveryWorker"/> gathers the marks of all its lanes into each write).
/// </summary>
public sealed class DeliveryMarks(Database database, TimeProvider time, string node, TimeSpan lease) : IAsyncDisposable
{
    private static readonly string InFlight = DeliveryState.InFlight.ToColumn();
    private static readonly string Sent = DeliveryState.Sent.ToColumn();

    /// <summary>Moving to sent clears the lease and the hand-over mark, as every move out of in-flight does.</summary>
    private static readonly string SentSet = $"state = '{Sent}', sent_at = @now, last_error = NULL, {DeliveryStore.LeavingInFlight}, updated_at = @now";

    /// <summary>Every mark finds its rows by id and moves them only while this node (the parameter named) holds them in flight.</summary>
    private static string HeldBy(string node) => $"{DeliveryStore.ByKeyWhere($"state = '{InFlight}'")} AND claimed_by = {node}";

    /// <summary>PostgreSQL: one hand-over mark, found by its id as a plain value ($1 now, $2 remote id, $3 id, $4 lease end, $5 node).</summary>
    internal static readonly string PostgresHandOverOne = $"""
        UPDATE deliveries SET handed_over_at = $1, remote_id = $2, lease_expires_at = $4, updated_at = $1
        WHERE id = $3 AND {HeldBy("$5")}
        RETURNING id
        """;

    /// <summary>PostgreSQL: many hand-over marks ($1 now, $2 remote ids, $3 ids, $4 lease end, $5 node); array_position picks each row's own values.</summary>
    internal static readonly string PostgresHandOverMany = $"""
        UPDATE deliveries SET handed_over_at = $1, remote_id = ($2::text[])[array_position($3::bigint[], id)], lease_expires_at = $4, updated_at = $1
        WHERE id = ANY($3::bigint[]) AND {HeldBy("$5")}
        RETURNING id
        """;

    /// <summary>PostgreSQL: sent outcomes ($1 now, $2 remote ids, $3 remote URLs, $4 ids, $5 node).</summary>
    internal static readonly string PostgresSent = $"""
        UPDATE deliveries SET {SentSet.Replace("@now", "$1", StringComparison.Ordinal)},
            remote_id = COALESCE(($2::text[])[array_position($4::bigint[], id)], remote_id), remote_url = ($3::text[])[array_position($4::bigint[], id)]
        WHERE id = ANY($4::bigint[]) AND {HeldBy("$5")}
        RETURNING id
        """;

    private DbConnection? connection;
    private SqliteCommand? handOverRow;
    private SqliteCommand? sentRow;

    /// <summary>
    /// Writes the marks in one transaction: which of <paramref name="handOvers"/> were marked (the rest are no longer
    /// this node's, and must not be sent), and how many of <paramref name="sent"/> were written.
    /// </summary>
    public async Task<(IReadOnlySet<long> HandedOver, int Sent)> WriteAsync(IReadOnlyList<HandOverMark> handOvers, IReadOnlyList<SentMark> sent, CancellationToken cancellationToken)
    {
        if (!DeliveryStates.CanMove(DeliveryState.InFlight, DeliveryState.Sent)) throw new InvalidOperationException("A delivery cannot move from in-flight to sent.");
        if (handOvers.Count == 0 && sent.Count == 0) return (new HashSet<long>(), 0);
        connection ??= await OpenAsync(cancellationToken);
        try
        {
            return connection is SqliteConnection sqlite
                ? await WriteSqliteAsync(sqlite, handOvers, sent, cancellationToken)
                : await WritePostgresAsync(connection, handOvers, sent, cancellationToken);
        }
        catch
        {
            // Whatever broke, the next write starts on a fresh connection.
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// PostgreSQL plans a prepared statement afresh for its values on every run while it expects that plan to be cheaper
    /// than one plan for any values, and for an array of ids it always does (it takes an array it cannot see for ten
    /// ids, and most writes carry fewer). In a 100,000-reader send (pg_stat_statements) the many-row marks were planned
    /// 38,000 times, 3.25 s of the server's time against 6.1 s running them: 33 µs an e-mail. Their one plan reads the
    /// primary key whatever the values (DeliveryKeyPlanTests), so this connection always uses it, and resets the setting
    /// before the connection goes back to the pool. Not with <c>Max Auto Prepare=0</c> (behind a PgBouncer in transaction
    /// mode, where a session's setting could reach another client): nothing is kept prepared there to plan once.
    /// </summary>
    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var opened = await database.OpenAsync(cancellationToken);
        if (!database.KeepsStatementsPrepared) return opened;
        try
        {
            await using var set = opened.CreateCommand();
            set.CommandText = "SET plan_cache_mode = force_generic_plan";
            await set.ExecuteNonQueryAsync(cancellationToken);
            return opened;
        }
        catch
        {
            await opened.DisposeAsync();
            throw;
        }
    }

    private async Task<(IReadOnlySet<long>, int)> WriteSqliteAsync(SqliteConnection sqlite, IReadOnlyList<HandOverMark> handOvers, IReadOnlyList<SentMark> sent, CancellationToken cancellationToken)
    {
        var now = StoredTime.Text(time.GetUtcNow());
        handOverRow ??= Prepare(sqlite, $"""
            UPDATE deliveries SET handed_over_at = @now, remote_id = @remoteId, lease_expires_at = @leaseEnd, updated_at = @now
            WHERE id = @id AND {HeldBy("@node")}
            """, "@leaseEnd");
        sentRow ??= Prepare(sqlite, $"""
            UPDATE deliveries SET {SentSet}, remote_id = COALESCE(@remoteId, remote_id), remote_url = @remoteUrl
            WHERE id = @id AND {HeldBy("@node")}
            """, "@remoteUrl");
        var handedOver = new HashSet<long>();
        var written = 0;
        await using var transaction = sqlite.BeginTransaction();
        handOverRow.Transaction = sentRow.Transaction = transaction;
        if (handOvers.Count > 0)
        {
            var p = handOverRow.Parameters;
            p["@now"].Value = now;
            p["@leaseEnd"].Value = StoredTime.Text(time.GetUtcNow() + lease);
            foreach (var mark in handOvers)
            {
                p["@id"].Value = mark.Id;
                p["@remoteId"].Value = (object?)mark.RemoteId ?? DBNull.Value;
                if (await handOverRow.ExecuteNonQueryAsync(cancellationToken) == 1) handedOver.Add(mark.Id);
            }
        }
        if (sent.Count > 0)
        {
            var p = sentRow.Parameters;
            p["@now"].Value = now;
            foreach (var mark in sent)
            {
                p["@id"].Value = mark.Id;
                p["@remoteId"].Value = (object?)mark.RemoteId ?? DBNull.Value;
                p["@remoteUrl"].Value = (object?)mark.RemoteUrl ?? DBNull.Value;
                written += await sentRow.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return (handedOver, written);
    }

    /// <summary>A one-row statement with @id, @remoteId, @now, @node and <paramref name="extra"/>, kept prepared.</summary>
    private SqliteCommand Prepare(SqliteConnection sqlite, string sql, string extra)
    {
        var command = sqlite.CreateCommand();
        command.CommandText = sql;
        foreach (var name in new[] { "@id", "@remoteId", "@now", extra }) command.Parameters.Add(new SqliteParameter(name, DBNull.Value));
        command.Parameters.Add(new SqliteParameter("@node", node));
        return command;
    }

    private async Task<(IReadOnlySet<long>, int)> WritePostgresAsync(DbConnection postgres, IReadOnlyList<HandOverMark> handOvers, IReadOnlyList<SentMark> sent, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUniversalTime();
        // Statements of one batch run in one implicit transaction: the marks and the outcomes commit together. The
        // texts never change, so each connection keeps them prepared (Max Auto Prepare).
        await using var batch = postgres.CreateBatch();
        // One mark alone (every write over one connection) is found by its id as a plain value: the same statement with
        // a one-element array cost the server about a quarter more CPU per message in the bench.
        if (handOvers.Count == 1)
            Add(batch, PostgresHandOverOne, now, handOvers[0].RemoteId, handOvers[0].Id, now + lease, node);
        else if (handOvers.Count > 1)
            Add(batch, PostgresHandOverMany, now, handOvers.Select(m => m.RemoteId).ToArray(), handOvers.Select(m => m.Id).ToArray(), now + lease, node);
        if (sent.Count > 0)
            Add(batch, PostgresSent, now, sent.Select(m => m.RemoteId).ToArray(), sent.Select(m => m.RemoteUrl).ToArray(), sent.Select(m => m.Id).ToArray(), node);
        var handedOver = new HashSet<long>();
        var written = 0;
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (handOvers.Count > 0)
        {
            while (await reader.ReadAsync(cancellationToken)) handedOver.Add(reader.GetInt64(0));
            await reader.NextResultAsync(cancellationToken);
        }
        if (sent.Count > 0)
            while (await reader.ReadAsync(cancellationToken)) written++;
        return (handedOver, written);
    }

    private static void Add(DbBatch batch, string sql, params object?[] values)
    {
        var command = batch.CreateBatchCommand();
        command.CommandText = sql;
        foreach (var value in values)
        {
            var parameter = command.CreateParameter();
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        batch.BatchCommands.Add(command);
    }

    public async ValueTask DisposeAsync()
    {
        handOverRow?.Dispose();
        sentRow?.Dispose();
        handOverRow = sentRow = null;
        if (connection is null) return;
        if (database.KeepsStatementsPrepared && connection.State == System.Data.ConnectionState.Open)
        {
            try
            {
                await using var reset = connection.CreateCommand();
                reset.CommandText = "RESET plan_cache_mode";
                await reset.ExecuteNonQueryAsync(CancellationToken.None);
            }
            catch (DbException)
            {
                // Not handed out again with the setting: a broken connection leaves the pool anyway, and any other is
                // discarded when it is closed below (with the pool's idle ones, on this rare path).
                NpgsqlConnection.ClearPool((NpgsqlConnection)connection);
            }
        }
        await connection.DisposeAsync();
        connection = null;
    }
}
