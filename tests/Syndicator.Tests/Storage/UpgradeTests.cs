using System.Text.RegularExpressions;
using Dapper;
using DbUp;
using DbUp.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Hosting;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Storage;

/// <summary>
/// A database made by an older build, with rows in it, upgraded by the current one: the embedded migrations up to
/// 0006 only (what a build before the typed outbox shipped), rows written in that shape, then the current app's own
/// start-up migration. The rows must come through in the new shape and read back through the current stores.
/// </summary>
public sealed class UpgradeTests
{
    /// <summary>The current app on <paramref name="store"/>, with its folders in <paramref name="dir"/>: what the service runs when it starts on an older database.</summary>
    internal static Microsoft.AspNetCore.Builder.WebApplication CurrentApp(TestStore store, TempDir dir)
    {
        var settings = store.Settings();
        settings["Import:InboxPath"] = Path.Combine(dir.Path, "inbox");
        settings["Feeds:OutputPath"] = Path.Combine(dir.Path, "feeds");
        settings["Digests:PickupPath"] = Path.Combine(dir.Path, "pickup");
        settings["Digests:SigningKey"] = "file:" + Path.Combine(dir.Path, "signing.key");
        return SyndicatorHost.Build([], c => c.AddInMemoryCollection(settings));
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const string OldLevel = "0006";

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(MigrationTests.Providers), MemberType = typeof(MigrationTests))]
    public async Task A_database_at_migration_0006_with_rows_is_migrated_by_the_current_app_and_its_rows_read_in_the_new_shape(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        MigrateTo(store, OldLevel);
        var now = new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
        const string feedUrl = "https://x/feeds/site/rss.xml";
        await using (var connection = await store.Database.OpenAsync(Ct))
        {
            await connection.ExecuteAsync("""
                INSERT INTO authors (id, name, created_at, updated_at) VALUES ('a1', 'مریم 🌙', @now, @now);
                INSERT INTO articles (id, slug, title, summary, body_html, author_id, canonical_url, published_at, updated_at, content_hash, imported_at, created_at)
                VALUES ('art1', 'old-article', 'سرمقاله قدیمی 📰', 'Summary', '<p>Body</p>', 'a1', 'https://x/old-article', @now, @now, 'hash', @now, @now);
                INSERT INTO subscribers (id, email, frequency, time_zone, state, covered_until, created_at, confirmed_at)
                VALUES ('subId', 'reader@example.com', 'daily', 'Asia/Tehran', 'confirmed', @now, @now, @now);
                """, new { now });
            // The old outbox shapes: a feed ping's subject carried the hash of the feed's bytes after '#', a
            // confirmation's subscriber and sign-up hour after ':', and no row said what its recipient was.
            var rows = new (string Channel, string Kind, string Subject, string Recipient, string State, string? Error)[]
            {
                ("websub", "feed", feedUrl + "#0123456789abcdef", "https://hub.example/", "pending", null),
                ("websub", "feed", feedUrl + "#fedcba9876543210", "https://hub.example/", "sent", null),
                ("email", "confirmation", "subId:2026112510", "subId", "sent", null),
                ("email", "digest", "digest-1", "subId", "failed", "smtp: unconfirmed: the relay dropped the connection after DATA"),
                ("x", "article", "art1", "opinion_x", "sent", null),
            };
            foreach (var r in rows)
                await connection.ExecuteAsync("""
                    INSERT INTO deliveries (channel, subject_kind, subject_id, recipient, state, attempts, next_attempt_at, last_error, created_at, updated_at)
                    VALUES (@Channel, @Kind, @Subject, @Recipient, @State, 1, @now, @Error, @now, @now)
                    """, new { r.Channel, r.Kind, r.Subject, r.Recipient, r.State, r.Error, now });
        }

        // The current app, started on that database as the service starts: it applies what is missing.
        using var dir = new TempDir();
        await using var app = UpgradeTests.CurrentApp(store, dir);
        var migrator = app.Services.GetRequiredService<SchemaMigrator>();
        var report = await migrator.MigrateAsync(Ct);
        Assert.Equal(Embedded(store).Where(n => Number(n).CompareTo(OldLevel) > 0), report.Applied);
        Assert.Equal(6, report.AlreadyApplied.Count);
        // The schema is current: nothing left to apply, and a start with MigrateOnStart=false would accept it.
        Assert.Empty((await migrator.MigrateAsync(Ct)).Applied);
        await migrator.EnsureCurrentAsync(Ct);

        var deliveries = app.Services.GetRequiredService<DeliveryStore>();
        var all = new List<Delivery>();
        for (var id = 1L; id <= 5; id++) all.Add((await deliveries.GetAsync(id, Ct))!);

        // Feed pings: the URL is the subject, the hash its version; the two versions stay two rows.
        Assert.All(all.Take(2), d =>
        {
            Assert.Equal("feed", d.Subject.KindColumn);
            Assert.Equal(feedUrl, d.Subject.Id);
            Assert.Equal("hub", d.Recipient.KindColumn);
        });
        Assert.Equal(["0123456789abcdef", "fedcba9876543210"], all.Take(2).Select(d => d.Subject.Version));
        Assert.Equal([DeliveryState.Pending, DeliveryState.Sent], all.Take(2).Select(d => d.State));

        var confirmation = all[2];
        Assert.Equal(("confirmation", "subId", "2026112510"), (confirmation.Subject.KindColumn, confirmation.Subject.Id, confirmation.Subject.Version));
        Assert.Equal(("subscriber", "subId"), (confirmation.Recipient.KindColumn, confirmation.Recipient.Id));

        // A failed e-mail keeps its state and its reason word for word, and can be resent by hand as any other.
        var failed = all[3];
        Assert.Equal(DeliveryState.Failed, failed.State);
        Assert.Equal("smtp: unconfirmed: the relay dropped the connection after DATA", failed.LastError);
        Assert.Equal(("digest", "digest-1", ""), (failed.Subject.KindColumn, failed.Subject.Id, failed.Subject.Version));
        Assert.Equal("subscriber", failed.Recipient.KindColumn);
        Assert.True(await deliveries.RetryAsync(failed.Id, Ct));
        Assert.Equal(DeliveryState.Pending, (await deliveries.GetAsync(failed.Id, Ct))!.State);

        var post = all[4];
        Assert.Equal(("article", "art1", "account", "opinion_x"), (post.Subject.KindColumn, post.Subject.Id, post.Recipient.KindColumn, post.Recipient.Id));

        // Every row got a delivery key of its own (Message-IDs and idempotency keys are made from it).
        Assert.All(all, d => Assert.Matches("^[0-9a-f]{32}$", d.Key));
        Assert.Equal(all.Count, all.Select(d => d.Key).Distinct().Count());

        // The article and the subscriber read through the current stores, with the columns later migrations added.
        var article = await app.Services.GetRequiredService<ArticleStore>().FindByIdAsync("art1", Ct);
        Assert.Equal("سرمقاله قدیمی 📰", article!.Title);
        Assert.Equal("old-article", article.Slug.Value);
        var subscriber = await app.Services.GetRequiredService<SubscriberStore>().FindAsync("reader@example.com", Ct);
        Assert.Equal(("subId", SubscriberState.Confirmed, "Asia/Tehran"), (subscriber!.Id, subscriber.State, subscriber.TimeZone));

        // And the upgraded outbox takes new rows of the new shape beside the old ones.
        Assert.True(await deliveries.EnsureAsync("websub", DeliverySubject.Feed(feedUrl, "00000000000000aa"), DeliveryRecipient.Hub("https://hub.example/"), now, Ct));
        Assert.False(await deliveries.EnsureAsync("websub", DeliverySubject.Feed(feedUrl, "0123456789abcdef"), DeliveryRecipient.Hub("https://hub.example/"), now, Ct));
    }

    /// <summary>Applies the embedded migrations up to and including <paramref name="level"/>, journaled as the current build journals them.</summary>
    private static void MigrateTo(TestStore store, string level)
    {
        UpgradeEngineBuilder builder = store.Provider == StorageProvider.Sqlite
            ? DeployChanges.To.SqliteDatabase(store.ConnectionString)
            : DeployChanges.To.PostgresqlDatabase(store.ConnectionString);
        var result = builder
            .WithScriptsEmbeddedInAssembly(typeof(SchemaMigrator).Assembly,
                name => name.Contains(store.Database.Dialect.MigrationFolder, StringComparison.Ordinal) && Number(name).CompareTo(level) <= 0)
            .WithTransactionPerScript()
            .LogToNowhere()
            .Build()
            .PerformUpgrade();
        Assert.True(result.Successful, result.Error?.ToString());
        Assert.Equal(int.Parse(level), result.Scripts.Count());
    }

    private static List<string> Embedded(TestStore store) =>
        typeof(SchemaMigrator).Assembly.GetManifestResourceNames()
            .Where(n => n.Contains(store.Database.Dialect.MigrationFolder, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();

    private static string Number(string scriptName) => Regex.Match(scriptName, @"\.(\d{4})_").Groups[1].Value;
}
