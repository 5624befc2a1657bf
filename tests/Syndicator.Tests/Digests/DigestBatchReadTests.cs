using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Syndicator.Digests;
using Syndicator.Storage;
using Syndicator.Tests.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>
/// What a sending batch reads at once: its digests' articles (by edition, in their order, unpublished ones left out)
/// and its subscribers, each looked up by its key however large the tables, also before PostgreSQL has statistics on
/// them (a run sends right after planning, before autovacuum analyses the rows it wrote).
/// </summary>
public sealed class DigestBatchReadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const int Readers = 3_000;

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(MigrationTests.Providers), MemberType = typeof(MigrationTests))]
    public async Task A_batch_reads_its_digests_articles_by_edition_in_order_and_its_readers_by_key(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await new SchemaMigrator(store.Database, NullLogger<SchemaMigrator>.Instance).MigrateAsync(Ct);
        var now = DateTimeOffset.UtcNow.ToStoredPrecision();
        await using var connection = await store.Database.OpenAsync(Ct);
        await connection.ExecuteAsync("""
            INSERT INTO authors (id, name, created_at, updated_at) VALUES ('a1', 'مریم 🌙', @now, @now);
            INSERT INTO articles (id, slug, title, summary, body_html, author_id, canonical_url, published_at, updated_at, content_hash, imported_at, created_at)
            VALUES ('art1', 'one', 'یک', 's', '<p>1</p>', 'a1', 'https://x/one', @now, @now, 'h1', @now, @now),
                   ('art2', 'two', '二 🚀', 's', '<p>2</p>', 'a1', 'https://x/two', @now, @now, 'h2', @now, @now),
                   ('art3', 'three', 'Three', 's', '<p>3</p>', 'a1', 'https://x/three', @now, @now, 'h3', @now, @now);
            UPDATE articles SET unpublished_at = @now WHERE id = 'art1';
            INSERT INTO digest_editions (id, created_at) VALUES ('ed-a', @now), ('ed-b', @now);
            INSERT INTO digest_edition_items (edition_id, article_id, position) VALUES
                ('ed-a', 'art3', 0), ('ed-a', 'art1', 1), ('ed-a', 'art2', 2), ('ed-b', 'art2', 0);
            """, new { now });
        // Thousands of readers in edition A, as a run plans them, and one in edition B; thousands of addresses on the suppression list.
        await using (var transaction = await connection.BeginTransactionAsync(Ct))
        {
            await connection.ExecuteAsync("""
                INSERT INTO subscribers (id, email, frequency, time_zone, state, covered_until, created_at, confirmed_at)
                VALUES (@id, @email, 'daily', 'UTC', 'confirmed', @now, @now, @now)
                """, Enumerable.Range(0, Readers).Select(i => new { id = $"sub{i:D5}", email = $"reader{i}@example.com", now }), transaction);
            await connection.ExecuteAsync("""
                INSERT INTO digests (id, subscriber_id, frequency, period, edition_id, created_at)
                VALUES (@id, @subscriber, 'daily', '2026-11-27', @edition, @now)
                """, Enumerable.Range(0, Readers).Select(i => new { id = $"digest-{i:D5}", subscriber = $"sub{i:D5}", edition = i == 7 ? "ed-b" : "ed-a", now }), transaction);
            await connection.ExecuteAsync("""
                INSERT INTO suppressions (email, reason, source, created_at) VALUES (@email, 'unsubscribed', 'test', @now)
                """, Enumerable.Range(10, Readers).Select(i => new { email = $"reader{i}@example.com", now }).Where(r => r.email != "reader13@example.com"), transaction);
            await transaction.CommitAsync(Ct);
        }

        // The reads' own table scans, counted inside one transaction (PostgreSQL reports them there at once).
        await using (var reading = await connection.BeginTransactionAsync(Ct))
        {
            var ids = new[] { "digest-00005", "digest-00007", "digest-02999", "digest-00005", "gone" };
            var articles = await DigestPlanner.ArticleIdsAsync(connection, store.Database.Dialect, ids, Ct);
            Assert.Equal(["art3", "art2"], articles["digest-00005"]);
            Assert.Equal(["art2"], articles["digest-00007"]);
            Assert.Equal(["art3", "art2"], articles["digest-02999"]);
            Assert.Empty(articles["gone"]);

            Assert.Empty(await DigestPlanner.ArticleIdsAsync(connection, store.Database.Dialect, [], Ct));

            var suppressions = new SuppressionList(store.Database, TimeProvider.System);
            var readers = await new SubscriberStore(store.Database, suppressions, TimeProvider.System).FindManyAsync(connection, ["sub00001", "sub02998", "nobody"], Ct);
            Assert.Equal(["reader1@example.com", "reader2998@example.com"], readers.Values.Select(r => r.Email).Order());
            var listed = await suppressions.FindManyAsync(connection, ["Reader12@Example.com", "reader13@example.com", "reader1@example.com"], Ct);
            Assert.Equal(["reader12@example.com"], listed.Keys);
            Assert.Empty(await suppressions.FindManyAsync(connection, [], Ct));
            Assert.Empty(await new SubscriberStore(store.Database, suppressions, TimeProvider.System).FindManyAsync(connection, [], Ct));

            if (provider == StorageProvider.PostgreSql)
            {
                // Before statistics, reading a batch's digests as a join scanned every digest of the edition.
                var scans = await connection.QueryAsync<(string Table, long Scans)>(
                    "SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname IN ('digests', 'subscribers', 'suppressions')", transaction: reading);
                Assert.All(scans, s => Assert.True(s.Scans == 0, $"{s.Table} was read whole {s.Scans} time(s) for a batch of a few rows"));
            }
            await reading.RollbackAsync(Ct);
        }
    }
}
