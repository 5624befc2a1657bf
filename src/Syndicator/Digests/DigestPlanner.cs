using System.Buffers.Binary;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Shared;

namespace Syndicator.Digests;

public sealed record PlanReport(int Planned, int NothingNew, int NotDue)
{
    public override string ToString() => $"{Planned} digest(s) planned, {NothingNew} subscriber(s) with nothing new, {NotDue} not due";
}

/// <summary>
/// Decides who gets a digest now and fixes what it holds. For each confirmed subscriber of the frequency whose
/// period has not had its digest yet: the articles imported after their <c>covered_until</c> (and up to five seconds ago,
/// so an import still committing goes to the next one), filtered by the authors and tags they follow. The digest,
/// its edition (the article list it shares with every reader of the same watermark and follows planned in the same
/// transaction), its delivery and the
/// advanced <c>covered_until</c> are written in one transaction, so across crashes,
/// restarts and late imports no article is missed or repeated. No new articles: no e-mail.
/// </summary>
public sealed class DigestPlanner(
    Database database,
    SubscriberStore subscribers,
    DeliveryStore deliveries,
    IOptions<DigestOptions> options,
    TimeProvider time,
    ILogger<DigestPlanner> logger)
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Subscribers read at a time (memory stays flat whatever the list's length: a page is a few MB) and planned per
    /// transaction: 5,000 rather than 1,000 made 100,000 digests 20 commits, each with a WAL checkpoint on SQLite, not 100.
    /// </summary>
    private const int SubscribersPerPage = 5_000;

    /// <param name="manual">A digest sent by hand (<c>syndicator digest send</c>): ignores the schedule and does not use up the period's digest.</param>
    public async Task<PlanReport> PlanAsync(DigestFrequency frequency, bool manual, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToStoredPrecision();
        var cutoff = now - Settle;
        int planned = 0, nothingNew = 0, notDue = 0;
        var ids = new RunIds(now);
        var manualPeriod = $"manual-{now:yyyyMMddTHHmmss.ffffff}";
        var schedule = new Dictionary<string, (string Period, bool Due)>(StringComparer.Ordinal);
        // Subscribers with the same watermark and follows get the same articles: asked once per run.
        var articleLists = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        // Each page is claimed and written in a transaction of its own while the next page is read and composed here, and
        // on PostgreSQL two pages are written at once, each by its own connection (one server process each): with one
        // page at a time this process and the server took turns, and 100,000 digests took the sum of their CPU (2.0 +
        // 5.3 s) on two cores. Pages are disjoint ranges of ids and each commits whole, in whatever order, so a crash
        // leaves every reader either planned (watermark moved, digest and delivery written) or as they were.
        var pagesAtOnce = database.Dialect.ConcurrentWriters ? 2 : 1;
        var writing = new Queue<Task<(int Planned, int NothingNew)>>();
        try
        {
            var after = "";
            while (true)
            {
                await using var connection = await database.OpenAsync(cancellationToken);
                var page = await ReadersAsync(connection, frequency, after, cancellationToken);
                if (page.Count == 0) break;
                after = page[^1].Id;
                // Readers confirmed at different times have their own watermarks until their first digest: kept bounded.
                if (articleLists.Count >= 10_000) articleLists.Clear();
                // Each distinct list is stored once per page, as an edition only this page's digests name: an edition and
                // every digest that will ever name it commit together, so removing a reader can delete an edition whose
                // last digest goes without racing a planner that is about to name it (see SubscriberStore.RemoveAsync).
                var editions = new Dictionary<string, Edition>(StringComparer.Ordinal);
                var due = new List<PlannedDigest>();
                foreach (var reader in page)
                {
                    string period;
                    if (manual) period = manualPeriod;
                    else
                    {
                        // The period and whether it is due depend on the reader's zone only (the frequency is the run's): worked out once per run.
                        if (!schedule.TryGetValue(reader.TimeZone, out var when))
                            schedule[reader.TimeZone] = when = Schedule(reader.TimeZone, frequency, now);
                        if (when.Period == reader.LastPeriod || !when.Due) { notDue++; continue; }
                        period = when.Period;
                    }
                    // The articles are those of the run's cutoff whenever they are read, so before the claim, outside the page's transaction.
                    var key = reader.Window.Key;
                    if (!articleLists.TryGetValue(key, out var articleIds))
                        articleLists[key] = articleIds = await NewArticlesAsync(connection, reader.Window, cutoff, cancellationToken);
                    Edition? edition = null;
                    if (articleIds.Count > 0 && !editions.TryGetValue(key, out edition)) editions[key] = edition = new Edition(ids.Next(), articleIds);
                    due.Add(new PlannedDigest(ids.Next(), reader, period, edition));
                }
                if (due.Count == 0) continue;
                if (writing.Count == pagesAtOnce)
                {
                    var (pagePlanned, pageNothingNew) = await writing.Dequeue();
                    planned += pagePlanned;
                    nothingNew += pageNothingNew;
                }
                writing.Enqueue(WritePageAsync(frequency, due, cutoff, manual, now, cancellationToken));
            }
            while (writing.Count > 0)
            {
                var (pagePlanned, pageNothingNew) = await writing.Dequeue();
                planned += pagePlanned;
                nothingNew += pageNothingNew;
            }
        }
        catch when (writing.Count > 0)
        {
            // The run stops at the first failure; a page still being written ends first (it commits or rolls back whole),
            // so nothing of this run writes after it has returned. That page's own failure, if any, is the same run's.
            try { await Task.WhenAll(writing); }
            catch (OperationCanceledException) { }
            catch (Exception other) { logger.LogWarning(other, "{Frequency} digests: a page being written when the run failed failed too", frequency); }
            throw;
        }
        var report = new PlanReport(planned, nothingNew, notDue);
        logger.LogInformation("{Frequency} digests: {Report}", frequency, report.ToString());
        return report;
    }

    /// <summary>
    /// Claims a page's due readers and writes the digests of those claimed that have new articles, with their editions and
    /// deliveries, in one transaction and a few statements (one commit or statement per reader would make a large list wait
    /// on the disk). How many were planned, and how many had nothing new or were claimed by another planner.
    /// </summary>
    private async Task<(int Planned, int NothingNew)> WritePageAsync(DigestFrequency frequency, IReadOnlyList<PlannedDigest> due, DateTimeOffset cutoff,
        bool manual, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var claimed = await ClaimAsync(connection, transaction, due, cutoff, manual, cancellationToken);
        var digests = claimed.Where(d => d.Edition is not null).ToList();
        var editions = digests.Select(d => d.Edition!).DistinctBy(e => e.Id).ToList();
        await WriteDigestsAsync(connection, transaction, frequency, editions, digests, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (digests.Count, due.Count - digests.Count);
    }

    /// <summary>The articles of every digest with the same watermark and follows in one run, in the order the digest lists them.</summary>
    private sealed record Edition(string Id, IReadOnlyList<string> ArticleIds);

    /// <summary>A due reader's digest as the page's transaction writes it if it claims the reader; without an edition there is nothing new (the watermark still moves).</summary>
    private sealed record PlannedDigest(string Id, Reader Reader, string Period, Edition? Edition);

    /// <summary>
    /// What decides which articles a reader's next digest holds: their watermark and follows. Readers with the same
    /// window get the same articles (asked once per run, stored once per page as an edition); <see cref="Key"/> tells them apart.
    /// </summary>
    private sealed record Window(DateTimeOffset Since, IReadOnlyList<string> Authors, IReadOnlyList<string> Tags)
    {
        public string Key { get; } = $"{Since.UtcTicks}\n{string.Join('\t', Authors)}\n{string.Join('\t', Tags)}";
    }

    /// <summary>What planning reads of a confirmed reader: a few columns, not the whole <see cref="Subscriber"/>.</summary>
    private sealed record Reader(string Id, string TimeZone, string? LastPeriod, Window Window);

    /// <summary>
    /// Up to <see cref="SubscribersPerPage"/> confirmed readers of the frequency with ids after <paramref name="after"/>, in
    /// id order, with their follows (read by the range of the page's ids, which the follows' key starts with).
    /// </summary>
    private static async Task<List<Reader>> ReadersAsync(DbConnection connection, DigestFrequency frequency, string after, CancellationToken cancellationToken)
    {
        var rows = (await connection.QueryAsync<(string Id, string TimeZone, DateTimeOffset CoveredUntil, string? LastPeriod)>(new CommandDefinition("""
            SELECT id, time_zone, covered_until, last_period FROM subscribers
            WHERE state = @state AND frequency = @frequency AND id > @after ORDER BY id LIMIT @size
            """, new { state = SubscriberStore.Column(SubscriberState.Confirmed), frequency = SubscriberStore.Column(frequency), after, size = SubscribersPerPage },
            cancellationToken: cancellationToken))).AsList();
        if (rows.Count == 0) return [];
        var follows = (await connection.QueryAsync<(string SubscriberId, string Kind, string Value)>(new CommandDefinition("""
            SELECT subscriber_id, kind, value FROM subscriber_follows WHERE subscriber_id > @after AND subscriber_id <= @last ORDER BY value
            """, new { after, last = rows[^1].Id }, cancellationToken: cancellationToken))).ToLookup(f => f.SubscriberId, StringComparer.Ordinal);
        return rows.Select(r => new Reader(r.Id, r.TimeZone, r.LastPeriod, new Window(r.CoveredUntil,
            follows[r.Id].Where(f => f.Kind == "author").Select(f => f.Value).ToList(),
            follows[r.Id].Where(f => f.Kind == "tag").Select(f => f.Value).ToList()))).ToList();
    }

    /// <summary>
    /// Version 7 UUIDs (the form every digest id has) that increase through a run: the run's millisecond, then a 42-bit
    /// counter from a random start (RFC 9562's fixed-length counter, method 1), then 32 random bits. A run's digests and
    /// deliveries then go at the end of the indexes on their ids (random ids spread each page's 5,000 over every page
    /// of those indexes: on PostgreSQL 100,000 digest rows took 4.6 s with random ids against 2.2 s in order).
    /// </summary>
    private sealed class RunIds(DateTimeOffset now)
    {
        private readonly long millis = now.ToUnixTimeMilliseconds();
        // A random start under 2^41 leaves 2^41 ids before the 42 bits could wrap.
        private long counter = Random.Shared.NextInt64(1L << 41);

        public string Next()
        {
            var c = counter++;
            Span<byte> bytes = stackalloc byte[16];
            BinaryPrimitives.WriteInt64BigEndian(bytes, millis << 16);
            bytes[6] = (byte)(0x70 | ((c >> 38) & 0x0F));
            bytes[7] = (byte)(c >> 30);
            bytes[8] = (byte)(0x80 | ((c >> 24) & 0x3F));
            bytes[9] = (byte)(c >> 16);
            bytes[10] = (byte)(c >> 8);
            bytes[11] = (byte)c;
            if (used == random.Length) { RandomNumberGenerator.Fill(random); used = 0; }
            random.AsSpan(used, 4).CopyTo(bytes[12..]);
            used += 4;
            return new Guid(bytes, bigEndian: true).ToString();
        }

        // The random bits of 256 ids at a time: one call into the system's generator per id was 6 % of PostgreSQL planning's CPU here.
        private readonly byte[] random = new byte[1024];
        private int used = 1024;
    }

    /// <summary>
    /// Moves the watermark of each due subscriber whose watermark is still the one read: that claims their window,
    /// and a planner on another node that read the same watermark updates nothing and backs off, so no window is
    /// planned twice. The claimed ones, each with its period.
    /// </summary>
    private async Task<List<PlannedDigest>> ClaimAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyList<PlannedDigest> due, DateTimeOffset cutoff, bool manual, CancellationToken cancellationToken)
    {
        var claimed = new List<PlannedDigest>();
        foreach (var group in due.GroupBy(d => (d.Reader.Window.Since, d.Period)))
        {
            var parameters = new DynamicParameters(new { cutoff, period = group.Key.Period, since = group.Key.Since });
            var claimedIds = (await connection.QueryAsync<string>(new CommandDefinition($"""
                UPDATE subscribers SET covered_until = @cutoff{(manual ? "" : ", last_period = @period")}
                WHERE id IN {SqlList.InRows(parameters, "ids", group.Select(d => d.Reader.Id), database.Dialect)} AND covered_until = @since
                RETURNING id
                """, parameters, transaction, cancellationToken: cancellationToken))).ToHashSet(StringComparer.Ordinal);
            claimed.AddRange(group.Where(d => claimedIds.Contains(d.Reader.Id)));
        }
        return claimed;
    }

    /// <summary>The page's editions with their items, the digests and their deliveries, each in one statement or COPY (<see cref="SqlDialect.InsertRowsAsync"/>) whatever their number.</summary>
    private async Task WriteDigestsAsync(DbConnection connection, DbTransaction transaction, DigestFrequency frequency, IReadOnlyList<Edition> editions,
        IReadOnlyList<PlannedDigest> digests, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (digests.Count == 0) return;
        await database.Dialect.InsertRowsAsync(connection, transaction, EditionRows, editions.Select(e => new object?[] { e.Id, now }), cancellationToken);
        await database.Dialect.InsertRowsAsync(connection, transaction, EditionItemRows,
            editions.SelectMany(e => e.ArticleIds.Select((articleId, position) => new object?[] { e.Id, articleId, position })), cancellationToken);
        var frequencyColumn = SubscriberStore.Column(frequency);
        await database.Dialect.InsertRowsAsync(connection, transaction, DigestRows,
            digests.Select(d => new object?[] { d.Id, d.Reader.Id, frequencyColumn, d.Period, d.Edition!.Id, now }), cancellationToken);
        await deliveries.AddNewManyAsync(connection, transaction, EmailChannel.ChannelName,
            digests.Select(d => (DeliverySubject.Digest(d.Id), DeliveryRecipient.Subscriber(d.Reader.Id))).ToList(), now, cancellationToken);
    }

    private static readonly RowTable EditionRows = new("digest_editions", [new("id", ColumnType.Text), new("created_at", ColumnType.Timestamp)]);

    private static readonly RowTable EditionItemRows = new("digest_edition_items",
        [new("edition_id", ColumnType.Text), new("article_id", ColumnType.Text), new("position", ColumnType.Integer)]);

    private static readonly RowTable DigestRows = new("digests",
    [
        new("id", ColumnType.Text), new("subscriber_id", ColumnType.Text), new("frequency", ColumnType.Text), new("period", ColumnType.Text),
        new("edition_id", ColumnType.Text), new("created_at", ColumnType.Timestamp),
    ]);

    /// <summary>What each subscriber of the frequency would get now, without planning or sending anything.</summary>
    public async Task<IReadOnlyList<(Subscriber Subscriber, int Articles)>> PreviewAsync(DigestFrequency frequency, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow().ToStoredPrecision() - Settle;
        await using var connection = await database.OpenAsync(cancellationToken);
        var result = new List<(Subscriber, int)>();
        // Readers with the same window get the same articles: asked once, as planning does.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var subscriber in await subscribers.ListAsync(cancellationToken, SubscriberState.Confirmed, frequency))
        {
            var window = WindowOf(subscriber);
            if (!counts.TryGetValue(window.Key, out var count))
                counts[window.Key] = count = (await NewArticlesAsync(connection, window, cutoff, cancellationToken)).Count;
            result.Add((subscriber, count));
        }
        return result;
    }

    /// <summary>The ids of the articles the subscriber's next digest would carry if it were planned now, in its order; nothing is written.</summary>
    public async Task<IReadOnlyList<string>> NextArticleIdsAsync(Subscriber subscriber, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await NewArticlesAsync(connection, WindowOf(subscriber), time.GetUtcNow().ToStoredPrecision() - Settle, cancellationToken);
    }

    private static Window WindowOf(Subscriber subscriber) => new(subscriber.CoveredUntil, subscriber.FollowedAuthors, subscriber.FollowedTags);

    /// <summary>Articles imported after the window's watermark and up to <paramref name="cutoff"/>, of the authors or tags it follows (all when it follows none).</summary>
    private static async Task<List<string>> NewArticlesAsync(DbConnection connection, Window window, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var parameters = new DynamicParameters(new { since = window.Since, cutoff });
        var filters = new List<string>();
        // The exact spelling as well as the lower-cased one: SQLite's lower() folds ASCII only, so a follow of "Élodie" or
        // "Ωmega" matches by its exact spelling (the one the sign-up and preferences pages store), "jane doe" by case folding.
        if (window.Authors.Count > 0)
            filters.Add($"au.name IN {SqlList.In(parameters, "ax", window.Authors)} OR lower(au.name) IN {SqlList.In(parameters, "au", window.Authors.Select(a => a.ToLowerInvariant()).Distinct().ToList())}");
        if (window.Tags.Count > 0)
            filters.Add($"a.id IN (SELECT article_id FROM article_tags WHERE tag IN {SqlList.In(parameters, "tx", window.Tags)} OR lower(tag) IN {SqlList.In(parameters, "tg", window.Tags.Select(t => t.ToLowerInvariant()).Distinct().ToList())})");
        return (await connection.QueryAsync<string>(new CommandDefinition($"""
            SELECT a.id FROM articles a JOIN authors au ON au.id = a.author_id
            WHERE a.created_at > @since AND a.created_at <= @cutoff AND a.unpublished_at IS NULL
            {(filters.Count > 0 ? "AND (" + string.Join(" OR ", filters) + ")" : "")}
            ORDER BY a.published_at DESC, a.id
            """, parameters, cancellationToken: cancellationToken))).ToList();
    }

    /// <summary>Where a new subscriber's first digest starts: one period (or Digests:NewSubscriberLookBackPeriods) back.</summary>
    public DateTimeOffset FirstWatermark(DigestFrequency frequency) =>
        time.GetUtcNow() - (frequency == DigestFrequency.Daily ? TimeSpan.FromDays(1) : TimeSpan.FromDays(7)) * options.Value.NewSubscriberLookBackPeriods;

    /// <summary>The subscriber's current period in their own time zone: the local date, or the ISO week.</summary>
    public static string Period(Subscriber subscriber, DateTimeOffset now) => Period(Local(subscriber.TimeZone, now), subscriber.Frequency);

    private static DateTimeOffset Local(string zone, DateTimeOffset now) => TimeZoneInfo.ConvertTime(now, Zone(zone));

    private static string Period(DateTimeOffset local, DigestFrequency frequency) => frequency == DigestFrequency.Daily
        ? local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
        : $"{ISOWeek.GetYear(local.DateTime)}-W{ISOWeek.GetWeekOfYear(local.DateTime):D2}";

    /// <summary>The current period of a reader in <paramref name="zone"/> and whether their digest is due now.</summary>
    private (string Period, bool Due) Schedule(string zone, DigestFrequency frequency, DateTimeOffset now)
    {
        var o = options.Value;
        var local = Local(zone, now);
        var due = o.Schedule == DigestSchedule.Cron
            || (local.Hour >= o.LocalHour && (frequency == DigestFrequency.Daily || local.DayOfWeek == o.WeeklyDay));
        return (Period(local, frequency), due);
    }

    /// <summary>The ids of the articles a digest carries, in the order it lists them (fixed when it was planned); an article unpublished since is left out.</summary>
    public async Task<IReadOnlyList<string>> ArticleIdsAsync(string digestId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await ArticleIdsAsync(connection, database.Dialect, [digestId], cancellationToken))[digestId];
    }

    /// <summary>
    /// <see cref="ArticleIdsAsync(string, CancellationToken)"/> for many digests at once: a sending batch reads its
    /// digests' contents together. Two reads, each looked up by a primary key (<see cref="SqlList.KeyIn"/>): the digests'
    /// editions, then those few editions' items. As one join, PostgreSQL (without statistics yet on the digests a run
    /// has just planned, as when a run sends right after planning) went from the articles through the edition's index
    /// to every digest of the edition and only then kept the batch's: 19 ms of the server's time per batch of 100 at
    /// 10,000 readers, growing with the readers.
    /// </summary>
    internal static async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> ArticleIdsAsync(DbConnection connection, SqlDialect dialect,
        IReadOnlyCollection<string> digestIds, CancellationToken cancellationToken)
    {
        var parameters = new DynamicParameters();
        var editions = (await connection.QueryAsync<(string DigestId, string EditionId)>(new CommandDefinition($"""
            SELECT id, edition_id FROM digests WHERE {SqlList.KeyIn(parameters, "id", "digests", digestIds.Distinct(), dialect)}
            """, parameters, cancellationToken: cancellationToken))).ToList();
        Dictionary<string, IReadOnlyList<string>>? items = null;
        if (editions.Count > 0)
        {
            parameters = new DynamicParameters();
            items = (await connection.QueryAsync<(string EditionId, string ArticleId)>(new CommandDefinition($"""
                SELECT i.edition_id, i.article_id FROM digest_edition_items i JOIN articles a ON a.id = i.article_id
                WHERE {SqlList.KeyIn(parameters, "i.edition_id", "editions", editions.Select(e => e.EditionId).Distinct(), dialect)}
                  AND a.unpublished_at IS NULL
                ORDER BY i.edition_id, i.position
                """, parameters, cancellationToken: cancellationToken)))
                .GroupBy(r => r.EditionId, r => r.ArticleId, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.ToList(), StringComparer.Ordinal);
        }
        // The digests of one edition share its list: a batch holds many readers of few editions.
        var byDigest = editions.ToDictionary(e => e.DigestId, e => items?.GetValueOrDefault(e.EditionId) ?? [], StringComparer.Ordinal);
        foreach (var id in digestIds) byDigest.TryAdd(id, []);
        return byDigest;
    }

    public static TimeZoneInfo Zone(string id) => TimeZoneLookup.Find(id) ?? TimeZoneInfo.Utc;
}
