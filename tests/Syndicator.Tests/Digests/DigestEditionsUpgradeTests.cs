using System.Text.RegularExpressions;
using Dapper;
using DbUp;
using DbUp.Builder;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;
using Syndicator.Tests.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>
/// Migration 0020 (digest editions) on a database at 0019 with digests in it: each old digest keeps its articles in
/// their order (an article unpublished since still left out), its name and the article page's count, and the
/// planner writes new digests beside them.
/// </summary>
public sealed class DigestEditionsUpgradeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(MigrationTests.Providers), MemberType = typeof(MigrationTests))]
    public async Task Digests_planned_before_editions_keep_their_articles_in_order_after_the_migration(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        MigrateTo(store, "0019");
        var now = DateTimeOffset.UtcNow.ToStoredPrecision();
        var created = now.AddHours(-1);
        await using (var connection = await store.Database.OpenAsync(Ct))
        {
            await connection.ExecuteAsync("""
                INSERT INTO authors (id, name, created_at, updated_at) VALUES ('a1', 'مریم 🌙', @created, @created);
                INSERT INTO articles (id, slug, title, summary, body_html, author_id, canonical_url, published_at, updated_at, content_hash, imported_at, created_at)
                VALUES ('art1', 'one', 'یک', 's', '<p>1</p>', 'a1', 'https://x/one', @created, @created, 'h1', @created, @created),
                       ('art2', 'two', '二 🚀', 's', '<p>2</p>', 'a1', 'https://x/two', @created, @created, 'h2', @created, @created),
                       ('art3', 'three', 'Three', 's', '<p>3</p>', 'a1', 'https://x/three', @created, @created, 'h3', @created, @created);
                INSERT INTO subscribers (id, email, frequency, time_zone, state, covered_until, created_at, confirmed_at)
                VALUES ('sub1', 'reader@example.com', 'daily', 'Asia/Tehran', 'confirmed', @watermark, @watermark, @watermark);
                INSERT INTO digests (id, subscriber_id, frequency, period, created_at) VALUES
                    ('digest-1', 'sub1', 'daily', '2026-11-01', @created), ('digest-2', 'sub1', 'daily', '2026-11-02', @created);
                INSERT INTO digest_items (digest_id, article_id, position) VALUES
                    ('digest-1', 'art3', 0), ('digest-1', 'art1', 1), ('digest-1', 'art2', 2), ('digest-2', 'art2', 0);
                UPDATE articles SET unpublished_at = @created WHERE id = 'art1';
                """, new { created, watermark = now.AddHours(-2) });
        }

        using var dir = new TempDir();
        await using var app = UpgradeTests.CurrentApp(store, dir);
        var report = await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(Ct);
        Assert.Contains(report.Applied, n => n.Contains("0020_digest_editions", StringComparison.Ordinal));

        var planner = app.Services.GetRequiredService<DigestPlanner>();
        // The order each was planned in; the article unpublished since is left out, as before.
        Assert.Equal(["art3", "art2"], await planner.ArticleIdsAsync("digest-1", Ct));
        Assert.Equal(["art2"], await planner.ArticleIdsAsync("digest-2", Ct));
        var deliveries = app.Services.GetRequiredService<DeliveryStore>();
        Assert.True(await deliveries.EnsureAsync(EmailChannel.ChannelName, DeliverySubject.Digest("digest-2"), DeliveryRecipient.Subscriber("sub1"), now, Ct));
        var namer = app.Services.GetRequiredService<DigestNamer>();
        Assert.Equal(1, (await namer.CountDigestsWithArticleAsync("art2", Ct))[DeliveryState.Pending]);
        var names = new DeliveryNames();
        await namer.NameAsync(await deliveries.ListAsync(new DeliveryQuery(Recipient: DeliveryRecipient.Subscriber("sub1")), Ct), names, Ct);
        Assert.Equal("digest of 1 article(s)", names.Of(DeliverySubject.Digest("digest-2")));

        // The planner writes the next digest into the new shape beside the migrated ones.
        var plan = await planner.PlanAsync(DigestFrequency.Daily, manual: true, Ct);
        Assert.Equal(1, plan.Planned);
        var next = (await deliveries.ListAsync(new DeliveryQuery(Recipient: DeliveryRecipient.Subscriber("sub1")), Ct))
            .Single(d => d.Subject.Id is not ("digest-1" or "digest-2"));
        Assert.Equal(["art2", "art3"], (await planner.ArticleIdsAsync(next.Subject.Id, Ct)).Order());
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(MigrationTests.Providers), MemberType = typeof(MigrationTests))]
    public async Task Migration_0022_deletes_the_editions_no_digest_names_and_keeps_the_rest(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        MigrateTo(store, "0021");
        var now = DateTimeOffset.UtcNow.ToStoredPrecision();
        await using (var connection = await store.Database.OpenAsync(Ct))
        {
            // An edition left behind by a removed reader (no digest names it) beside one a reader's digest still names.
            await connection.ExecuteAsync("""
                INSERT INTO authors (id, name, created_at, updated_at) VALUES ('a1', 'مریم 🌙', @now, @now);
                INSERT INTO articles (id, slug, title, summary, body_html, author_id, canonical_url, published_at, updated_at, content_hash, imported_at, created_at)
                VALUES ('art1', 'one', 'یک 🚀', 's', '<p>1</p>', 'a1', 'https://x/one', @now, @now, 'h1', @now, @now);
                INSERT INTO subscribers (id, email, frequency, time_zone, state, covered_until, created_at, confirmed_at)
                VALUES ('sub1', 'reader@example.com', 'daily', 'UTC', 'confirmed', @now, @now, @now);
                INSERT INTO digest_editions (id, created_at) VALUES ('kept', @now), ('orphan', @now);
                INSERT INTO digest_edition_items (edition_id, article_id, position) VALUES ('kept', 'art1', 0), ('orphan', 'art1', 0);
                INSERT INTO digests (id, subscriber_id, frequency, period, edition_id, created_at) VALUES ('digest-1', 'sub1', 'daily', '2026-11-01', 'kept', @now);
                """, new { now });
        }

        using var dir = new TempDir();
        await using var app = UpgradeTests.CurrentApp(store, dir);
        var report = await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(Ct);
        Assert.Contains(report.Applied, n => n.Contains("0022_orphaned_digest_editions", StringComparison.Ordinal));

        await using (var connection = await store.Database.OpenAsync(Ct))
        {
            Assert.Equal(["kept"], await connection.QueryAsync<string>("SELECT id FROM digest_editions"));
            Assert.Equal(["kept"], await connection.QueryAsync<string>("SELECT edition_id FROM digest_edition_items"));
        }
        Assert.Equal(["art1"], await app.Services.GetRequiredService<DigestPlanner>().ArticleIdsAsync("digest-1", Ct));
    }

    /// <summary>The embedded migrations up to and including <paramref name="level"/>, journaled as the current build journals them.</summary>
    private static void MigrateTo(TestStore store, string level)
    {
        UpgradeEngineBuilder builder = store.Provider == StorageProvider.Sqlite
            ? DeployChanges.To.SqliteDatabase(store.ConnectionString)
            : DeployChanges.To.PostgresqlDatabase(store.ConnectionString);
        var result = builder
            .WithScriptsEmbeddedInAssembly(typeof(SchemaMigrator).Assembly, name => name.Contains(store.Database.Dialect.MigrationFolder, StringComparison.Ordinal)
                && Regex.Match(name, @"\.(\d{4})_").Groups[1].Value.CompareTo(level) <= 0)
            .WithTransactionPerScript()
            .LogToNowhere()
            .Build()
            .PerformUpgrade();
        Assert.True(result.Successful, result.Error?.ToString());
    }
}
