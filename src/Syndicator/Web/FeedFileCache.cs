using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Net.Http.Headers;

namespace Syndicator.Web;

/// <summary>A content coding <see cref="FeedFileEndpoint"/> sends.</summary>
internal enum ContentCoding { Identity, Brotli, Gzip }

/// <summary>
/// One version of one feed file (a path with a length and a modification time): its validators, worked out once, and
/// the bytes of every representation asked for so far. A file too large to keep (<see cref="FeedFileCache.MaxBodyBytes"/>)
/// is remembered by its validators only, so a reader that has it still gets a 304 without the file being read.
/// </summary>
internal sealed class FeedFile
{
    private readonly string[] etags;
    private readonly byte[]?[] bodies = new byte[]?[3];
    private readonly FeedFileSpool?[] spools = new FeedFileSpool?[3];
    private readonly Lock spooling = new();
    private bool retired;

    public FeedFile(string path, long length, DateTime modifiedUtc, string hash, string contentType, byte[]? identity)
    {
        Path = path;
        Length = length;
        ModifiedTicks = modifiedUtc.Ticks;
        LastModified = new DateTimeOffset(modifiedUtc.Ticks - modifiedUtc.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        LastModifiedText = HeaderUtilities.FormatDate(LastModified);
        ContentType = contentType;
        Compressible = IsText(contentType);
        etags = [$"\"{hash}\"", $"\"{hash}-br\"", $"\"{hash}-gz\""];
        bodies[(int)ContentCoding.Identity] = identity;
    }

    public string Path { get; }
    public long Length { get; }
    public long ModifiedTicks { get; }
    public DateTimeOffset LastModified { get; }

    /// <summary>Last-Modified as sent: formatted once per version rather than once per request.</summary>
    public string LastModifiedText { get; }

    public string ContentType { get; }

    /// <summary>Text that compresses; the response varies with Accept-Encoding.</summary>
    public bool Compressible { get; }

    /// <summary>Whether a compressed representation is offered: a text file whose bytes are kept, and big enough for compression to save anything.</summary>
    public bool Compresses => Compressible && Length >= FeedFileEndpoint.MinCompressBytes && bodies[(int)ContentCoding.Identity] is not null;

    /// <summary>Bytes charged to the cache for this entry; changed only under the cache's lock.</summary>
    internal long Charged;

    /// <summary>When the entry was last used (<see cref="Stopwatch"/> ticks): the least recent go first.</summary>
    internal long LastUsed;

    public string ETag(ContentCoding coding) => etags[(int)coding];

    public byte[]? Body(ContentCoding coding) => Volatile.Read(ref bodies[(int)coding]);

    /// <summary>Keeps <paramref name="body"/> unless another request got there first; returns the body to send.</summary>
    public byte[] AddBody(ContentCoding coding, byte[] body, out bool added)
    {
        var existing = Interlocked.CompareExchange(ref bodies[(int)coding], body, null);
        added = existing is null;
        return existing ?? body;
    }

    /// <summary>
    /// The body of <paramref name="coding"/> as an in-memory file for sendfile, made on first use; null once the cache
    /// has dropped this entry (the request then copies the bytes instead). <paramref name="added"/> says a new one was
    /// made, which the cache must be charged for.
    /// </summary>
    /// <exception cref="IOException">The spool could not be made (see <see cref="FeedFileSpool.Create"/>).</exception>
    public FeedFileSpool? Spool(ContentCoding coding, byte[] body, out bool added)
    {
        added = false;
        var spool = Volatile.Read(ref spools[(int)coding]);
        if (spool is not null) return spool;
        lock (spooling)
        {
            if (retired) return null;
            if (spools[(int)coding] is { } made) return made;
            spool = FeedFileSpool.Create(body);
            Volatile.Write(ref spools[(int)coding], spool);
            added = true;
            return spool;
        }
    }

    /// <summary>Dropped from the cache: its spools close once the sends in flight from them end, and no new one is made.</summary>
    public void Retire()
    {
        lock (spooling)
        {
            retired = true;
            foreach (var spool in spools) spool?.Retire();
        }
    }

    /// <summary>What keeping this entry costs: its bytes (in the heap and in spools) plus a flat charge for the entry itself.</summary>
    public long Cost => FeedFileCache.EntryOverhead + bodies.Sum(b => (long)(b?.Length ?? 0)) + spools.Sum(s => (long)(s?.Length ?? 0));

    private static bool IsText(string contentType) =>
        contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase)
        || contentType.Contains("xml", StringComparison.OrdinalIgnoreCase)
        || contentType.Contains("json", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// The feed files served lately, by full path, within a byte budget (<see cref="HttpOptions.FeedCacheMegabytes"/>):
/// when an entry pushes the total over it, the least recently used are dropped until a quarter of the budget is free,
/// so memory stays bounded whatever the number of files and the sorting that eviction needs happens rarely.
/// </summary>
/// <remarks>
/// A hit is one dictionary read and one write of the entry's own time stamp: no lock and no shared counter, so readers
/// on different cores do not contend. Only adding (a file read from disk, or compressed) takes the lock.
/// </remarks>
internal sealed class FeedFileCache(long budget)
{
    /// <summary>A flat charge per entry for its strings and bookkeeping, so even a folder of empty or bodiless files is bounded.</summary>
    internal const int EntryOverhead = 512;

    private readonly ConcurrentDictionary<string, FeedFile> entries = new(StringComparer.Ordinal);
    private readonly Lock gate = new();
    private long size;

    public long Budget => budget;

    /// <summary>The largest body kept: one huge file must not push out every feed.</summary>
    public long MaxBodyBytes => budget / 8;

    /// <summary>Bytes held now, never more than <see cref="Budget"/> once an addition returns.</summary>
    public long Size
    {
        get { lock (gate) return size; }
    }

    public int Count => entries.Count;

    /// <summary>The entry for this version of the file, or null when it is not known (never seen, changed, or dropped).</summary>
    public FeedFile? Find(string path, long length, long modifiedTicks)
    {
        if (!entries.TryGetValue(path, out var file) || file.Length != length || file.ModifiedTicks != modifiedTicks) return null;
        file.LastUsed = Stopwatch.GetTimestamp();
        return file;
    }

    /// <summary>Keeps <paramref name="file"/>, replacing any older version of the same path.</summary>
    public void Add(FeedFile file)
    {
        file.LastUsed = Stopwatch.GetTimestamp();
        lock (gate)
        {
            if (entries.TryGetValue(file.Path, out var old))
            {
                size -= old.Charged;
                old.Retire();
            }
            file.Charged = file.Cost;
            entries[file.Path] = file;
            size += file.Charged;
            Trim();
        }
    }

    /// <summary>Charges a body just added to <paramref name="file"/>, if the entry is still the one kept for its path.</summary>
    public void Grew(FeedFile file)
    {
        lock (gate)
        {
            if (!entries.TryGetValue(file.Path, out var kept) || !ReferenceEquals(kept, file)) return;
            var cost = file.Cost;
            size += cost - file.Charged;
            file.Charged = cost;
            Trim();
        }
    }

    private void Trim()
    {
        if (size <= budget) return;
        foreach (var file in entries.Values.OrderBy(f => f.LastUsed))
        {
            if (size <= budget - budget / 4) break;
            if (!entries.TryRemove(KeyValuePair.Create(file.Path, file))) continue;
            size -= file.Charged;
            file.Retire();
        }
    }
}

/// <summary>
/// Tells the feed endpoint when anything below the feed folder may have changed, so a path it has looked at needs no
/// <c>lstat</c> per request: the kernel reports every rename, write, removal and attribute change there (inotify on
/// Linux, through <see cref="FileSystemWatcher"/>), and each report moves <see cref="Generation"/> on, which makes
/// every path looked at before it be looked at again. A report arrives a moment after the change (well under a
/// millisecond on an idle machine); a change the kernel does not report (a network file system written by another
/// host) is still seen once <see cref="HttpOptions.FeedRecheckMilliseconds"/> have passed.
/// </summary>
internal sealed class FeedFolderWatch : IDisposable
{
    private readonly Lock gate = new();
    private FileSystemWatcher? watcher;
    private long generation;
    private long nextAttempt;
    private bool disposed;

    /// <summary>Moves on at every change reported; a path looked at in an earlier generation is looked at again.</summary>
    public long Generation => Volatile.Read(ref generation);

    /// <summary>Whether changes are being reported; until then (or after the watcher failed) every request looks at the disk.</summary>
    public bool Active { get; private set; }

    /// <summary>The reason the folder is not watched, for the log; null while it is.</summary>
    public string? Problem { get; private set; }

    /// <summary>Starts watching <paramref name="root"/> if it exists; tried again at most once a second while it does not.</summary>
    public void EnsureStarted(string root)
    {
        if (Active || Stopwatch.GetTimestamp() < Volatile.Read(ref nextAttempt)) return;
        lock (gate)
        {
            if (Active || disposed || Stopwatch.GetTimestamp() < nextAttempt) return;
            Volatile.Write(ref nextAttempt, Stopwatch.GetTimestamp() + Stopwatch.Frequency);
            if (!Directory.Exists(root)) return;
            var started = new FileSystemWatcher(root)
            {
                IncludeSubdirectories = true,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size
                    | NotifyFilters.Attributes | NotifyFilters.CreationTime | NotifyFilters.Security,
            };
            started.Changed += (_, _) => Changed();
            started.Created += (_, _) => Changed();
            started.Deleted += (_, _) => Changed();
            started.Renamed += (_, _) => Changed();
            started.Error += (_, e) => Failed(started, e.GetException());
            try
            {
                started.EnableRaisingEvents = true;
            }
            catch (Exception e) when (e is IOException or PlatformNotSupportedException or UnauthorizedAccessException)
            {
                // Out of inotify watches or instances, most likely: correct without it, one lstat per path segment per request.
                Problem = $"{root} cannot be watched ({e.Message}); every feed request looks at the disk. Raise fs.inotify.max_user_watches to have it watched.";
                started.Dispose();
                return;
            }
            watcher = started;
            Changed(); // anything looked at before the watch began is looked at again
            Active = true;
        }
    }

    private void Changed() => Interlocked.Increment(ref generation);

    /// <summary>Lost reports (an overflow) make everything be looked at again; any other failure stops the watch for good.</summary>
    private void Failed(FileSystemWatcher failed, Exception e)
    {
        Changed();
        if (e is InternalBufferOverflowException) return;
        lock (gate)
        {
            Active = false;
            Problem = $"watching the feed folder failed ({e.Message}); every feed request looks at the disk from now on.";
            Volatile.Write(ref nextAttempt, long.MaxValue);
            failed.Dispose();
        }
        Changed();
    }

    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            Active = false;
            watcher?.Dispose();
        }
    }
}
