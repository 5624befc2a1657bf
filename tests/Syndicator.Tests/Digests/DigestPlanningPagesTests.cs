using Dapper;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;

namespace Syndicator.Tests.Digests;

/// <summary>The planner reads subscribers a page (5,000) at a time and writes each page's rows in a few statements; readers with the same articles share one edition.</summary>
public sealed class DigestPlanningPagesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
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

    [Theory, MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
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
}
