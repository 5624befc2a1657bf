using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Feeds;
using Syndicator.Storage;

namespace Syndicator.Benchmarks;

/// <summary>The work of each child process. Every phase builds the real app and stops gracefully at the phase time limit.</summary>
public static class Phases
{
    // ---------------------------------------------------------------- load
    public static async Task<LoadResult> LoadAsync(BenchOptions o, CancellationToken ct)
    {
        await using var app = BenchHost.Build(o);
        await app.Get<SchemaMigrator>().MigrateAsync(ct);
        var database = app.Get<Database>();
        Bench.Log($"generating and loading {o.Articles:N0} articles, {o.Authors:N0} authors, {o.Tags:N0} tags (seed {o.Seed})");
        var corpus = new Corpus(o);
        var sw = Stopwatch.StartNew();
        var counts = database.Provider == StorageProvider.Sqlite
            ? await Loaders.SqliteAsync(database.ConnectionString, corpus, ct)
            : await Loaders.PostgresAsync(database.ConnectionString, corpus, ct);
        var loadMs = sw.Elapsed.TotalMilliseconds;
        if (database.Provider == StorageProvider.PostgreSql)
        {
            // As autovacuum leaves a running store: without it a freshly copied article_tags has no visibility map, and
            // every tag feed's read visits the table's pages (a bitmap heap scan) instead of its index alone.
            await using var vacuum = await database.OpenAsync(ct);
            await vacuum.ExecuteAsync(new CommandDefinition("VACUUM (ANALYZE)", cancellationToken: ct, commandTimeout: 0));
        }

        var feeds = app.Get<FeedStore>();
        await feeds.MarkAllAsync(ct);
        await using var connection = await feeds.OpenAsync(ct);
        var scopes = (await feeds.ScopesAsync(connection, ct)).Count;
        var dirty = await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM feed_dirty");
        var bytes = await BenchHost.DatabaseBytesAsync(database, connection);
        return new LoadResult(counts.Authors, counts.Articles, counts.ArticleTags, loadMs, bytes, scopes, dirty, BenchHost.PeakWorkingSet());
    }

    // ---------------------------------------------------------------- baseline
    /// <summary>
    /// The same documents the full build produces (every scope, current feed and every complete archive page), built
    /// from articles loaded once, untimed; only the three writers are timed. No database, no files.
    /// </summary>
    public static async Task<BaselineResult> BaselineAsync(BenchOptions o, CancellationToken ct)
    {
        await using var app = BenchHost.Build(o);
        var links = app.Get<FeedLinks>();
        var pageSize = app.Get<IOptions<FeedOptions>>().Value.ItemsPerFeed;
        var feeds = app.Get<FeedStore>();

        var sw = Stopwatch.StartNew();
        var all = await app.Get<ArticleStore>().ListAsync(int.MaxValue, ct);
        IReadOnlyList<(FeedScope Scope, int Count)> scopes;
        await using (var connection = await feeds.OpenAsync(ct)) scopes = await feeds.ScopesAsync(connection, ct);
        var documents = Documents(all, scopes, pageSize);
        var loadMs = sw.Elapsed.TotalMilliseconds;
        Bench.Log($"baseline: {all.Count:N0} articles and {documents.Count:N0} documents in memory ({loadMs:N0} ms, untimed)");

        // No warm-up: like the full build's child process, the writers start cold (JIT included in both).
        double rss = 0, atom = 0, json = 0;
        long bytes = 0;
        ulong digest = 0;
        var files = 0;
        var timedOut = false;
        var lastLog = Stopwatch.StartNew();
        foreach (var document in documents)
        {
            if (ct.IsCancellationRequested) { timedOut = true; break; }
            var t = Stopwatch.GetTimestamp();
            var r = SyndicationWriter.Rss(document, links);
            var t1 = Stopwatch.GetTimestamp();
            var a = SyndicationWriter.Atom(document, links);
            var t2 = Stopwatch.GetTimestamp();
            var j = JsonFeedWriter.Write(document, links);
            var t3 = Stopwatch.GetTimestamp();
            rss += Ms(t, t1);
            atom += Ms(t1, t2);
            json += Ms(t2, t3);
            bytes += r.Length + a.Length + j.Length;
            files += 3;
            if (o.Verify)
            {
                digest += Digest(links.RelativePath(document.Scope, document.ArchivePage, FeedPaths.Rss), r.ToArray());
                digest += Digest(links.RelativePath(document.Scope, document.ArchivePage, FeedPaths.Atom), a.ToArray());
                digest += Digest(links.RelativePath(document.Scope, document.ArchivePage, FeedPaths.Json), j.ToArray());
            }
            if (lastLog.Elapsed.TotalSeconds > 20) { Bench.Log($"baseline: {files / 3:N0}/{documents.Count:N0} documents rendered"); lastLog.Restart(); }
        }
        return new BaselineResult(loadMs, all.Count, scopes.Count, files / 3, files, bytes, rss + atom + json, rss, atom, json, digest, timedOut,
            BenchHost.PeakWorkingSet());
    }

    /// <summary>What FeedBuilder.DocumentsAsync yields for every scope, from memory: oldest-first pages of ItemsPerFeed, reversed.</summary>
    private static List<FeedDocument> Documents(IReadOnlyList<Article> all, IReadOnlyList<(FeedScope Scope, int Count)> scopes, int pageSize)
    {
        var ordered = all.OrderBy(a => a.PublishedAt).ThenBy(a => a.Id, StringComparer.Ordinal).ToList();
        var byAuthor = ordered.GroupBy(a => a.Author.Id).ToDictionary(g => g.Key, g => g.ToList());
        var byTag = ordered.SelectMany(a => a.Tags.Select(t => (t, a))).GroupBy(x => x.t, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(x => x.a).ToList(), StringComparer.Ordinal);
        var documents = new List<FeedDocument>();
        foreach (var (scope, count) in scopes)
        {
            var items = scope.Kind switch
            {
                FeedKind.Site => ordered,
                FeedKind.Author => byAuthor.GetValueOrDefault(scope.Key) ?? [],
                _ => byTag.GetValueOrDefault(scope.Key) ?? [],
            };
            if (items.Count != count) throw new InvalidOperationException($"Scope {scope.Id}: {items.Count} articles in memory but the store counts {count}.");
            var complete = items.Count / pageSize;
            var newest = items.Skip(Math.Max(0, items.Count - pageSize)).Reverse().ToList();
            documents.Add(new FeedDocument(scope, newest, null, complete));
            for (var page = 1; page <= complete; page++)
                documents.Add(new FeedDocument(scope, items.Skip((page - 1) * pageSize).Take(pageSize).Reverse().ToList(), page, complete));
        }
        return documents;
    }

    // ---------------------------------------------------------------- full build
    public static async Task<FullResult> FullAsync(BenchOptions o, CancellationToken ct)
    {
        await using var app = BenchHost.Build(o);
        var builder = app.Get<FeedBuilder>();
        var output = builder.Output.Root;
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new InvalidOperationException($"The output folder {output} is not empty.");
        var peakBefore = BenchHost.PeakWorkingSet();

        var progress = new LoggingProgress("full build");
        var sw = Stopwatch.StartNew();
        FeedBuildReport? report = null;
        string? error = null;
        try
        {
            report = await builder.BuildAsync(full: true, progress, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            error = $"stopped at the phase limit ({o.PhaseTimeoutMinutes:0.#} min) after {progress.Done:N0} of {progress.Total:N0} scopes";
            Bench.Log("full build: " + error);
        }
        var ms = sw.Elapsed.TotalMilliseconds;
        var peak = BenchHost.PeakWorkingSet();

        // Untimed: what is on disk, and whether it is byte for byte what the baseline rendered.
        var (count, bytes, digest) = OutputDigest(output, o.Verify);
        return new FullResult(ms, progress.Total, report?.Scopes ?? progress.Done, report?.Written.Count ?? count, report?.Unchanged ?? 0,
            report is null, error, count, bytes, o.Verify ? digest : null, peakBefore, peak);
    }

    /// <summary>Feed files under the output folder (not index.html / feeds.opml / temporaries), their bytes and digest.</summary>
    private static (int Count, long Bytes, ulong Digest) OutputDigest(string root, bool hash)
    {
        if (!Directory.Exists(root)) return (0, 0, 0);
        int count = 0;
        long bytes = 0;
        ulong digest = 0;
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetFileName(file);
            if (name is not (FeedPaths.Rss or FeedPaths.Atom or FeedPaths.Json)) continue;
            count++;
            if (hash)
            {
                var content = File.ReadAllBytes(file);
                bytes += content.Length;
                digest += Digest(Path.GetRelativePath(root, file).Replace('\\', '/'), content);
            }
            else bytes += new FileInfo(file).Length;
        }
        return (count, bytes, digest);
    }

    // ---------------------------------------------------------------- incremental
    public static async Task<IncrementalResult> IncrementalAsync(BenchOptions o, CancellationToken ct)
    {
        await using var app = BenchHost.Build(o);
        var builder = app.Get<FeedBuilder>();
        var importer = app.Get<ArticleImporter>();
        var feeds = app.Get<FeedStore>();
        var corpus = new Corpus(o);

        int leftover, articles;
        List<string> authors, tags;
        await using (var connection = await feeds.OpenAsync(ct))
        {
            leftover = await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM feed_dirty");
            if (leftover > 0 && o.FullIncomplete)
            {
                // The full build stopped early: its marks would turn this into another full build.
                Bench.Log($"incremental: clearing {leftover:N0} dirty marks the full build left behind");
                await connection.ExecuteAsync("DELETE FROM feed_dirty");
            }
            authors = (await connection.QueryAsync<string>("SELECT name FROM authors ORDER BY name")).ToList();
            tags = (await connection.QueryAsync<string>("SELECT DISTINCT tag FROM article_tags ORDER BY tag")).ToList();
            articles = await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM articles WHERE unpublished_at IS NULL");
        }
        if (leftover > 0 && !o.FullIncomplete)
        {
            // A scope that failed, or a run of a kept corpus that stopped between its import and its build: built, untimed,
            // so the folder matches the store again before the timed builds.
            Bench.Log($"incremental: building the {leftover:N0} dirty marks left behind (untimed)");
            await builder.BuildAsync(full: false, null, ct);
        }

        // BuildAsync treats a missing site feed as a first build and marks every scope; only possible if the full build stopped early.
        var siteFeed = Path.Combine(builder.Output.Root, FeedScope.Site.Folder, FeedPaths.Rss);
        var placeholder = !File.Exists(siteFeed);
        if (placeholder)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(siteFeed)!);
            await File.WriteAllTextAsync(siteFeed, "<!-- placeholder: the full build stopped before the site feed -->", ct);
        }

        // A kept corpus grows by the runs before: a new seed per run, so no draft repeats an earlier one.
        var rng = new Random(o.Seed + 7 + articles);
        var runs = new List<IncrementalRun>();
        var warmUp = new List<IncrementalRun>();
        var loadBefore = Bench.LoadAverage();
        string? error = null;
        try
        {
            for (var i = 1; i <= o.IncrementalWarmUp + o.IncrementalRuns; i++)
            {
                if (i == o.IncrementalWarmUp + 1) loadBefore = Bench.LoadAverage();
                ct.ThrowIfCancellationRequested();
                DateTimeOffset newest;
                await using (var connection = await feeds.OpenAsync(ct))
                    newest = BenchHost.ReadTime((await connection.ExecuteScalarAsync<object>("SELECT MAX(published_at) FROM articles"))!);
                var author = authors[rng.Next(authors.Count)];
                var first = tags[rng.Next(tags.Count)];
                string second;
                do second = tags[rng.Next(tags.Count)]; while (second == first);
                var draft = corpus.Draft(rng, author, [first, second], newest.AddMinutes(37), $"bench-incremental-{i}-{newest.ToUnixTimeSeconds()}.md");

                var sw = Stopwatch.StartNew();
                var imported = await importer.ImportDraftsAsync([draft], ct);
                var importMs = sw.Elapsed.TotalMilliseconds;
                if (imported.Count != 1 || imported[0].Change != ImportChange.Created)
                    throw new InvalidOperationException($"The import did not create the article ({imported.FirstOrDefault()?.Change}).");

                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                sw.Restart();
                var report = await builder.BuildAsync(full: false, null, ct);
                var buildMs = sw.Elapsed.TotalMilliseconds;
                var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
                Bench.Log($"{(i <= o.IncrementalWarmUp ? "warm-up" : "incremental")} {i}: import {importMs:N1} ms, build {buildMs:N1} ms ({cpuMs:N0} ms CPU), {report.Scopes} scopes, {report.Written.Count} written, {report.Unchanged} unchanged");
                (i <= o.IncrementalWarmUp ? warmUp : runs).Add(new IncrementalRun(importMs, buildMs, cpuMs, report.Scopes, report.Written.Count, report.Unchanged, report.Reused, report.Written.Take(20).ToList()));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            error = $"stopped at the phase limit after {runs.Count} run(s)";
        }
        var peak = BenchHost.PeakWorkingSet();
        var loadAfter = Bench.LoadAverage();

        // Not part of the timed runs: one more article, then BuildAsync(full: false) replayed step by step.
        var breakdown = new Dictionary<string, Stat>();
        if (error is null)
        {
            try
            {
                await using (var connection = await feeds.OpenAsync(ct))
                {
                    var newest = BenchHost.ReadTime((await connection.ExecuteScalarAsync<object>("SELECT MAX(published_at) FROM articles"))!);
                    var draft = corpus.Draft(rng, authors[rng.Next(authors.Count)], [tags[0], tags[^1]], newest.AddMinutes(37), $"bench-incremental-replay-{newest.ToUnixTimeSeconds()}.md");
                    await importer.ImportDraftsAsync([draft], ct);
                }
                await ReplayIncrementalAsync(app, breakdown, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                error = "the instrumented replay stopped at the phase limit";
            }
        }
        return new IncrementalResult(runs, warmUp, leftover, leftover > 0 && !o.FullIncomplete, placeholder, error, peak, breakdown, articles, loadBefore, loadAfter);
    }

    /// <summary>FeedBuilder.BuildAsync(full: false) step by step (public FeedStore / renderer / writer / FeedOutput calls), a stopwatch around each.</summary>
    private static async Task ReplayIncrementalAsync(Microsoft.AspNetCore.Builder.WebApplication app, Dictionary<string, Stat> ops, CancellationToken ct)
    {
        var feeds = app.Get<FeedStore>();
        var links = app.Get<FeedLinks>();
        var pageSize = app.Get<IOptions<FeedOptions>>().Value.ItemsPerFeed;
        var output = app.Get<FeedBuilder>().Output;
        Stat Op(string name) => ops.TryGetValue(name, out var s) ? s : ops[name] = new Stat();
        var all = Stopwatch.GetTimestamp();

        var t = Stopwatch.GetTimestamp();
        var dirty = await feeds.DirtyAsync(ct);
        Op("DirtyAsync (own connection: marks, scopes, counts, page starts)").Add(Ms(t, Stopwatch.GetTimestamp()));
        t = Stopwatch.GetTimestamp();
        await using var connection = await feeds.OpenAsync(ct);
        Op("open connection").Add(Ms(t, Stopwatch.GetTimestamp()));
        var renderer = new FeedEntryRenderer();
        var rendered = new Dictionary<string, FeedEntry>(StringComparer.Ordinal);
        var clean = new List<(DirtyFeed, ScopeRecord?)>();
        foreach (var (mark, known, _, start) in dirty)
        {
            t = Stopwatch.GetTimestamp();
            var scope = known ?? await feeds.ResolveAsync(connection, mark.Scope, ct);
            var kind = scope?.Kind.ToString().ToLowerInvariant() ?? "?";
            if (known is null) Op($"{kind}: ResolveAsync (a scope without a folder yet)").Add(Ms(t, Stopwatch.GetTimestamp()));
            if (scope is null) continue;
            t = Stopwatch.GetTimestamp();
            var tail = await feeds.TailAsync(connection, scope, start, pageSize, ct);
            Op($"{kind}: TailAsync (recorded page start to newest)").Add(Ms(t, Stopwatch.GetTimestamp()));
            var complete = tail.Count / pageSize;
            var before = tail.From + tail.Articles.Count(a => a.PublishedAt < mark.Since);
            var firstPage = before / pageSize + 1;
            var documents = new List<(int? Page, int From, int To)> { (null, Math.Max(0, tail.Count - pageSize), tail.Count) };
            for (var page = firstPage; page <= complete; page++) documents.Add((page, (page - 1) * pageSize, page * pageSize));
            // As the builder does: entries of articles before the change come out of the files the last build wrote.
            t = Stopwatch.GetTimestamp();
            var written = new WrittenEntries();
            foreach (var (number, from, _) in documents.Where(d => d.Page is null || d.From < before))
            {
                using var rss = output.ReadRented(links.RelativePath(scope, number, FeedPaths.Rss));
                using var atom = output.ReadRented(links.RelativePath(scope, number, FeedPaths.Atom));
                using var json = output.ReadRented(links.RelativePath(scope, number, FeedPaths.Json));
                written.Add(rss.Span, atom.Span, json.Span);
            }
            Op("read and cut the entries of the written files").Add(Ms(t, Stopwatch.GetTimestamp()));
            foreach (var (number, from, to) in documents)
            {
                var inPage = tail.Articles.Skip(from - tail.From).Take(to - from).ToList();
                var ids = inPage.Select(a => a.Id).ToList();
                for (var i = 0; i < inPage.Count; i++)
                    if (from + i < before && !rendered.ContainsKey(inPage[i].Id) && written.Find(inPage[i].Id, inPage[i].Updated) is { } entry) rendered[inPage[i].Id] = entry;
                var missing = ids.Where(id => !rendered.ContainsKey(id)).ToList();
                t = Stopwatch.GetTimestamp();
                var articles = await feeds.ByIdsAsync(connection, missing, ct, new List<Syndicator.Articles.UnreadableArticleException>());
                Op($"{kind}: ByIdsAsync (articles not rendered yet)").Add(Ms(t, Stopwatch.GetTimestamp()));
                t = Stopwatch.GetTimestamp();
                foreach (var article in articles) rendered[article.Id] = renderer.Render(article);
                Op("render entries").Add(Ms(t, Stopwatch.GetTimestamp()));
                var page = new FeedPage(scope, ids.AsEnumerable().Reverse().Select(id => rendered[id]).ToList(), number, complete);
                foreach (var (file, render) in new (string, Func<FeedPage, FeedLinks, FeedFileBytes>)[]
                         { (FeedPaths.Rss, SyndicationWriter.Rss), (FeedPaths.Atom, SyndicationWriter.Atom), (FeedPaths.Json, JsonFeedWriter.Write) })
                {
                    t = Stopwatch.GetTimestamp();
                    var bytes = render(page, links);
                    Op($"splice {file}").Add(Ms(t, Stopwatch.GetTimestamp()), bytes.Length);
                    t = Stopwatch.GetTimestamp();
                    await output.WriteIfChangedAsync(links.RelativePath(scope, number, file), bytes, ct);
                    Op("WriteIfChangedAsync (compare + write)").Add(Ms(t, Stopwatch.GetTimestamp()), bytes.Length);
                }
            }
            var recordedFrom = tail.From / pageSize + 1;
            clean.Add((mark, new ScopeRecord(scope, tail.Count, complete, recordedFrom,
                Enumerable.Range(recordedFrom, Math.Max(0, complete - recordedFrom + 1)).Select(p => tail.Articles[(p - 1) * pageSize - tail.From]).ToList())));
        }
        t = Stopwatch.GetTimestamp();
        await feeds.RecordCleanAsync(clean, clean.Select(c => c.Item1).ToList(), ct);
        Op("RecordCleanAsync (own connection: counts, page starts, marks cleared)").Add(Ms(t, Stopwatch.GetTimestamp()));
        Op("total (replay, without patching index.html)").Add(Ms(all, Stopwatch.GetTimestamp()));
    }

    // ---------------------------------------------------------------- helpers
    public static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    /// <summary>An order-independent digest of (path, bytes) pairs: summing the first 8 bytes of each SHA-256.</summary>
    public static ulong Digest(string relativePath, byte[] content)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(relativePath));
        hash.AppendData(content);
        Span<byte> d = stackalloc byte[32];
        hash.GetHashAndReset(d);
        return BinaryPrimitives.ReadUInt64LittleEndian(d);
    }

    /// <summary>Synchronous progress (Progress&lt;T&gt; would post to the thread pool), logged every 20 s.</summary>
    private sealed class LoggingProgress(string what) : IProgress<(int Done, int Total)>
    {
        private readonly Stopwatch since = Stopwatch.StartNew();
        private readonly Stopwatch all = Stopwatch.StartNew();
        public int Done { get; private set; }
        public int Total { get; private set; }

        public void Report((int Done, int Total) value)
        {
            (Done, Total) = value;
            // The site is built first, alone, over every worker: its time is the full build's first part.
            if (Done == 1) Bench.Log($"{what}: the first scope (the site) after {all.Elapsed.TotalSeconds:N1} s");
            if (since.Elapsed.TotalSeconds < 20) return;
            since.Restart();
            Bench.Log($"{what}: {Done:N0}/{Total:N0} scopes after {all.Elapsed.TotalSeconds:N0} s");
        }
    }
}
