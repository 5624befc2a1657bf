using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Syndicator.Feeds;

/// <summary>An article's entry as a build rendered it, or why it could not be read or rendered.</summary>
internal sealed record Rendered(string Id, string Slug, FeedEntry? Entry, Exception? Error);

/// <summary>
/// The entries one build rendered, for every other feed that carries the same article: the site's feed carries every
/// article, and its author's and each of its tags' feeds carry it again, so without this a full build reads and renders
/// each article three or four times (on PostgreSQL most of a 100,000-article build went on reading the same bodies again).
/// </summary>
/// <remarks>
/// <para>An entry is about 16 KB in the three formats, so at 100,000 articles the entries are 1.6 GB, which no memory
/// budget holds (a 64 MB cache held 4 % of them; 192 MB took the build's peak working set to 700 MB). The bytes go
/// to a file of the build's own in the output folder instead, and only where each entry lies stays in memory (about
/// 150 bytes an article); the page cache serves them back. The file is unlinked as soon as it is open where the system
/// allows it, so not even a killed build leaves it behind; it takes the entries' size on disk while the build runs.</para>
/// <para>An article that could not be read or rendered is kept in memory with its error, so every scope that carries it
/// leaves it out and says why. When the file cannot be written (a full disk), the cache stops taking entries, with a
/// warning, and the build renders each article once per feed as before.</para>
/// </remarks>
internal sealed class EntryCache(string folder, ILogger logger) : IDisposable
{
    private readonly record struct Spot(long Offset, int Rss, int Atom, int Json, DateTimeOffset Updated);

    private readonly ConcurrentDictionary<string, Spot> spots = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Rendered> failed = new(StringComparer.Ordinal);
    private readonly Lock opening = new();
    private SafeFileHandle? file;
    private long length;
    private volatile bool broken;

    public bool TryGet(string id, out Rendered rendered)
    {
        if (failed.TryGetValue(id, out rendered!)) return true;
        if (!spots.TryGetValue(id, out var spot) || file is not { } handle) return false;
        byte[] rss = new byte[spot.Rss], atom = new byte[spot.Atom], json = new byte[spot.Json];
        try
        {
            if (RandomAccess.Read(handle, [rss, atom, json], spot.Offset) != rss.Length + atom.Length + json.Length) return false;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false;
        }
        rendered = new Rendered(id, "", new FeedEntry(id, spot.Updated, rss, atom, json), null);
        return true;
    }

    public void Add(Rendered rendered)
    {
        if (rendered.Entry is not { } entry)
        {
            failed.TryAdd(rendered.Id, rendered);
            return;
        }
        if (broken) return;
        var size = entry.Rss.Length + entry.Atom.Length + entry.Json.Length;
        try
        {
            var handle = file ?? Open();
            // Each writer takes its own range, so the writes need no lock; an entry is found only once its bytes are in.
            var at = Interlocked.Add(ref length, size) - size;
            RandomAccess.Write(handle, [entry.Rss, entry.Atom, entry.Json], at);
            spots.TryAdd(entry.ArticleId, new Spot(at, entry.Rss.Length, entry.Atom.Length, entry.Json.Length, entry.Updated));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (broken) return;
            broken = true;
            logger.LogWarning("Feeds: rendered entries cannot be kept in {Folder} for the other feeds of this build ({Reason}); each feed renders its articles itself, which is slower. Free disk space in the feed output folder.",
                folder, e.Message);
        }
    }

    private SafeFileHandle Open()
    {
        lock (opening)
        {
            if (file is not null) return file;
            Directory.CreateDirectory(folder);
            var path = Path.Combine(folder, $".entries.{Guid.NewGuid():N}.tmp");
            var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.DeleteOnClose);
            try { File.Delete(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // still deleted on close
            return file = handle;
        }
    }

    public void Dispose() => file?.Dispose();
}
