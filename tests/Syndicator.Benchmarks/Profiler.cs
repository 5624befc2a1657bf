using System.Data.Common;
using System.Diagnostics;
using Dapper;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Feeds;
using Syndicator.Storage;

namespace Syndicator.Benchmarks;

/// <summary>
/// The full build's loop (FeedBuilder.BuildAsync / DocumentsAsync) replayed through the same public FeedStore,
/// SyndicationWriter, JsonFeedWriter and FeedOutput calls, with a stopwatch around each, plus probes of alternatives
/// (keyset paging, one pass over a scope) and the engines' query plans. Streams one document at a time, unlike the
/// builder, so its peak memory means nothing. The site scope's archive pages are sampled evenly and extrapolated.
/// </summary>
public static class Profiler
{
    // Copies of ArticleStore.SelectArticles and FeedStore.Where (both private) for the raw-SQL probes and the plans.
    private const string SelectArticles = """
        SELECT a.id, a.slug, a.title, a.summary, a.body_html AS BodyHtml, a.image_url AS ImageUrl, a.image_caption AS ImageCaption,
               a.image_credit AS ImageCredit, a.canonical_url AS CanonicalUrl, a.comment_url AS CommentUrl,
               a.published_at AS PublishedAt, a.updated_at AS UpdatedAt, a.content_hash AS ContentHash, a.source_name AS SourceName,
               au.id AS AuthorId, au.name AS AuthorName, au.bio AS AuthorBio, au.x_handle AS XHandle,
               au.mastodon_handle AS MastodonHandle, au.bluesky_handle AS BlueskyHandle
        FROM articles a JOIN authors au ON au.id = a.author_id
        """;

    private static string Where(FeedScope scope) => scope.Kind switch
    {
        FeedKind.Site => "WHERE 1 = 1",
        FeedKind.Author => "WHERE a.author_id = @key",
        _ => "WHERE a.id IN (SELECT article_id FROM article_tags WHERE tag = @key)",
    };

    public static async Task<ProfileResult> RunAsync(BenchOptions o, CancellationToken ct)
    {
        await using var app = BenchHost.Build(o);
        var feeds = app.Get<FeedStore>();
        var links = app.Get<FeedLinks>();
        var database = app.Get<Database>();
        var pageSize = app.Get<IOptions<FeedOptions>>().Value.ItemsPerFeed;
        var outDir = Path.Combine(o.Work!, "profile-out");
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        var output = new FeedOutput(outDir);
        var result = new ProfileResult();
        result.Notes.Add($"Replays FeedBuilder's loop with public calls; writes go to an empty folder of its own. ItemsPerFeed = {pageSize}.");

        await using var connection = await feeds.OpenAsync(ct);
        var t0 = Stopwatch.GetTimestamp();
        var scopes = await feeds.ScopesAsync(connection, ct);
        result.Probes["FeedStore.ScopesAsync (once per build, for index.html/feeds.opml), ms"] = Since(t0);

        var rows = new Dictionary<string, ProfileResult.KindRow>();
        ProfileResult.KindRow Row(string kind) => rows.TryGetValue(kind, out var r) ? r : rows[kind] = new ProfileResult.KindRow { Kind = kind };
        var sitePageTimes = new List<(int Page, double Ms)>();

        try
        {
            foreach (var (listed, _) in scopes.OrderBy(s => s.Scope.Kind))
            {
                ct.ThrowIfCancellationRequested();
                var kind = listed.Kind switch { FeedKind.Site => "site", FeedKind.Author => "authors", _ => "tags" };
                var row = Row(kind);
                row.Scopes++;

                var t = Stopwatch.GetTimestamp();
                var scope = await feeds.ResolveAsync(connection, listed.Id, ct) ?? listed;
                row.Op("resolve scope").Add(Since(t));

                t = Stopwatch.GetTimestamp();
                var total = await feeds.CountAsync(connection, scope, ct);
                row.Op("query count").Add(Since(t));
                var complete = total / pageSize;

                t = Stopwatch.GetTimestamp();
                var newest = await feeds.NewestAsync(connection, scope, pageSize, ct);
                row.Op("query newest").Add(Since(t));
                await RenderAndWriteAsync(row, new FeedDocument(scope, newest, null, complete), links, output, ct);
                row.Documents++;
                row.DocumentsMeasured++;

                var pages = Enumerable.Range(1, complete).ToList();
                var archive = row;
                if (scope.Kind == FeedKind.Site && o.ProfileSitePages > 0 && complete > o.ProfileSitePages)
                {
                    var n = o.ProfileSitePages;
                    pages = Enumerable.Range(0, n).Select(k => 1 + (int)Math.Round(k * (complete - 1) / (double)(n - 1))).Distinct().ToList();
                    archive = Row("site archive (sampled)");
                    archive.Scopes = 1;
                    archive.Factor = complete / (double)pages.Count;
                    result.Notes.Add($"Site archive: {pages.Count} of {complete:N0} pages timed, evenly spaced, and scaled by {archive.Factor:N1}.");
                }
                else if (scope.Kind == FeedKind.Site && complete > 0)
                {
                    archive = Row("site archive");
                    archive.Scopes = 1;
                }
                archive.Documents += complete;

                foreach (var page in pages)
                {
                    ct.ThrowIfCancellationRequested();
                    t = Stopwatch.GetTimestamp();
                    var items = await feeds.OldestFirstAsync(connection, scope, (page - 1) * pageSize, pageSize, ct);
                    var ms = Since(t);
                    archive.Op("query archive page (OFFSET)").Add(ms);
                    if (scope.Kind == FeedKind.Site) sitePageTimes.Add((page, ms));
                    await RenderAndWriteAsync(archive, new FeedDocument(scope, items.Reverse().ToList(), page, complete), links, output, ct);
                    archive.DocumentsMeasured++;
                }

                // What BuildAsync does after clean scopes: RecordCleanAsync opens its own connection and deletes the marks (none here).
                t = Stopwatch.GetTimestamp();
                await feeds.RecordCleanAsync([], [new DirtyFeed { Scope = "benchmark:none", Since = FeedStore.Beginning }], ct);
                row.Op("clear mark (new connection)").Add(Since(t));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            result.TimedOut = true;
            result.Notes.Add("The profile stopped at the phase limit; the rows cover what was measured until then.");
        }
        result.Kinds = rows.Values.ToList();
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);

        if (!result.TimedOut)
        {
            try
            {
                await ProbesAsync(result, feeds, database, connection, scopes, pageSize, sitePageTimes, ct);
                await PlansAsync(result, database, connection, scopes, pageSize, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                result.Notes.Add("The probes stopped at the phase limit.");
            }
        }
        result.PeakBytes = BenchHost.PeakWorkingSet();
        return result;
    }

    private static async Task RenderAndWriteAsync(ProfileResult.KindRow row, FeedDocument document, FeedLinks links, FeedOutput output, CancellationToken ct)
    {
        foreach (var (file, render) in new (string, Func<FeedDocument, FeedLinks, FeedFileBytes>)[]
                 { (FeedPaths.Rss, SyndicationWriter.Rss), (FeedPaths.Atom, SyndicationWriter.Atom), (FeedPaths.Json, JsonFeedWriter.Write) })
        {
            var t = Stopwatch.GetTimestamp();
            var bytes = render(document, links);
            row.Op("render " + file).Add(Since(t), bytes.Length);
            t = Stopwatch.GetTimestamp();
            await output.WriteIfChangedAsync(links.RelativePath(document.Scope, document.ArchivePage, file), bytes, ct);
            row.Op("write file").Add(Since(t), bytes.Length);
        }
    }

    private static async Task ProbesAsync(ProfileResult result, FeedStore feeds, Database database, DbConnection connection,
        IReadOnlyList<(FeedScope Scope, int Count)> scopes, int pageSize, List<(int Page, double Ms)> sitePageTimes, CancellationToken ct)
    {
        var p = result.Probes;
        if (sitePageTimes.Count > 0)
        {
            var sorted = sitePageTimes.OrderBy(x => x.Page).ToList();
            p[$"site OldestFirstAsync, page {sorted[0].Page} (offset {(sorted[0].Page - 1) * pageSize:N0}), ms"] = sorted[0].Ms;
            var mid = sorted[sorted.Count / 2];
            p[$"site OldestFirstAsync, page {mid.Page} (offset {(mid.Page - 1) * pageSize:N0}), ms"] = mid.Ms;
            p[$"site OldestFirstAsync, page {sorted[^1].Page} (offset {(sorted[^1].Page - 1) * pageSize:N0}), ms"] = sorted[^1].Ms;

            // The same page through raw SQL, without ArticleStore's tag look-up and record building.
            var lastOffset = (sorted[^1].Page - 1) * pageSize;
            var t = Stopwatch.GetTimestamp();
            var raw = (await connection.QueryAsync<RawRow>(new CommandDefinition(
                SelectArticles + " WHERE 1 = 1 ORDER BY a.published_at, a.id LIMIT @limit OFFSET @offset", new { limit = pageSize, offset = lastOffset }, cancellationToken: ct))).AsList();
            p[$"raw SQL, last site page by OFFSET {lastOffset:N0} ({raw.Count} rows), ms"] = Since(t);

            // Keyset paging: every site page, each continuing after the previous page's last (published_at, id).
            t = Stopwatch.GetTimestamp();
            var pages = 0;
            var rows = 0;
            var page = (await connection.QueryAsync<RawRow>(new CommandDefinition(
                SelectArticles + " ORDER BY a.published_at, a.id LIMIT @limit", new { limit = pageSize }, cancellationToken: ct))).AsList();
            while (page.Count > 0)
            {
                pages++;
                rows += page.Count;
                var last = page[^1];
                page = (await connection.QueryAsync<RawRow>(new CommandDefinition(
                    SelectArticles + " WHERE (a.published_at, a.id) > (@p, @id) ORDER BY a.published_at, a.id LIMIT @limit",
                    new { p = last.PublishedAt, id = last.Id, limit = pageSize }, cancellationToken: ct))).AsList();
            }
            var keyset = Since(t);
            p[$"raw SQL, keyset walk over all {pages:N0} site pages ({rows:N0} rows), total ms"] = keyset;
            p["raw SQL, keyset walk, per page, ms"] = pages == 0 ? 0 : keyset / pages;

            // One streaming pass over the site scope instead of pages.
            t = Stopwatch.GetTimestamp();
            var n = 0;
            await foreach (var _ in connection.QueryUnbufferedAsync<RawRow>(SelectArticles + " ORDER BY a.published_at, a.id").WithCancellation(ct)) n++;
            p[$"raw SQL, one unbuffered pass over the site scope ({n:N0} rows), ms"] = Since(t);

            // Tags of one page (50 ids) as ArticleStore.WithTagsAsync asks for them.
            var ids = raw.Select(r => r.Id).ToArray();
            if (ids.Length > 0)
            {
                t = Stopwatch.GetTimestamp();
                const int repeat = 20;
                for (var i = 0; i < repeat; i++)
                {
                    var parameters = new DynamicParameters();
                    for (var k = 0; k < ids.Length; k++) parameters.Add("p" + k, ids[k]);
                    await connection.QueryAsync<(string, string)>(new CommandDefinition(
                        $"SELECT article_id, tag FROM article_tags WHERE article_id IN ({string.Join(",", ids.Select((_, k) => "@p" + k))}) ORDER BY tag",
                        parameters, cancellationToken: ct));
                }
                p["tag look-up for one page (IN list of 50 ids), ms"] = Since(t) / repeat;
            }
        }

        // Connection opening as ClearAsync/DirtyAsync do it (pooled; SQLite also runs its PRAGMAs each time).
        var t2 = Stopwatch.GetTimestamp();
        for (var i = 0; i < 50; i++) await using (await database.OpenAsync(ct)) { }
        p["Database.OpenAsync (pooled) + dispose, ms"] = Since(t2) / 50;

        var tag = scopes.Where(s => s.Scope.Kind == FeedKind.Tag).MaxBy(s => s.Count);
        if (tag.Scope is not null)
        {
            var t = Stopwatch.GetTimestamp();
            var complete = tag.Count / pageSize;
            await feeds.OldestFirstAsync(connection, tag.Scope, Math.Max(0, complete - 1) * pageSize, pageSize, ct);
            p[$"biggest tag ({tag.Count:N0} articles) OldestFirstAsync, last page, ms"] = Since(t);
        }
    }

    private static async Task PlansAsync(ProfileResult result, Database database, DbConnection connection,
        IReadOnlyList<(FeedScope Scope, int Count)> scopes, int pageSize, CancellationToken ct)
    {
        var site = scopes.First(s => s.Scope.Kind == FeedKind.Site);
        var tag = scopes.Where(s => s.Scope.Kind == FeedKind.Tag).MaxBy(s => s.Count);
        var author = scopes.Where(s => s.Scope.Kind == FeedKind.Author).MaxBy(s => s.Count);
        var queries = new List<(string Title, string Sql, object Args)>
        {
            ("site OldestFirstAsync, middle page", SelectArticles + $" {Where(site.Scope)} ORDER BY a.published_at, a.id LIMIT @limit OFFSET @offset",
                new { key = site.Scope.Key, limit = pageSize, offset = site.Count / 2 / pageSize * pageSize }),
            ("site NewestAsync", SelectArticles + $" {Where(site.Scope)} ORDER BY a.published_at DESC, a.id DESC LIMIT @limit", new { key = site.Scope.Key, limit = pageSize }),
        };
        if (tag.Scope is not null)
            queries.Add(("tag OldestFirstAsync, middle page", SelectArticles + $" {Where(tag.Scope)} ORDER BY a.published_at, a.id LIMIT @limit OFFSET @offset",
                new { key = tag.Scope.Key, limit = pageSize, offset = tag.Count / 2 / pageSize * pageSize }));
        if (author.Scope is not null)
            queries.Add(("author NewestAsync", SelectArticles + $" {Where(author.Scope)} ORDER BY a.published_at DESC, a.id DESC LIMIT @limit",
                new { key = author.Scope.Key, limit = pageSize }));
        queries.Add(("ScopesAsync, tags", "SELECT tag, COUNT(*) FROM article_tags GROUP BY tag ORDER BY tag", new { }));

        foreach (var (title, sql, args) in queries)
        {
            ct.ThrowIfCancellationRequested();
            IEnumerable<string> lines;
            if (database.Provider == StorageProvider.Sqlite)
            {
                var plan = await connection.QueryAsync(new CommandDefinition("EXPLAIN QUERY PLAN " + sql, args, cancellationToken: ct));
                lines = plan.Select(r => (string)((IDictionary<string, object>)r)["detail"]);
            }
            else
            {
                lines = await connection.QueryAsync<string>(new CommandDefinition("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, args, cancellationToken: ct));
            }
            result.Plans.Add($"{title}:\n    " + string.Join("\n    ", lines));
        }
    }

    private static double Since(long start) => Phases.Ms(start, Stopwatch.GetTimestamp());

    /// <summary>
    /// What-if, not the product's code: the same full build (same documents, same writers, same FeedOutput) but each
    /// scope read in ONE ordered, unbuffered query and each page rendered and written as soon as it is complete, so
    /// only a page of articles is alive at a time. Tags come from one read of article_tags. Its output digest is
    /// compared with the baseline's to show it produces byte for byte the same files.
    /// </summary>
    public static async Task<WhatIfResult> StreamingAsync(BenchOptions o, CancellationToken ct)
    {
        await using var app = BenchHost.Build(o);
        var feeds = app.Get<FeedStore>();
        var links = app.Get<FeedLinks>();
        var pageSize = app.Get<IOptions<FeedOptions>>().Value.ItemsPerFeed;
        var outDir = Path.Combine(o.Work!, "whatif-out");
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        var output = new FeedOutput(outDir);

        var all = Stopwatch.StartNew();
        double render = 0, write = 0;
        long bytes = 0;
        ulong digest = 0;
        int documents = 0, files = 0, scopesDone = 0;
        var timedOut = false;
        await using var connection = await feeds.OpenAsync(ct);
        var scopes = await feeds.ScopesAsync(connection, ct);
        var tags = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        await foreach (var (id, tag) in connection.QueryUnbufferedAsync<(string Id, string Tag)>("SELECT article_id, tag FROM article_tags ORDER BY tag").WithCancellation(ct))
        {
            if (!tags.TryGetValue(id, out var list)) tags[id] = list = [];
            list.Add(tag);
        }

        async Task EmitAsync(FeedDocument document)
        {
            foreach (var (file, writer) in new (string, Func<FeedDocument, FeedLinks, FeedFileBytes>)[]
                     { (FeedPaths.Rss, SyndicationWriter.Rss), (FeedPaths.Atom, SyndicationWriter.Atom), (FeedPaths.Json, JsonFeedWriter.Write) })
            {
                var t = Stopwatch.GetTimestamp();
                var content = writer(document, links);
                render += Since(t);
                var path = links.RelativePath(document.Scope, document.ArchivePage, file);
                t = Stopwatch.GetTimestamp();
                await output.WriteIfChangedAsync(path, content, ct);
                write += Since(t);
                bytes += content.Length;
                files++;
                if (o.Verify) digest += Phases.Digest(path, content.ToArray());
            }
            documents++;
        }

        try
        {
            foreach (var (scope, count) in scopes)
            {
                ct.ThrowIfCancellationRequested();
                var complete = count / pageSize;
                var page = new List<Article>(pageSize);
                var pageNo = 0;
                var newest = new Queue<Article>(pageSize + 1);
                await foreach (var row in connection.QueryUnbufferedAsync<RawRow>(
                    SelectArticles + $" {Where(scope)} ORDER BY a.published_at, a.id", new { key = scope.Key }).WithCancellation(ct))
                {
                    var article = row.ToArticle(tags.TryGetValue(row.Id, out var t) ? t : []);
                    newest.Enqueue(article);
                    if (newest.Count > pageSize) newest.Dequeue();
                    if (pageNo == complete) continue;
                    page.Add(article);
                    if (page.Count < pageSize) continue;
                    page.Reverse();
                    await EmitAsync(new FeedDocument(scope, page, ++pageNo, complete));
                    page = new List<Article>(pageSize);
                }
                await EmitAsync(new FeedDocument(scope, newest.Reverse().ToList(), null, complete));
                scopesDone++;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            timedOut = true;
        }
        var ms = all.Elapsed.TotalMilliseconds;
        var peak = BenchHost.PeakWorkingSet();
        if (!o.Keep && Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        return new WhatIfResult(ms, scopes.Count, scopesDone, documents, files, bytes, digest, timedOut, ms - render - write, render, write, peak);
    }

    private sealed class RawRow
    {
        public string Id { get; init; } = "";
        public string Slug { get; init; } = "";
        public string Title { get; init; } = "";
        public string Summary { get; init; } = "";
        public string BodyHtml { get; init; } = "";
        public string? ImageUrl { get; init; }
        public string? ImageCaption { get; init; }
        public string? ImageCredit { get; init; }
        public string CanonicalUrl { get; init; } = "";
        public string? CommentUrl { get; init; }
        public DateTimeOffset PublishedAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
        public string ContentHash { get; init; } = "";
        public string? SourceName { get; init; }
        public string AuthorId { get; init; } = "";
        public string AuthorName { get; init; } = "";
        public string? AuthorBio { get; init; }
        public string? XHandle { get; init; }
        public string? MastodonHandle { get; init; }
        public string? BlueskyHandle { get; init; }

        /// <summary>As ArticleStore's own row mapping does it.</summary>
        public Article ToArticle(IReadOnlyList<string> tags) => new(
            Id, Syndicator.Shared.Slug.Parse(Slug), Title, Summary, BodyHtml,
            new Author(AuthorId, AuthorName, AuthorBio, new SocialHandles(XHandle, MastodonHandle, BlueskyHandle)),
            tags,
            ImageUrl is null && ImageCaption is null && ImageCredit is null ? null : new ArticleImage(ImageUrl is null ? null : Syndicator.Shared.WebUrl.Parse(ImageUrl), ImageCaption, ImageCredit),
            Syndicator.Shared.WebUrl.Parse(CanonicalUrl), CommentUrl is null ? null : Syndicator.Shared.WebUrl.Parse(CommentUrl), PublishedAt, UpdatedAt, ContentHash);
    }
}
