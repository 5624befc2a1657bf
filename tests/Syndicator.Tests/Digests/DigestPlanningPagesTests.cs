using Dapper;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>The planner reads subscribers a page (5,000) at a time and writes each page's rows in a few statements; readers with the same articles share one edition.</summary>
public sealed class DigestPlanningPagesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
    public async Task A_list_longer_than_a_page_gets_one_digest_per_reader_with_each_readers_follows_and_a_second_run_plans_none(StorageProvider provider)
    {
        await using var world = await DigestWorld.CreateAsync(provider);
        await world.ImportAsync("Alpha", "Jane Doe", DigestWorld.Start.AddHours(-3), "x");
        await world.ImportAsync("Beta", "علی رضایی", DigestWorld.Start.AddHours(-2), "y");
        await world.ImportAsync("Gamma 🚀", "Jane Doe", DigestWorld.Start.AddHours(-1));
        var database = world.App.Get<Database>();
        var coveredUntil = world.App.Get<DigestPlanner>().FirstWatermark(DigestFrequency.Daily).ToStoredPrecision();
        var stamp = world.Time.GetUtcNow().ToStoredPrecision();
        // 10,345 readers over three pages: every third follows Jane Doe, every fifth (not third) the tag y, the rest nothing.
        var readers = Enumerable.Range(0, 10_345).Select(i => (Id: $"reader-{i:D5}", Follows: i % 3 == 0 ? ("author", "Jane Doe") : i % 5 == 0 ? ("tag", "y") : ((string, string)?)null)).ToList();
        await using (var connection = await database.OpenAsync(Ct))
        {
            await using var transaction = await connection.BeginTransactionAsync(Ct);
            await connection.ExecuteAsync("""
                INSERT INTO subscribers (id, email, name, frequency, time_zone, state, hard_bounces, covered_until, created_at, confirmed_at)
                VALUES (@Id, @email, 'خواننده ✉', 'daily', 'UTC', 'confirmed', 0, @coveredUntil, @stamp, @stamp)
                """, readers.Select(r => new { r.Id, email = $"{r.Id}@example.com", coveredUntil, stamp }), transaction);
            await connection.ExecuteAsync("INSERT INTO subscriber_follows (subscriber_id, kind, value) VALUES (@Id, @kind, @value)",
                readers.Where(r => r.Follows is not null).Select(r => new { r.Id, kind = r.Follows!.Value.Item1, value = r.Follows.Value.Item2 }), transaction);
            // Between them (by id) weekly readers and unconfirmed ones who follow the tag x: the planner reads a page's
            // follows by the range of its ids, so theirs are in the range and must not reach the daily readers beside them.
            var others = Enumerable.Range(0, 10_345).Where(i => i % 4 == 0).SelectMany(i => new[] { (Id: $"reader-{i:D5}-w", Frequency: "weekly", State: "confirmed"), (Id: $"reader-{i:D5}-p", Frequency: "daily", State: "pending") }).ToList();
            await connection.ExecuteAsync("""
                INSERT INTO subscribers (id, email, name, frequency, time_zone, state, hard_bounces, covered_until, created_at)
                VALUES (@Id, @email, 'Ωmega 読者', @Frequency, 'UTC', @State, 0, @coveredUntil, @stamp)
                """, others.Select(o => new { o.Id, email = $"{o.Id}@example.com", o.Frequency, o.State, coveredUntil, stamp }), transaction);
            await connection.ExecuteAsync("INSERT INTO subscriber_follows (subscriber_id, kind, value) VALUES (@Id, 'tag', 'x')", others.Select(o => new { o.Id }), transaction);
            await transaction.CommitAsync(Ct);
        }
        world.Time.Advance(TimeSpan.FromHours(1));

        var planner = world.App.Get<DigestPlanner>();
        var report = await planner.PlanAsync(DigestFrequency.Daily, manual: false, Ct);

        Assert.Equal(new PlanReport(10_345, 0, 0), report);
        await using (var connection = await database.OpenAsync(Ct))
        {
            var items = (await connection.QueryAsync<(string Subscriber, long Items)>(
                "SELECT d.subscriber_id, COUNT(*) FROM digests d JOIN digest_edition_items i ON i.edition_id = d.edition_id GROUP BY d.subscriber_id")).ToDictionary(r => r.Subscriber, r => r.Items);
            Assert.Equal(10_345, items.Count);
            Assert.All(readers, r => Assert.Equal(r.Follows switch { null => 3, { Item1: "author" } => 2, _ => 1 }, items[r.Id]));
            // Each distinct list is stored once per page, whatever the number of readers sharing it: three editions
            // (everything, Jane Doe's, the tag y's) with 3 + 2 + 1 items on each of the three pages.
            Assert.Equal(9, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digest_editions"));
            Assert.Equal(18, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digest_edition_items"));
            Assert.Equal(9, await connection.ExecuteScalarAsync<long>("SELECT COUNT(DISTINCT edition_id) FROM digests"));
            // Digest ids are version 7 UUIDs that rise in the order the run planned them (readers by id), so each page's
            // rows go at the end of the indexes on them.
            var digestIds = (await connection.QueryAsync<(string Id, string Subscriber)>("SELECT id, subscriber_id FROM digests")).ToList();
            Assert.All(digestIds, d => Assert.Equal(7, Guid.Parse(d.Id).Version));
            Assert.Equal(digestIds.OrderBy(d => d.Subscriber, StringComparer.Ordinal).Select(d => d.Id), digestIds.Select(d => d.Id).Order(StringComparer.Ordinal));
            Assert.Equal(10_345, digestIds.Select(d => d.Id).Distinct().Count());
            var deliveries = (await connection.QueryAsync<(string Recipient, string Key)>("SELECT recipient, delivery_key FROM deliveries WHERE channel = 'email'")).ToList();
            Assert.Equal(readers.Select(r => r.Id).Order(), deliveries.Select(d => d.Recipient).Order());
            Assert.Equal(10_345, deliveries.Select(d => d.Key).Distinct().Count());
            // PostgreSQL writes the digests and deliveries with binary COPY: the rows read back as any other new delivery.
            var now = world.Time.GetUtcNow().ToStoredPrecision();
            var written = await world.App.Get<DeliveryStore>().ListAsync(new DeliveryQuery(Recipient: DeliveryRecipient.Subscriber("reader-10344"), Limit: 5), Ct);
            var delivery = Assert.Single(written);
            Assert.Equal((DeliveryState.Pending, 0, now, now, ""), (delivery.State, delivery.Attempts, delivery.NextAttemptAt, delivery.CreatedAt, delivery.Subject.Version));
            Assert.Equal(now, await connection.ExecuteScalarAsync<DateTimeOffset>("SELECT created_at FROM digests WHERE subscriber_id = 'reader-10344'"));
        }
        // The order a digest lists its articles in is kept per reader: newest first.
        var jane = (await world.App.Get<DeliveryStore>().ListAsync(new DeliveryQuery(Recipient: DeliveryRecipient.Subscriber("reader-00003"), Limit: 1), Ct)).Single();
        var titles = new List<string>();
        foreach (var id in await planner.ArticleIdsAsync(jane.Subject.Id, Ct)) titles.Add((await world.App.Get<Syndicator.Articles.ArticleStore>().FindByIdAsync(id, Ct))!.Title);
        Assert.Equal(["Gamma 🚀", "Alpha"], titles);

        Assert.Equal(new PlanReport(0, 0, 10_345), await planner.PlanAsync(DigestFrequency.Daily, manual: false, Ct));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
    public async Task Removing_readers_deletes_an_edition_with_the_last_digest_that_names_it(StorageProvider provider)
    {
        await using var world = await DigestWorld.CreateAsync(provider);
        await world.ImportAsync("سلام دنیا", "مریم 🌙", DigestWorld.Start.AddHours(-2), "x");
        await world.ImportAsync("Emoji 🚀 世界", "Jane Doe", DigestWorld.Start.AddHours(-1), "y");
        // Two readers share the edition of everything; the third follows Jane Doe and has an edition of their own.
        await world.SubscribeAsync("ana@example.com");
        await world.SubscribeAsync("bob+news@example.com");
        await world.SubscribeAsync("jane@example.com", authors: ["Jane Doe"]);
        world.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(3, (await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct)).Planned);
        var database = world.App.Get<Database>();
        async Task<(long Editions, long Items)> CountAsync()
        {
            await using var connection = await database.OpenAsync(Ct);
            return (await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digest_editions"),
                await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digest_edition_items"));
        }
        Assert.Equal((2, 3), await CountAsync());
        var store = world.App.Get<SubscriberStore>();

        Assert.True(await store.RemoveAsync("jane@example.com", Ct));
        Assert.Equal((1, 2), await CountAsync());
        Assert.True(await store.RemoveAsync("ANA@example.com", Ct));
        Assert.Equal((1, 2), await CountAsync());
        // The remaining reader's digest still carries both articles.
        await using (var connection = await database.OpenAsync(Ct))
        {
            var digest = await connection.ExecuteScalarAsync<string>("SELECT id FROM digests");
            Assert.Equal(2, (await world.App.Get<DigestPlanner>().ArticleIdsAsync(digest!, Ct)).Count);
        }
        Assert.False(await store.RemoveAsync("nobody@example.com", Ct));
        Assert.Equal((1, 2), await CountAsync());
        Assert.True(await store.RemoveAsync("bob+news@example.com", Ct));
        Assert.Equal((0, 0), await CountAsync());
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
    public async Task Readers_removed_while_a_run_plans_them_keep_no_digest_and_leave_no_edition_unnamed(StorageProvider provider)
    {
        await using var world = await DigestWorld.CreateAsync(provider);
        await world.ImportAsync("Alpha", "Jane Doe", DigestWorld.Start.AddHours(-2), "x");
        await world.ImportAsync("سلام 🌙", "مریم", DigestWorld.Start.AddHours(-1), "y");
        var database = world.App.Get<Database>();
        var coveredUntil = world.App.Get<DigestPlanner>().FirstWatermark(DigestFrequency.Daily).ToStoredPrecision();
        var stamp = world.Time.GetUtcNow().ToStoredPrecision();
        // 12,000 readers over three pages (on PostgreSQL two are written at once); every fourth follows the tag x, so
        // each page has two editions. Every twelfth reader is removed while the run plans.
        var readers = Enumerable.Range(0, 12_000).Select(i => $"reader-{i:D5}").ToList();
        await using (var connection = await database.OpenAsync(Ct))
        {
            await using var transaction = await connection.BeginTransactionAsync(Ct);
            await connection.ExecuteAsync("""
                INSERT INTO subscribers (id, email, name, frequency, time_zone, state, hard_bounces, covered_until, created_at, confirmed_at)
                VALUES (@id, @email, 'خواننده ✉', 'daily', 'UTC', 'confirmed', 0, @coveredUntil, @stamp, @stamp)
                """, readers.Select(id => new { id, email = $"{id}@example.com", coveredUntil, stamp }), transaction);
            await connection.ExecuteAsync("INSERT INTO subscriber_follows (subscriber_id, kind, value) VALUES (@id, 'tag', 'x')",
                readers.Where((_, i) => i % 4 == 0).Select(id => new { id }), transaction);
            await transaction.CommitAsync(Ct);
        }
        world.Time.Advance(TimeSpan.FromHours(1));
        // In an order that reaches every page early, so removals meet pages before, during and after their transaction.
        var removed = readers.Where((_, i) => i % 12 == 5).ToArray();
        new Random(15).Shuffle(removed);
        var store = world.App.Get<SubscriberStore>();

        var planning = world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);
        foreach (var id in removed) Assert.True(await store.RemoveAsync($"{id}@example.com", Ct));
        var report = await planning;

        var kept = readers.Except(removed).ToList();
        Assert.InRange(report.Planned, kept.Count, readers.Count);
        await using (var connection = await database.OpenAsync(Ct))
        {
            // Every reader left has their one digest; no digest names a removed reader; every edition is named by a digest.
            Assert.Equal(kept, (await connection.QueryAsync<string>("SELECT subscriber_id FROM digests ORDER BY subscriber_id")).ToList());
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM digest_editions e WHERE NOT EXISTS (SELECT 1 FROM digests g WHERE g.edition_id = e.id)"));
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM digest_edition_items i WHERE NOT EXISTS (SELECT 1 FROM digest_editions e WHERE e.id = i.edition_id)"));
        }
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task On_PostgreSQL_a_removal_waits_for_a_page_that_claimed_the_reader_and_then_deletes_the_digest_it_wrote()
    {
        await using var world = await DigestWorld.CreateAsync(StorageProvider.PostgreSql);
        await world.ImportAsync("Ωmega 読者", "Jane Doe", DigestWorld.Start.AddHours(-1));
        var reader = await world.SubscribeAsync("ana@example.com");
        var database = world.App.Get<Database>();
        world.Time.Advance(TimeSpan.FromHours(1));
        // A page's transaction as the planner writes it: the claim (the watermark moved, which locks the row), then the
        // digest, its edition and item, not yet committed.
        await using var page = await database.OpenAsync(Ct);
        await using var transaction = await page.BeginTransactionAsync(Ct);
        Assert.Equal(1, await page.ExecuteAsync("UPDATE subscribers SET covered_until = @now WHERE id = @id", new { now = world.Time.GetUtcNow(), id = reader.Id }, transaction));
        await page.ExecuteAsync("""
            INSERT INTO digest_editions (id, created_at) VALUES ('edition-1', @now);
            INSERT INTO digest_edition_items (edition_id, article_id, position) SELECT 'edition-1', id, 0 FROM articles;
            INSERT INTO digests (id, subscriber_id, frequency, period, edition_id, created_at) VALUES ('digest-1', @id, 'daily', '2026-11-02', 'edition-1', @now);
            """, new { now = world.Time.GetUtcNow(), id = reader.Id }, transaction);

        var removal = world.App.Get<SubscriberStore>().RemoveAsync("ana@example.com", Ct);
        // The removal waits on the reader's row lock (seen by the server, not by a clock) until the page commits.
        await using (var watch = await database.OpenAsync(Ct))
            while (await watch.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") == 0)
            {
                Assert.False(removal.IsCompleted, "The removal finished while the page that claimed the reader was still open.");
                await Task.Delay(20, Ct);
            }
        await transaction.CommitAsync(Ct);

        Assert.True(await removal);
        await using var connection = await database.OpenAsync(Ct);
        Assert.Equal((0L, 0L, 0L), (await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digests"),
            await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digest_editions"), await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digest_edition_items")));
    }
}
