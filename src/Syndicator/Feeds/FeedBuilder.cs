using System.Net;
using System.Text;
using System.Xml;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Articles;

namespace Syndicator.Feeds;

/// <param name="Reused">Entries taken out of the files the scopes' last builds wrote (<see cref="WrittenEntries"/>) instead of being read and rendered again.</param>
/// <param name="Rendered">Articles read from the store and rendered. The site is built first and the other feeds take its entries (<see cref="EntryCache"/>), so a build renders each article once, whatever the number of feeds that carry it.</param>
public sealed record FeedBuildReport(int Scopes, IReadOnlyList<string> Written, int Unchanged, int Reused, int Rendered, TimeSpan Elapsed, IReadOnlyList<ScopeBuildFailure> Failures)
{
    public int ItemsLeftOut => Failures.Sum(f => f.LeftOut.Count);

    public override string ToString() =>
        $"{Scopes} feed(s) rebuilt: {Written.Count} file(s) rewritten, {Unchanged:N0} unchanged, {Reused:N0} entries reused from the written files, {Rendered:N0} article(s) rendered, in {Elapsed.TotalMilliseconds:N0} ms" +
        (Failures.Count == 0 ? "" : $"; {Failures.Count} failed ({string.Join("; ", Failures)})");
}

/// <summary>
/// Rebuilds the feeds that imports marked dirty, in all three formats. For each dirty scope only the current feed
/// and the archive pages from the earliest changed article on are regenerated, and only files whose bytes change
/// are written. A full build marks every scope dirty from the beginning and takes the same path.
/// </summary>
/// <remarks>
/// One bad article never stops a feed: an article that makes a document fail to render is left out of that scope's
/// documents in every format (so the three agree), with a warning naming it, and the rest is written. A scope that
/// failed, in part or whole, keeps its dirty mark, so the next build tries it again and the failure is counted in
/// <c>feed_build_failures</c> until a build of the scope is clean.
/// </remarks>
public sealed class FeedBuilder(
    FeedStore store,
    FeedLinks links,
    IOptions<FeedOptions> options,
    IHostEnvironment environment,
    WebSub.WebSubPings pings,
    TimeProvider time,
    ILogger<FeedBuilder> logger)
{
    public FeedOutput Output { get; } = new(Path.GetFullPath(options.Value.OutputPath, environment.ContentRootPath));

    private int PageSize => options.Value.ItemsPerFeed;

    /// <summary>Up to this many dirty scopes, index.html is patched (<see cref="PatchIndexAsync"/>) instead of listing every scope again.</summary>
    private const int PatchLimit = 64;

    /// <summary>Documents whose missing articles are read in one query: fewer round trips, a bounded batch of bodies.</summary>
    private const int DocumentsPerRead = 8;

    /// <summary>Scopes built at once, each on its own connection; at most four, as the work is also the disk's.</summary>
    private static int Workers => Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <param name="exportTo">
    /// Build every feed into this folder instead, leaving the dirty marks and the failure record of the real output folder alone.
    /// </param>
    public async Task<FeedBuildReport> BuildAsync(bool full, IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken, string? exportTo = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var output = exportTo is null ? Output : new FeedOutput(exportTo);
        IReadOnlyList<DirtyScope> dirty;
        IReadOnlyList<(FeedScope Scope, int Count)>? scopes = null;
        if (exportTo is not null)
        {
            await using var connection = await store.OpenAsync(cancellationToken);
            scopes = await store.ScopesAsync(connection, cancellationToken);
            dirty = scopes.Select(s => new DirtyScope(new DirtyFeed { Scope = s.Scope.Id, Since = FeedStore.Beginning }, s.Scope, s.Count, null)).ToList();
        }
        else
        {
            if (full || !File.Exists(Path.Combine(Output.Root, FeedScope.Site.Folder, FeedPaths.Rss))) await store.MarkAllAsync(cancellationToken);
            // One statement: the marks, their scopes, the counts index.html lists them with, and where to read each from.
            dirty = await store.DirtyAsync(cancellationToken);
        }
        if (dirty.Count == 0) return new FeedBuildReport(0, [], 0, 0, 0, System.Diagnostics.Stopwatch.GetElapsedTime(started), []);

        using var entries = new EntryCache(output.Root, logger);
        var build = new Build(output, exportTo is null, entries);
        await using var lanes = new Lanes(store);
        var done = 0;
        async Task BuildOneAsync(DirtyScope mark, int parallel, CancellationToken cancellationToken)
        {
            var scope = mark.Scope;
            if (scope is null)
            {
                // A scope no build gave a folder yet (a new tag or author), or an author who is gone.
                var lane = await lanes.RentAsync(cancellationToken);
                try { scope = await store.ResolveAsync(lane.Connection, mark.Mark.Scope, cancellationToken); }
                finally { lanes.Return(lane); }
            }
            var (failure, read) = scope is null ? (null, null) : await BuildScopeAsync(lanes, build, scope, mark.Mark.Since, mark.Start, parallel, cancellationToken);
            if (exportTo is null)
            {
                // A failed scope keeps its mark, so the next build tries it again and the failure is counted once per build.
                if (failure is null) await build.CleanAsync(store, (mark.Mark, read), cancellationToken);
                else await store.RecordFailedBuildAsync(failure, read, time.GetUtcNow(), cancellationToken);
            }
            if (failure is not null) build.Failures.Enqueue(failure);
            lock (build) progress?.Report((++done, dirty.Count));
        }

        // The site alone first, its documents spread over every worker: it holds every article, so its entries are
        // rendered once, in parallel, and the author and tag feeds after it find them rendered.
        var site = dirty.FirstOrDefault(d => d.Mark.Scope == FeedScope.Site.Id);
        if (site is not null) await BuildOneAsync(site, Workers, cancellationToken);
        // Then one scope per worker.
        await Parallel.ForEachAsync(dirty.Where(d => d != site).OrderBy(d => d.Mark.Scope, StringComparer.Ordinal),
            new ParallelOptions { MaxDegreeOfParallelism = Workers, CancellationToken = cancellationToken },
            async (mark, token) => await BuildOneAsync(mark, 1, token));

        // The index lists every scope with its count: an export counted them at its start. A live build patches the
        // counts of the few scopes it built into it (from what it read of them), or lists the counts recorded in the
        // store (every scope whose count a change moved was dirty, and is built), once its own are recorded. The marks
        // are cleared, with the last records, only once the index lists the recorded counts.
        var written = build.Written.ToList();
        if (scopes is not null) await WriteDirectoryAsync(output, scopes, written, cancellationToken);
        else
        {
            var clean = build.Clean.ToList();
            var patched = dirty.Count <= PatchLimit && build.Failures.IsEmpty && await PatchIndexAsync(output, dirty, clean, written, cancellationToken);
            if (!patched)
            {
                await build.FlushCleanAsync(store, cancellationToken);
                await using var connection = await store.OpenAsync(cancellationToken);
                await WriteDirectoryAsync(output, await store.RecordedScopesAsync(connection, cancellationToken), written, cancellationToken);
            }
            await build.FlushCleanAsync(store, cancellationToken, clean.Select(c => c.Mark).ToList());
        }

        var report = new FeedBuildReport(dirty.Count, written, build.Unchanged, build.Reused, build.Rendered, System.Diagnostics.Stopwatch.GetElapsedTime(started), build.Failures.ToList());
        logger.Log(report.Failures.Count == 0 ? LogLevel.Information : LogLevel.Warning, "Feeds: {Report}", report.ToString());
        return report;
    }

    /// <summary>A worker's own connection and renderer, rented for one batch of documents and given back.</summary>
    private sealed record Lane(System.Data.Common.DbConnection Connection, FeedEntryRenderer Renderer);

    private sealed class Lanes(FeedStore store) : IAsyncDisposable
    {
        private readonly System.Collections.Concurrent.ConcurrentBag<Lane> idle = [];
        private readonly System.Collections.Concurrent.ConcurrentQueue<Lane> all = new();

        public async Task<Lane> RentAsync(CancellationToken cancellationToken)
        {
            if (idle.TryTake(out var lane)) return lane;
            lane = new Lane(await store.OpenAsync(cancellationToken), new FeedEntryRenderer());
            all.Enqueue(lane);
            return lane;
        }

        public void Return(Lane lane) => idle.Add(lane);

        public async ValueTask DisposeAsync()
        {
            foreach (var lane in all) await lane.Connection.DisposeAsync();
        }
    }

    /// <summary>What the workers of one build share: where they write, what they wrote, and the rendered entries.</summary>
    private sealed class Build(FeedOutput output, bool live, EntryCache entries)
    {
        public FeedOutput Output { get; } = output;
        public bool Live { get; } = live;
        public EntryCache Entries { get; } = entries;
        public System.Collections.Concurrent.ConcurrentQueue<string> Written { get; } = new();
        public System.Collections.Concurrent.ConcurrentQueue<ScopeBuildFailure> Failures { get; } = new();
        private int unchanged;
        public int Unchanged => unchanged;
        public void CountUnchanged() => Interlocked.Increment(ref unchanged);
        private int reused;
        public int Reused => reused;
        public void CountReused(int entries) => Interlocked.Add(ref reused, entries);
        private int rendered;
        public int Rendered => rendered;
        public void CountRendered(int articles) => Interlocked.Add(ref rendered, articles);

        private readonly List<(DirtyFeed, ScopeRecord?)> pending = [];

        /// <summary>Every scope that built cleanly: their marks are cleared at the end of the build.</summary>
        public System.Collections.Concurrent.ConcurrentQueue<(DirtyFeed Mark, ScopeRecord? Read)> Clean { get; } = new();

        /// <summary>Clean scopes are recorded and lose their failure records in batches: one transaction per hundred scopes, not two per scope.</summary>
        public async Task CleanAsync(FeedStore store, (DirtyFeed Mark, ScopeRecord? Read) mark, CancellationToken cancellationToken)
        {
            Clean.Enqueue(mark);
            List<(DirtyFeed, ScopeRecord?)>? batch = null;
            lock (pending)
            {
                pending.Add(mark);
                if (pending.Count >= 100) { batch = [.. pending]; pending.Clear(); }
            }
            if (batch is not null) await store.RecordCleanAsync(batch, [], cancellationToken);
        }

        /// <summary>Records the clean scopes not recorded yet, and clears <paramref name="marks"/> in the same transaction.</summary>
        public async Task FlushCleanAsync(FeedStore store, CancellationToken cancellationToken, IReadOnlyList<DirtyFeed>? marks = null)
        {
            List<(DirtyFeed, ScopeRecord?)> batch;
            lock (pending) { batch = [.. pending]; pending.Clear(); }
            await store.RecordCleanAsync(batch, marks ?? [], cancellationToken);
        }
    }

    /// <summary>
    /// One scope: the current feed, plus every complete archive page from the one holding <paramref name="since"/> on.
    /// The scope's articles come in one ordered query from <paramref name="start"/>, the recorded start of the archive
    /// page before <paramref name="since"/> (<see cref="FeedStore.TailAsync"/>), so nothing before it is read or counted; bodies are
    /// read only for articles no other scope rendered yet, a few documents at a time, so a scope of any size is never
    /// held in memory whole.
    /// </summary>
    /// <returns>The failure, if any, and what the build read of the scope, for the next build.</returns>
    private async Task<(ScopeBuildFailure? Failure, ScopeRecord Read)> BuildScopeAsync(Lanes lanes, Build build, FeedScope scope, DateTimeOffset since, PageStart? start,
        int parallel, CancellationToken cancellationToken)
    {
        // Archive pages before the one holding the earliest change stay as they are; the current feed is always rewritten.
        ScopeTail tail;
        int count, complete, firstPage, from, before;
        var lane = await lanes.RentAsync(cancellationToken);
        try
        {
            tail = await store.TailAsync(lane.Connection, scope, start, PageSize, cancellationToken);
            while (true)
            {
                count = tail.Count;
                complete = count / PageSize;
                before = tail.From + tail.Articles.Count(a => a.PublishedAt < since);
                firstPage = before / PageSize + 1;
                // The last archive page is the one without a next-archive link, so when pages complete the page before
                // them gains it, and when articles leave the new last page loses it: both are rewritten, and pages past
                // the new last one are deleted, so the folder holds what a build from scratch writes.
                if (firstPage > 1 && firstPage <= complete && !build.Output.Exists(links.RelativePath(scope, firstPage, FeedPaths.Rss))) firstPage--;
                if (build.Output.Exists(links.RelativePath(scope, complete + 1, FeedPaths.Rss)))
                {
                    for (var gone = complete + 1; build.Output.DeleteFolder(Path.GetDirectoryName(links.RelativePath(scope, gone, FeedPaths.Rss))!); gone++) { }
                    if (complete > 0) firstPage = Math.Min(firstPage, complete);
                }
                from = Math.Min((firstPage - 1) * PageSize, Math.Max(0, count - PageSize));
                if (from >= tail.From) break;
                // So many articles left since the recorded page start that the current feed begins before it.
                tail = await store.TailAsync(lane.Connection, scope, null, PageSize, cancellationToken);
            }
        }
        finally { lanes.Return(lane); }
        var inScope = tail.Articles.Skip(from - tail.From).ToList();
        var ids = inScope.Select(a => a.Id).ToList();
        // The first article of each complete page the tail holds, for the next build of the scope.
        var recordedFrom = tail.From / PageSize + 1;
        var read = new ScopeRecord(scope, count, complete, recordedFrom,
            Enumerable.Range(recordedFrom, Math.Max(0, complete - recordedFrom + 1)).Select(page => tail.Articles[(page - 1) * PageSize - tail.From]).ToList());

        // The current feed (newest first), then the archive pages from the first one that changed.
        var documents = new List<(int? Page, int From, int To)> { (null, Math.Max(0, count - PageSize), count) };
        for (var page = firstPage; page <= complete; page++) documents.Add((page, (page - 1) * PageSize, page * PageSize));

        // Articles before the earliest change are what the scope's last clean build wrote (every change marks its scopes
        // from its own time, and a mark stays until a build of it is clean): their entries come out of those files.
        var written = before > from ? Written(build.Output, scope, documents, before) : null;

        var leftOut = new System.Collections.Concurrent.ConcurrentDictionary<string, (string Id, string Slug, Exception Error)>(StringComparer.Ordinal);
        Exception? documentError = null;
        await Parallel.ForEachAsync(documents.Chunk(DocumentsPerRead), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken },
            async (group, token) =>
            {
                var lane = await lanes.RentAsync(token);
                try
                {
                    var reused = new Dictionary<string, Rendered>(StringComparer.Ordinal);
                    var missing = new List<string>();
                    foreach (var position in group.SelectMany(d => Enumerable.Range(d.From, d.To - d.From)))
                    {
                        var article = inScope[position - from];
                        if (position < before && written?.Find(article.Id, article.Updated) is { } entry) reused[article.Id] = new Rendered(article.Id, "", entry, null);
                        else missing.Add(article.Id);
                    }
                    build.CountReused(reused.Count);
                    var local = await EntriesAsync(lane.Connection, lane.Renderer, build, missing, token);
                    foreach (var (id, rendered) in reused) local[id] = rendered;
                    foreach (var (number, start, end) in group)
                    {
                        var entries = new List<FeedEntry>(end - start);
                        for (var position = end - 1; position >= start; position--)
                        {
                            var id = ids[position - from];
                            if (!local.TryGetValue(id, out var rendered)) continue; // gone since the ids were read: the next build has its mark
                            if (rendered.Entry is { } entry) entries.Add(entry);
                            else leftOut.TryAdd(id, (id, rendered.Slug, rendered.Error!));
                        }
                        var error = await WriteAsync(build, new FeedPage(scope, entries, number, complete), token);
                        if (error is null) continue;
                        // The document fails with no article to blame (its title, say): the others are still written.
                        Interlocked.CompareExchange(ref documentError, error, null);
                        logger.LogError(error, "Feed {Scope}: {Document} could not be written: {Reason}. The scope is tried again at the next build.",
                            scope.Id, links.RelativePath(scope, number, "*"), error.Message);
                    }
                }
                finally { lanes.Return(lane); }
            });
        if (leftOut.IsEmpty && documentError is null) return (null, read);
        lane = await lanes.RentAsync(cancellationToken);
        try { return (await DescribeAsync(lane.Connection, scope, leftOut.Values.OrderBy(l => l.Slug, StringComparer.Ordinal).ToList(), documentError, cancellationToken), read); }
        finally { lanes.Return(lane); }
    }

    /// <summary>
    /// The entries in the scope's files that the documents to write may take: its current feed's, and those of each
    /// archive page to rewrite that begins before the earliest change (a page that completes takes its entries from
    /// the current feed that held them).
    /// </summary>
    private WrittenEntries Written(FeedOutput output, FeedScope scope, IReadOnlyList<(int? Page, int From, int To)> documents, int before)
    {
        var entries = new WrittenEntries();
        foreach (var (page, from, _) in documents)
        {
            if (page is not null && from >= before) continue;
            using var rss = output.ReadRented(links.RelativePath(scope, page, FeedPaths.Rss));
            using var atom = output.ReadRented(links.RelativePath(scope, page, FeedPaths.Atom));
            using var json = output.ReadRented(links.RelativePath(scope, page, FeedPaths.Json));
            entries.Add(rss.Span, atom.Span, json.Span);
        }
        return entries;
    }

    /// <summary>The entries of these articles: from the build's cache, or read (one query) and rendered once.</summary>
    private async Task<Dictionary<string, Rendered>> EntriesAsync(System.Data.Common.DbConnection connection, FeedEntryRenderer renderer, Build build,
        IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        var cache = build.Entries;
        var found = new Dictionary<string, Rendered>(ids.Count, StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var id in ids)
        {
            if (cache.TryGet(id, out var rendered)) found[id] = rendered;
            else missing.Add(id);
        }
        if (missing.Count == 0) return found;
        var unreadable = new List<UnreadableArticleException>();
        var articles = await store.ByIdsAsync(connection, missing, cancellationToken, unreadable);
        build.CountRendered(articles.Count);
        foreach (var article in articles)
        {
            Rendered rendered;
            try
            {
                rendered = new Rendered(article.Id, article.Slug.Value, renderer.Render(article), null);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                rendered = new Rendered(article.Id, article.Slug.Value, null, e);
            }
            found[article.Id] = rendered;
            cache.Add(rendered);
        }
        // Rows stored before today's checks that no longer read as articles: left out like the rest.
        foreach (var row in unreadable)
        {
            var rendered = new Rendered(row.Id, row.Slug, null, row);
            found[row.Id] = rendered;
            cache.Add(rendered);
        }
        return found;
    }

    /// <summary>The document in its three formats, each written only when its bytes change; the error when its head cannot be rendered.</summary>
    private async Task<Exception?> WriteAsync(Build build, FeedPage page, CancellationToken cancellationToken)
    {
        (string File, FeedFileBytes Bytes)[] files;
        try
        {
            files = [(FeedPaths.Rss, SyndicationWriter.Rss(page, links)), (FeedPaths.Atom, SyndicationWriter.Atom(page, links)), (FeedPaths.Json, JsonFeedWriter.Write(page, links))];
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return e;
        }
        foreach (var (file, bytes) in files)
        {
            var path = links.RelativePath(page.Scope, page.ArchivePage, file);
            if (!await build.Output.WriteIfChangedAsync(path, bytes, cancellationToken)) { build.CountUnchanged(); continue; }
            build.Written.Enqueue(path);
            if (build.Live && !page.IsArchive) await pings.QueueAsync(links.Url(page.Scope, null, file), bytes, cancellationToken);
        }
        return null;
    }

    private async Task<ScopeBuildFailure> DescribeAsync(System.Data.Common.DbConnection connection, FeedScope scope,
        IReadOnlyList<(string Id, string Slug, Exception Error)> leftOut, Exception? documentError, CancellationToken cancellationToken)
    {
        var sources = await store.SourceNamesAsync(connection, leftOut.Select(l => l.Id).ToList(), cancellationToken);
        var items = new List<LeftOutItem>();
        foreach (var (id, slug, error) in leftOut)
        {
            var source = sources.GetValueOrDefault(id);
            var reason = $"{error.GetType().Name}: {error.Message}";
            logger.LogWarning("Feed {Scope}: article {Slug} (source {Source}) is left out of the feed: {Reason}. Fix the article and import it again; the rest of the feed is written.",
                scope.Id, slug, source ?? "unknown", reason);
            items.Add(new LeftOutItem(id, slug, source, reason));
        }
        return new ScopeBuildFailure(scope.Id, documentError is null ? ScopeFailureKind.ItemsLeftOut : ScopeFailureKind.NotWritten,
            documentError is null ? $"{items.Count} article(s) left out" : $"{documentError.GetType().Name}: {documentError.Message}", items);
    }

    /// <summary>The OPML list and the HTML index of every current feed (the list first: see <see cref="PatchIndexAsync"/>).</summary>
    private async Task WriteDirectoryAsync(FeedOutput output, IReadOnlyList<(FeedScope Scope, int Count)> scopes, List<string> written, CancellationToken cancellationToken)
    {
        if (await output.WriteIfChangedAsync(FeedPaths.Opml, new(Opml(scopes)), cancellationToken)) written.Add(FeedPaths.Opml);
        if (await output.WriteIfChangedAsync(FeedPaths.Index, new(Encoding.UTF8.GetBytes(IndexHtml(scopes))), cancellationToken)) written.Add(FeedPaths.Index);
    }

    /// <summary>
    /// index.html with only the counts of the built scopes changed, when that is all that changed: each scope's line
    /// with the count recorded before this build is found once and given the new count. Every scope without a mark is
    /// listed with its recorded count (marks are cleared only after the index is written), the OPML list has no counts,
    /// and the head and the site's outline show that the configuration is the one they were written with.
    /// </summary>
    /// <returns>False when anything else changed (a scope came or went, a name, the configuration, a line not as recorded): then both are written whole.</returns>
    private async Task<bool> PatchIndexAsync(FeedOutput output, IReadOnlyList<DirtyScope> dirty, IReadOnlyList<(DirtyFeed Mark, ScopeRecord? Read)> clean,
        List<string> written, CancellationToken cancellationToken)
    {
        var countsBefore = dirty.ToDictionary(d => d.Mark.Scope, d => d.RecordedCount ?? 0, StringComparer.Ordinal);
        using var index = output.ReadRented(FeedPaths.Index);
        if (!index.Span.StartsWith(Encoding.UTF8.GetBytes(IndexHead())) || !output.StartsWith(FeedPaths.Opml, OpmlHead())) return false;
        var patches = new List<(int At, int Length, byte[] Line)>();
        foreach (var (mark, read) in clean)
        {
            if (read is null || !countsBefore.TryGetValue(mark.Scope, out var was) || was <= 0 || read.Articles <= 0) return false;
            var line = Encoding.UTF8.GetBytes(IndexLine(read.Scope, was));
            var at = index.Span.IndexOf(line);
            if (at < 0 || index.Span[(at + line.Length)..].IndexOf(line) >= 0) return false;
            if (read.Articles != was) patches.Add((at, line.Length, Encoding.UTF8.GetBytes(IndexLine(read.Scope, read.Articles))));
        }
        if (patches.Count == 0) return true;
        // Composed once: each scope's line is in the index once, so the patches never overlap.
        patches.Sort((a, b) => a.At.CompareTo(b.At));
        var patched = new byte[index.Span.Length + patches.Sum(p => p.Line.Length - p.Length)];
        int from = 0, to = 0;
        foreach (var (at, length, line) in patches)
        {
            index.Span[from..at].CopyTo(patched.AsSpan(to));
            to += at - from;
            line.CopyTo(patched, to);
            to += line.Length;
            from = at + length;
        }
        index.Span[from..].CopyTo(patched.AsSpan(to));
        if (await output.WriteIfChangedAsync(FeedPaths.Index, new(patched), cancellationToken)) written.Add(FeedPaths.Index);
        return true;
    }

    private string IndexHtml(IReadOnlyList<(FeedScope Scope, int Count)> scopes)
    {
        var sb = new StringBuilder(IndexHead());
        foreach (var group in scopes.GroupBy(s => s.Scope.Kind))
        {
            sb.Append("<h2>").Append(group.Key switch { FeedKind.Site => "Everything", FeedKind.Author => "Authors", _ => "Tags" }).Append("</h2>\n<ul>\n");
            foreach (var (scope, count) in group) sb.Append(IndexLine(scope, count));
            sb.Append("</ul>\n");
        }
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>Everything before the lists: what the site's title, language and feed URLs write.</summary>
    private string IndexHead()
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"").Append(E(links.Site.Language)).Append("\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
          .Append(E(links.Site.Title)).Append(" feeds</title>\n");
        sb.Append("<link rel=\"alternate\" type=\"application/rss+xml\" title=\"").Append(E(links.Title(FeedScope.Site))).Append("\" href=\"").Append(E(links.Url(FeedScope.Site, null, FeedPaths.Rss))).Append("\">\n");
        sb.Append("<link rel=\"alternate\" type=\"application/atom+xml\" title=\"").Append(E(links.Title(FeedScope.Site))).Append("\" href=\"").Append(E(links.Url(FeedScope.Site, null, FeedPaths.Atom))).Append("\">\n");
        sb.Append("<link rel=\"alternate\" type=\"application/feed+json\" title=\"").Append(E(links.Title(FeedScope.Site))).Append("\" href=\"").Append(E(links.Url(FeedScope.Site, null, FeedPaths.Json))).Append("\">\n");
        sb.Append("</head>\n<body>\n<h1>").Append(E(links.Site.Title)).Append(" feeds</h1>\n<p>Subscribe in any feed reader. <a href=\"").Append(FeedPaths.Opml).Append("\">All feeds as OPML</a>.</p>\n");
        return sb.ToString();
    }

    /// <summary>A scope's line in the index; its feed URLs make it the only one of its kind.</summary>
    private string IndexLine(FeedScope scope, int count)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var name = scope.Kind == FeedKind.Site ? links.Site.Title : scope.Name;
        return new StringBuilder().Append("<li>").Append(E(name)).Append(" (").Append(count).Append(") — ")
            .Append("<a href=\"").Append(E(links.RelativeUrl(scope, null, FeedPaths.Rss))).Append("\">RSS</a> · ")
            .Append("<a href=\"").Append(E(links.RelativeUrl(scope, null, FeedPaths.Atom))).Append("\">Atom</a> · ")
            .Append("<a href=\"").Append(E(links.RelativeUrl(scope, null, FeedPaths.Json))).Append("\">JSON Feed</a></li>\n").ToString();
    }

    /// <summary>The OPML list up to the end of the site's outline: what the site's title and URLs write.</summary>
    private byte[] OpmlHead()
    {
        var site = Opml([(FeedScope.Site, 0)]);
        return site[..(site.AsSpan().IndexOf("/>"u8) + 2)];
    }

    private byte[] Opml(IReadOnlyList<(FeedScope Scope, int Count)> scopes)
    {
        using var stream = new MemoryStream();
        using (var xml = XmlWriter.Create(stream, new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true }))
        {
            xml.WriteStartElement("opml");
            xml.WriteAttributeString("version", "2.0");
            xml.WriteStartElement("head");
            xml.WriteElementString("title", links.Site.Title + " feeds");
            xml.WriteEndElement();
            xml.WriteStartElement("body");
            foreach (var (scope, _) in scopes)
            {
                xml.WriteStartElement("outline");
                xml.WriteAttributeString("type", "rss");
                xml.WriteAttributeString("text", links.Title(scope));
                xml.WriteAttributeString("title", links.Title(scope));
                xml.WriteAttributeString("xmlUrl", links.Url(scope, null, FeedPaths.Rss));
                xml.WriteAttributeString("htmlUrl", links.SiteUrl);
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
            xml.WriteEndElement();
        }
        return stream.ToArray();
    }
}
