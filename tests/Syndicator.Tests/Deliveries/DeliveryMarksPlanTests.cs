using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Deliveries;

/// <summary>
/// PostgreSQL: the hand-over marks and sent outcomes of a sending run find their rows by id, however many deliveries
/// are queued and whatever the statistics say. A run marks rows right after planning queued thousands, before
/// autovacuum analyses them; with a plain state test the planner proved the partial indexes' predicate, took them for
/// nearly empty, and read every queued entry for each handful of ids.
/// </summary>
public sealed class DeliveryMarksPlanTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const int Queued = 3_000;
    private const string Node = "node-a";

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Marks_read_the_primary_key_and_no_partial_index_while_thousands_are_queued_unanalysed(bool analysedHistory)
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.PostgreSql);
        await new SchemaMigrator(store.Database, NullLogger<SchemaMigrator>.Instance).MigrateAsync(Ct);
        await using var connection = (NpgsqlConnection)await store.Database.OpenAsync(Ct);
        await connection.ExecuteAsync("ALTER TABLE deliveries SET (autovacuum_enabled = off)");
        const string insert = """
            INSERT INTO deliveries (channel, subject_kind, subject_id, recipient_kind, recipient, delivery_key, state, attempts, next_attempt_at, claimed_by, lease_expires_at, created_at, updated_at)
            SELECT 'email', 'digest', @prefix || g, 'subscriber', 'reader-' || @prefix || g, md5(@prefix || g), @state, 1, now(), @node, now() + interval '5 minutes', now(), now()
            FROM generate_series(1, @count) g
            """;
        if (analysedHistory)
        {
            // A store with a past: thousands sent, analysed while nothing was queued.
            await connection.ExecuteAsync(insert, new { prefix = "old-", state = "sent", node = Node, count = 2 * Queued });
            await connection.ExecuteAsync("ANALYZE deliveries");
        }
        // The queued rows' ids as the insert returns them: a query for them would count among the reads below, which
        // PostgreSQL reports per transaction only once a second.
        var ids = (await connection.QueryAsync<long>(insert + " RETURNING id", new { prefix = "new-", state = "in-flight", node = Node, count = Queued })).Order().ToList();

        await using var transaction = await connection.BeginTransactionAsync(Ct);
        var before = await ReadsAsync(connection, transaction);
        var next = 0;
        long[] Take(int n) => ids.Skip((next += n) - n).Take(n).ToArray();
        var now = DateTimeOffset.UtcNow;
        // Each statement the way the marks run it, prepared, over several writes: the first with plans made for their
        // values, then (as PostgreSQL's plan cache does after five) with one plan for any values.
        foreach (var mode in new[] { "force_custom_plan", "force_generic_plan" })
        {
            await connection.ExecuteAsync($"SET LOCAL plan_cache_mode = {mode}", transaction: transaction);
            for (var write = 0; write < 3; write++)
            {
                var one = Take(1);
                Assert.Equal(one, await RunAsync(connection, transaction, DeliveryMarks.PostgresHandOverOne, now, "<m@x>", one[0], now.AddMinutes(5), Node));
                var many = Take(8);
                Assert.Equal(many, await RunAsync(connection, transaction, DeliveryMarks.PostgresHandOverMany, now, many.Select(i => $"<m{i}@x>").ToArray(), many, now.AddMinutes(5), Node));
                var sent = Take(8);
                Assert.Equal(sent, await RunAsync(connection, transaction, DeliveryMarks.PostgresSent, now, new string?[sent.Length], new string?[sent.Length], sent, Node));
                // Rows another node holds are not moved.
                Assert.Empty(await RunAsync(connection, transaction, DeliveryMarks.PostgresSent, now, new string?[1], new string?[1], Take(1), "node-b"));
            }
        }

        // What the statements read: PostgreSQL counts it per connection until the transaction ends, from the last
        // report on (which may hold the setup's reads), so the marks' own reads are the difference.
        var after = await ReadsAsync(connection, transaction);
        long Scans(string relation) => after[relation].Scans - before[relation].Scans;
        long Read(string relation) => after[relation].Read - before[relation].Read;
        Assert.True(Scans("deliveries_pkey") > 0, "the marks did not find their rows by the primary key");
        Assert.Equal((0L, 0L), (Scans("ix_deliveries_due"), Read("ix_deliveries_due")));
        Assert.Equal((0L, 0L), (Scans("ix_deliveries_recipient"), Read("ix_deliveries_recipient")));
        Assert.Equal(0L, Scans("deliveries"));
        Assert.Equal(3 * 2 * 8, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM deliveries WHERE state = 'sent' AND claimed_by = @node AND subject_id LIKE 'new-%'", new { node = Node }, transaction));
    }

    /// <summary>Scans and entries read per index of deliveries, and the table's own sequential scans (under its name), in this connection's pending statistics.</summary>
    private static async Task<Dictionary<string, (long Scans, long Read)>> ReadsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction) =>
        (await connection.QueryAsync<(string Relation, long Scans, long Read)>("""
            SELECT c.relname, pg_stat_get_xact_numscans(c.oid), pg_stat_get_xact_tuples_returned(c.oid)
            FROM pg_class c WHERE c.oid = 'deliveries'::regclass OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'deliveries'::regclass)
            """, transaction: transaction)).ToDictionary(r => r.Relation, r => (r.Scans, r.Read));

    private static async Task<long[]> RunAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params object?[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        await command.PrepareAsync(Ct);
        var rows = new List<long>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct)) rows.Add(reader.GetInt64(0));
        rows.Sort();
        return rows.ToArray();
    }
}
