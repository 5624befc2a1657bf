using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Deliveries;

/// <summary>
/// PostgreSQL: statements that move deliveries found by a key (the ids of a sending run's marks, one article's
/// deliveries when the publisher changes its announcement) read that key's index, however many deliveries are queued
/// and whatever the statistics say. A run marks rows right after planning queued thousands, before autovacuum analyses
/// them; with a plain state test the planner proved the partial indexes' predicate, took them for nearly empty, and
/// read every queued entry for each handful of rows.
/// </summary>
public sealed class DeliveryKeyPlanTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const int Queued = 3_000;
    private const string Node = "node-a";

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Marks_read_the_primary_key_and_no_partial_index_while_thousands_are_queued_unanalysed(bool analysedHistory)
    {
        await using var store = await StoreAsync();
        await using var connection = (NpgsqlConnection)await store.Database.OpenAsync(Ct);
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
        await foreach (var _ in PlanModesAsync(connection, transaction, 3))
        {
            var one = Take(1);
            Assert.Equal(one, await RowsAsync(connection, transaction, DeliveryMarks.PostgresHandOverOne, now, "<m@x>", one[0], now.AddMinutes(5), Node));
            var many = Take(8);
            Assert.Equal(many, await RowsAsync(connection, transaction, DeliveryMarks.PostgresHandOverMany, now, many.Select(i => $"<m{i}@x>").ToArray(), many, now.AddMinutes(5), Node));
            var sent = Take(8);
            Assert.Equal(sent, await RowsAsync(connection, transaction, DeliveryMarks.PostgresSent, now, new string?[sent.Length], new string?[sent.Length], sent, Node));
            // Rows another node holds are not moved.
            Assert.Empty(await RowsAsync(connection, transaction, DeliveryMarks.PostgresSent, now, new string?[1], new string?[1], Take(1), "node-b"));
        }

        await AssertReadByAsync("deliveries_pkey", connection, transaction, before);
        Assert.Equal(3 * 2 * 8, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM deliveries WHERE state = 'sent' AND claimed_by = @node AND subject_id LIKE 'new-%'", new { node = Node }, transaction));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_marks_writer_plans_its_array_statements_once_and_hands_its_connection_back_as_it_found_it()
    {
        await using var store = await StoreAsync();
        var (database, ids) = await OnePooledConnectionAsync(store, "marks-plans", 120);

        const int writes = 12;
        await using (var writer = new DeliveryStore(database, TimeProvider.System).OpenMarks(Node, TimeSpan.FromMinutes(5)))
            for (var i = 0; i < writes; i++)
            {
                // Three hand-overs and three outcomes a write: both as arrays, and more rows each time.
                var batch = ids.Skip(i * 6).Take(6).ToArray();
                var (handedOver, sent) = await writer.WriteAsync(batch[..3].Select(id => new HandOverMark(id, $"<{id}@m.example>")).ToList(),
                    batch[3..].Select(id => new SentMark(id, null, null)).ToList(), Ct);
                Assert.Equal((3, 3), (handedOver.Count, sent));
            }

        await using var after = await database.OpenAsync(Ct);
        Assert.Equal("auto", await after.ExecuteScalarAsync<string>("SHOW plan_cache_mode"));
        // Npgsql prepares a statement after a few runs; from then on PostgreSQL's own cache would plan the next five for their values.
        var plans = (await after.QueryAsync<(string Statement, long Generic, long Custom)>(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'UPDATE deliveries SET%'")).ToList();
        Assert.Equal(2, plans.Count);
        Assert.All(plans, p => Assert.True(p.Generic >= writes - 5 && p.Custom == 0, $"{p.Generic} generic and {p.Custom} custom plans of {p.Statement}"));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_marks_writer_whose_connection_broke_is_put_away_quietly_and_the_next_caller_gets_a_clean_connection()
    {
        await using var store = await StoreAsync();
        var (database, ids) = await OnePooledConnectionAsync(store, "marks-writer", 2);

        var writer = new DeliveryStore(database, TimeProvider.System).OpenMarks(Node, TimeSpan.FromMinutes(5));
        Assert.Single((await writer.WriteAsync([new HandOverMark(ids[0], null)], [], Ct)).HandedOver);
        // The server ends the writer's session (a restart, a failover, an administrator) while the batch still holds it:
        // resetting the plan setting on the way out fails.
        await using (var admin = await store.Database.OpenAsync(Ct))
            Assert.Equal(1, await admin.ExecuteScalarAsync<int>(
                "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'marks-writer') t"));

        await writer.DisposeAsync();

        await using (var next = await database.OpenAsync(Ct))
            Assert.Equal("auto", await next.ExecuteScalarAsync<string>("SHOW plan_cache_mode"));
        await using var again = new DeliveryStore(database, TimeProvider.System).OpenMarks(Node, TimeSpan.FromMinutes(5));
        Assert.Single((await again.WriteAsync([new HandOverMark(ids[1], null)], [], Ct)).HandedOver);
    }

    private const int Accounts = 10;

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Moves_of_an_articles_deliveries_read_its_key_and_no_partial_index_while_thousands_are_queued_unanalysed(bool analysedHistory)
    {
        await using var store = await StoreAsync();
        await using var connection = (NpgsqlConnection)await store.Database.OpenAsync(Ct);
        // Each article announced to ten accounts on one network, an hour from now.
        const string insert = """
            INSERT INTO deliveries (channel, subject_kind, subject_id, subject_version, recipient_kind, recipient, delivery_key, state, attempts, next_attempt_at, created_at, updated_at)
            SELECT 'mastodon', 'article', @prefix || (g / @accounts), '', 'account', 'account-' || (g % @accounts), md5(@prefix || g), @state, 0, now() + interval '1 hour', now(), now()
            FROM generate_series(0, @count - 1) g
            """;
        if (analysedHistory)
        {
            await connection.ExecuteAsync(insert, new { prefix = "old-", state = "sent", accounts = Accounts, count = 2 * Queued });
            await connection.ExecuteAsync("ANALYZE deliveries");
        }
        await connection.ExecuteAsync(insert, new { prefix = "new-", state = "pending", accounts = Accounts, count = Queued });

        await using var transaction = await connection.BeginTransactionAsync(Ct);
        var before = await ReadsAsync(connection, transaction);
        var now = DateTimeOffset.UtcNow;
        var article = 0;
        (string, object)[] Reschedule(string channel) =>
            [("channel", channel), ("subjectKind", "article"), ("subjectId", $"new-{article++}"), ("subjectVersion", ""), ("notBefore", now.AddHours(2)), ("now", now)];
        await foreach (var _ in PlanModesAsync(connection, transaction, 6))
        {
            Assert.Equal(Accounts, await ChangedAsync(connection, transaction, DeliveryStore.RescheduleUntried, Reschedule("mastodon")));
            Assert.Equal(Accounts, await ChangedAsync(connection, transaction, DeliveryStore.MakeDue, ("kind", "article"), ("id", $"new-{article++}"), ("now", now)));
            // Another network's deliveries of the article are not its to move.
            Assert.Equal(0, await ChangedAsync(connection, transaction, DeliveryStore.RescheduleUntried, Reschedule("bluesky")));
        }

        await AssertReadByAsync("deliveries_subject_recipient_key", connection, transaction, before);
    }

    /// <summary>
    /// The store's database over one pooled connection, as the service configures it (a marks writer's connection is the
    /// one opened after it), named <paramref name="application"/> on the server; and the ids of <paramref name="inFlight"/>
    /// deliveries this node holds in flight.
    /// </summary>
    private static async Task<(Database Database, long[] Ids)> OnePooledConnectionAsync(TestStore store, string application, int inFlight)
    {
        var database = Database.FromOptions(new StorageOptions
        {
            Provider = StorageProvider.PostgreSql,
            ConnectionString = $"{store.ConnectionString};Maximum Pool Size=1;Application Name={application}",
        }, AppContext.BaseDirectory);
        await using var connection = await database.OpenAsync(Ct);
        var ids = await connection.QueryAsync<long>("""
            INSERT INTO deliveries (channel, subject_kind, subject_id, recipient_kind, recipient, delivery_key, state, attempts, next_attempt_at, claimed_by, lease_expires_at, created_at, updated_at)
            SELECT 'email', 'digest', 'd' || g, 'subscriber', 'reader-' || g, md5('k' || g), 'in-flight', 1, now(), @node, now() + interval '5 minutes', now(), now()
            FROM generate_series(1, @inFlight) g RETURNING id
            """, new { node = Node, inFlight });
        return (database, ids.Order().ToArray());
    }

    private static async Task<TestStore> StoreAsync()
    {
        var store = await TestStore.CreateAsync(StorageProvider.PostgreSql);
        await new SchemaMigrator(store.Database, NullLogger<SchemaMigrator>.Instance).MigrateAsync(Ct);
        await using var connection = await store.Database.OpenAsync(Ct);
        await connection.ExecuteAsync("ALTER TABLE deliveries SET (autovacuum_enabled = off)");
        return store;
    }

    /// <summary>
    /// Runs the caller's statements <paramref name="times"/> times with plans made for their values, then as many times
    /// with one plan for any values (as PostgreSQL's plan cache does after five runs of a prepared statement).
    /// </summary>
    private static async IAsyncEnumerable<int> PlanModesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int times)
    {
        foreach (var mode in new[] { "force_custom_plan", "force_generic_plan" })
        {
            await connection.ExecuteAsync($"SET LOCAL plan_cache_mode = {mode}", transaction: transaction);
            for (var i = 0; i < times; i++) yield return i;
        }
    }

    /// <summary>
    /// What the statements read since <paramref name="before"/>: PostgreSQL counts it per connection until the transaction
    /// ends, from the last report on (which may hold the setup's reads), so their own reads are the difference.
    /// </summary>
    private static async Task AssertReadByAsync(string index, NpgsqlConnection connection, NpgsqlTransaction transaction, Dictionary<string, (long Scans, long Read)> before)
    {
        var after = await ReadsAsync(connection, transaction);
        long Scans(string relation) => after[relation].Scans - before[relation].Scans;
        long Read(string relation) => after[relation].Read - before[relation].Read;
        Assert.True(Scans(index) > 0, $"the statements did not find their rows through {index}");
        Assert.Equal((0L, 0L), (Scans("ix_deliveries_due"), Read("ix_deliveries_due")));
        Assert.Equal((0L, 0L), (Scans("ix_deliveries_recipient"), Read("ix_deliveries_recipient")));
        Assert.Equal(0L, Scans("deliveries"));
    }

    /// <summary>Scans and entries read per index of deliveries, and the table's own sequential scans (under its name), in this connection's pending statistics.</summary>
    private static async Task<Dictionary<string, (long Scans, long Read)>> ReadsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction) =>
        (await connection.QueryAsync<(string Relation, long Scans, long Read)>("""
            SELECT c.relname, pg_stat_get_xact_numscans(c.oid), pg_stat_get_xact_tuples_returned(c.oid)
            FROM pg_class c WHERE c.oid = 'deliveries'::regclass OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'deliveries'::regclass)
            """, transaction: transaction)).ToDictionary(r => r.Relation, r => (r.Scans, r.Read));

    /// <summary>A statement with positional parameters, prepared (so the plan cache mode applies): the ids it returns.</summary>
    private static async Task<long[]> RowsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params object?[] values)
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

    /// <summary>A statement with the store's named parameters, prepared: how many rows it changed.</summary>
    private static async Task<int> ChangedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params (string Name, object Value)[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in values) command.Parameters.AddWithValue(name, value);
        await command.PrepareAsync(Ct);
        return await command.ExecuteNonQueryAsync(Ct);
    }
}
