using System.Net;
using System.Text;
using System.Xml;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Articles;

namespace Syndicator.Feeds;

public sealed record FeedBuildReport(int Scopes, IReadOnlyList<string> Written, int Unchanged, TimeSpan Elapsed, IReadOnlyList<ScopeBuildFailure> Failures)
{
    public int ItemsLeftOut => Failures.Sum(f => f.LeftOut.Count);

    public override string ToString() =>
        $"{Scopes} feed(s) rebuilt: {Written.Count} file(s) rewritten, {Unchanged:N0} unchanged, in {Elapsed.TotalMilliseconds:N0} ms" +
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

    /// <param name="exportTo">
    /// Build every feed into this folder instead, leaving the dirty marks and the failure record of the real output folder alone.
    /// </param>
    public async Task<FeedBuildReport> BuildAsync(bool full, IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken, string? exportTo = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var output = exportTo is null ? Output : new FeedOutput(exportTo);
        IReadOnlyList<DirtyFeed> dirty;
        if (exportTo is not null)
        {
            await using var connection = await store.OpenAsync(cancellationToken);
            dirty = (await store.ScopesAsync(connection, cancellationToken)).Select(s => new DirtyFeed { Scope = s.Scope.Id, Since = FeedStore.Beginning }).ToList();
        }
        else
        {
            if (full || !File.Exists(Path.Combine(Output.Root, FeedScope.Site.Folder, FeedPaths.Rss))) await store.MarkAllAsync(cancellationToken);
            dirty = await store.DirtyAsync(cancellationToken);
        }
        var written = new List<string>();
        var failures = new List<ScopeBuildFailure>();
        var unchanged = 0;
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            for (var i = 0; i < dirty.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var scope = await store.ResolveAsync(connection, dirty[i].Scope, cancellationToken);
                ScopeBuildFailure? failure = null;
                if (scope is not null)
                {
                    var leftOut = new Dictionary<string, (string Id, string Slug, Exception Error)>(StringComparer.Ordinal);
                    var unreadable = new List<UnreadableArticleException>();
                    Exception? documentError = null;
                    await foreach (var document in DocumentsAsync(connection, scope, dirty[i].Since, unreadable, cancellationToken))
                    {
                        var rendered = RenderLeavingOut(document);
                        foreach (var (article, error) in rendered.LeftOut) leftOut.TryAdd(article.Id, (article.Id, article.Slug, error));
                        // Rows stored before today's checks that no longer read as articles: left out like the rest.
                        foreach (var row in unreadable) leftOut.TryAdd(row.Id, (row.Id, row.Slug, row));
                        unreadable.Clear();
                        if (rendered.Error is not null)
                        {
                            // The document fails with no single article to blame (or still fails without them): the others are still written.
                            documentError ??= rendered.Error;
                            logger.LogError(rendered.Error, "Feed {Scope}: {Document} could not be written: {Reason}. The scope is tried again at the next build.",
                                scope.Id, links.RelativePath(scope, document.ArchivePage, "*"), rendered.Error.Message);
                            continue;
                        }
                        foreach (var (file, bytes) in rendered.Files)
                        {
                            var path = links.RelativePath(scope, document.ArchivePage, file);
                            if (!await output.WriteIfChangedAsync(path, bytes, cancellationToken)) { unchanged++; continue; }
                            written.Add(path);
                            if (exportTo is null && !document.IsArchive) await pings.QueueAsync(links.Url(scope, null, file), bytes, cancellationToken);
                        }
                    }
                    if (leftOut.Count > 0 || documentError is not null)
                        failure = await DescribeAsync(connection, scope, leftOut.Values.ToList(), documentError, cancellationToken);
                }
                if (failure is not null) failures.Add(failure);
                if (exportTo is null)
                {
                    // A failed scope keeps its mark, so the next build tries it again and the failure is counted once per build.
                    if (failure is null)
                    {
                        await store.ClearAsync(dirty[i], cancellationToken);
                        await store.RecordCleanBuildAsync(dirty[i].Scope, cancellationToken);
                    }
                    else await store.RecordFailedBuildAsync(failure, time.GetUtcNow(), cancellationToken);
                }
                progress?.Report((i + 1, dirty.Count));
            }

            if (dirty.Count > 0) await WriteDirectoryAsync(connection, output, written, cancellationToken);
        }

        var report = new FeedBuildReport(dirty.Count, written, unchanged, System.Diagnostics.Stopwatch.GetElapsedTime(started), failures);
        if (dirty.Count > 0) logger.Log(failures.Count == 0 ? LogLevel.Information : LogLevel.Warning, "Feeds: {Report}", report.ToString());
        return report;
    }

    /// <summary>
    /// The three formats of <paramref name="document"/>. When rendering throws, each article is rendered alone to find
    /// the ones to blame, and the document is rendered again without them; an error no article explains is returned.
    /// </summary>
    private (IReadOnlyList<(string File, byte[] Bytes)> Files, IReadOnlyList<(Article Article, Exception Error)> LeftOut, Exception? Error) RenderLeavingOut(FeedDocument document)
    {
        try
        {
            return (Render(document).ToList(), [], null);
        }
        catch (Exception whole) when (whole is not OperationCanceledException)
        {
            var bad = new List<(Article, Exception)>();
            foreach (var article in document.Items)
            {
                try
                {
                    _ = Render(document with { Items = [article] }).ToList();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    bad.Add((article, e));
                }
            }
            if (bad.Count == 0) return ([], [], whole);
            var kept = document with { Items = document.Items.Where(a => !bad.Exists(b => b.Item1.Id == a.Id)).ToList() };
            try
            {
                return (Render(kept).ToList(), bad, null);
            }
            catch (Exception still) when (still is not OperationCanceledException)
            {
                // Every article fails alone as well when the fault is the feed's own (its title, say): blame none of them.
                return ([], [], still);
            }
        }
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

    /// <summary>
    /// The current feed, plus every complete archive page from the one holding <paramref name="since"/> on, one page
    /// at a time so a scope of any size is never held in memory whole. Pages after the first are read by keyset
    /// (after the previous page's last article) rather than by OFFSET, whose cost grows with the depth of the page.
    /// </summary>
    private async IAsyncEnumerable<FeedDocument> DocumentsAsync(System.Data.Common.DbConnection connection, FeedScope scope, DateTimeOffset since,
        ICollection<UnreadableArticleException> unreadable, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var total = await store.CountAsync(connection, scope, cancellationToken);
        var complete = total / PageSize;
        yield return new FeedDocument(scope, await store.NewestAsync(connection, scope, PageSize, cancellationToken, unreadable), null, complete);
        if (complete == 0) yield break;

        var firstPage = since <= FeedStore.Beginning ? 1 : await store.CountBeforeAsync(connection, scope, since, cancellationToken) / PageSize + 1;
        Articles.Article? last = null;
        for (var page = firstPage; page <= complete; page++)
        {
            var items = last is null
                ? await store.OldestFirstAsync(connection, scope, (page - 1) * PageSize, PageSize, cancellationToken, unreadable)
                : await store.OldestAfterAsync(connection, scope, last, PageSize, cancellationToken, unreadable);
            last = items[^1];
            yield return new FeedDocument(scope, items.Reverse().ToList(), page, complete);
        }
    }

    private IEnumerable<(string File, byte[] Bytes)> Render(FeedDocument document)
    {
        yield return (FeedPaths.Rss, SyndicationWriter.Rss(document, links));
        yield return (FeedPaths.Atom, SyndicationWriter.Atom(document, links));
        yield return (FeedPaths.Json, JsonFeedWriter.Write(document, links));
    }

    /// <summary>The HTML index and the OPML list of every current feed.</summary>
    private async Task WriteDirectoryAsync(System.Data.Common.DbConnection connection, FeedOutput output, List<string> written, CancellationToken cancellationToken)
    {
        var scopes = await store.ScopesAsync(connection, cancellationToken);
        if (await output.WriteIfChangedAsync(FeedPaths.Index, Encoding.UTF8.GetBytes(IndexHtml(scopes)), cancellationToken)) written.Add(FeedPaths.Index);
        if (await output.WriteIfChangedAsync(FeedPaths.Opml, Opml(scopes), cancellationToken)) written.Add(FeedPaths.Opml);
    }

    private string IndexHtml(IReadOnlyList<(FeedScope Scope, int Count)> scopes)
    {
        string E(string s) => WebUtility.HtmlEncode(s);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"").Append(E(links.Site.Language)).Append("\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
          .Append(E(links.Site.Title)).Append(" feeds</title>\n");
        sb.Append("<link rel=\"alternate\" type=\"application/rss+xml\" title=\"").Append(E(links.Title(FeedScope.Site))).Append("\" href=\"").Append(E(links.Url(FeedScope.Site, null, FeedPaths.Rss))).Append("\">\n");
        sb.Append("<link rel=\"alternate\" type=\"application/atom+xml\" title=\"").Append(E(links.Title(FeedScope.Site))).Append("\" href=\"").Append(E(links.Url(FeedScope.Site, null, FeedPaths.Atom))).Append("\">\n");
        sb.Append("<link rel=\"alternate\" type=\"application/feed+json\" title=\"").Append(E(links.Title(FeedScope.Site))).Append("\" href=\"").Append(E(links.Url(FeedScope.Site, null, FeedPaths.Json))).Append("\">\n");
        sb.Append("</head>\n<body>\n<h1>").Append(E(links.Site.Title)).Append(" feeds</h1>\n<p>Subscribe in any feed reader. <a href=\"").Append(FeedPaths.Opml).Append("\">All feeds as OPML</a>.</p>\n");
        foreach (var group in scopes.GroupBy(s => s.Scope.Kind))
        {
            sb.Append("<h2>").Append(group.Key switch { FeedKind.Site => "Everything", FeedKind.Author => "Authors", _ => "Tags" }).Append("</h2>\n<ul>\n");
            foreach (var (scope, count) in group)
            {
                var name = scope.Kind == FeedKind.Site ? links.Site.Title : scope.Name;
                sb.Append("<li>").Append(E(name)).Append(" (").Append(count).Append(") — ")
                  .Append("<a href=\"").Append(E(links.RelativeUrl(scope, null, FeedPaths.Rss))).Append("\">RSS</a> · ")
                  .Append("<a href=\"").Append(E(links.RelativeUrl(scope, null, FeedPaths.Atom))).Append("\">Atom</a> · ")
                  .Append("<a href=\"").Append(E(links.RelativeUrl(scope, null, FeedPaths.Json))).Append("\">JSON Feed</a></li>\n");
            }
            sb.Append("</ul>\n");
        }
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
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
