using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Deliveries;

/// <summary>
/// PostgreSQL: a publisher's changes to one article's deliveries (a new announcement time, "announce now") find the
/// article's rows by its subject key, however many deliveries are queued and whatever the statistics say. With a plain
/// state test the planner can prove the partial indexes' predicate and, taking them for nearly empty, read every queued
/// entry for one article's handful of rows (the same trap as the sending run's marks, see DeliveryMarksPlanTests).
/// </summary>
public sealed class DeliverySubjectPlanTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const int Articles = 300;
    private const int Accounts = 10;

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Moves_by_article_read_its_key_and_no_partial_index_while_thousands_are_queued_unanalysed(bool analysedHistory)
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.PostgreSql);
        await new SchemaMigrator(store.Database, NullLogger<SchemaMigrator>.Instance).MigrateAsync(Ct);
        await using var connection = (NpgsqlConnection)await store.Database.OpenAsync(Ct);
        await connection.ExecuteAsync("ALTER TABLE deliveries SET (autovacuum_enabled = off)");
        // Each article announced to ten accounts on one network, an hour from now.
        const string insert = """
            INSERT INTO deliveries (channel, subject_kind, subject_id, subject_version, recipient_kind, recipient, delivery_key, state, attempts, next_attempt_at, created_at, updated_at)
            SELECT 'mastodon', 'article', @prefix || (g / @accounts), '', 'account', 'account-' || (g % @accounts), md5(@prefix || g), @state, 0, now() + interval '1 hour', now(), now()
            FROM generate_series(0, @count - 1) g
            """;
        if (analysedHistory)
        {
            // A store with a past: thousands sent, analysed while nothing was queued.
            await connection.ExecuteAsync(insert, new { prefix = "old-", state = "sent", accounts = Accounts, count = 2 * Articles * Accounts });
            await connection.ExecuteAsync("ANALYZE deliveries");
        }
        await connection.ExecuteAsync(insert, new { prefix = "new-", state = "pending", accounts = Accounts, count = Articles * Accounts });

        await using var transaction = await connection.BeginTransactionAsync(Ct);
        var before = await ReadsAsync(connection, transaction);
        var deliveries = new DeliveryStore(store.Database, TimeProvider.System);
        var now = DateTimeOffset.UtcNow;
        var article = 0;
        // Each statement the way the store runs it, first with plans made for their values, then (as PostgreSQL's plan
        // cache does after five runs of a prepared statement) with one plan for any values.
        foreach (var mode in new[] { "force_custom_plan", "force_generic_plan" })
        {
            await connection.ExecuteAsync($"SET LOCAL plan_cache_mode = {mode}", transaction: transaction);
            for (var i = 0; i < 6; i++)
            {
                Assert.Equal(Accounts, await RunAsync(connection, transaction, DeliveryStore.RescheduleUntried, ("channel", "mastodon"), ("subjectKind", "article"),
                    ("subjectId", $"new-{article++}"), ("subjectVersion", ""), ("notBefore", now.AddHours(2)), ("now", now)));
                Assert.Equal(Accounts, await RunAsync(connection, transaction, DeliveryStore.MakeDue, ("kind", "article"), ("id", $"new-{article++}"), ("now", now)));
                // Another network's deliveries of the article are not its to move.
                Assert.Equal(0, await deliveries.RescheduleUntriedAsync(connection, transaction, "bluesky", DeliverySubject.Article($"new-{article++}"), now.AddHours(2), Ct));
            }
        }

        var after = await ReadsAsync(connection, transaction);
        long Scans(string relation) => after[relation].Scans - before[relation].Scans;
        long Read(string relation) => after[relation].Read - before[relation].Read;
        Assert.True(Scans("deliveries_subject_recipient_key") > 0, "the moves did not find their rows by the article's key");
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

    /// <summary>A statement prepared (so the plan cache mode applies), with Dapper-style named parameters.</summary>
    private static async Task<int> RunAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params (string Name, object Value)[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in values) command.Parameters.AddWithValue(name, value);
        await command.PrepareAsync(Ct);
        return await command.ExecuteNonQueryAsync(Ct);
    }
}
