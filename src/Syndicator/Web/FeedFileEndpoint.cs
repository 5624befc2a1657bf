using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Microsoft.Win32.SafeHandles;
using Syndicator.Feeds;

namespace Syndicator.Web;

/// <summary>
/// <c>GET</c> and <c>HEAD</c> <c>/feeds/{**path}</c>: the files of the feed output folder (<see cref="FeedOptions.OutputPath"/>),
/// for feed readers that poll often. Every response carries a strong ETag made from the bytes (one per content coding)
/// and a Last-Modified, so a reader that already has the file gets a 304; text files are sent gzip or brotli
/// compressed when the reader accepts it, and the bytes of every representation are kept in memory within
/// <see cref="HttpOptions.FeedCacheMegabytes"/> (<see cref="FeedFileCache"/>) because a feed is read far more often than it is written.
/// </summary>
/// <remarks>
/// <para>The builder replaces files by rename. A file whose length and modification time match what is in memory is answered
/// from memory, validators and body alike; any other is opened once, its length and time taken from that handle and
/// its bytes read from it: a reader gets the old file or the new one, never half of each.</para>
/// <para>Serving from memory beats the file API: Kestrel has no zero-copy path on Linux (its SendFileAsync reads the
/// file into the response pipe like any other write), so a file read per request costs the read on top of the copy.
/// A body of <see cref="FeedFileSendFile.MinBytes"/> or more is therefore copied once into an in-memory file and sent
/// from there with sendfile(2) (<see cref="FeedFileSpool"/>), so neither Kestrel nor the kernel copies it per request.
/// A file larger than <see cref="FeedFileCache.MaxBodyBytes"/> is not kept: it is streamed from its handle,
/// uncompressed, and only its validators are remembered.</para>
/// <para>A path looked at on disk is trusted until the kernel reports a change below the folder or
/// <see cref="HttpOptions.FeedRecheckMilliseconds"/> pass (<see cref="FeedFolderWatch"/>), so a 304 makes no system call.</para>
/// <para>Only regular files below the folder are served; <c>..</c>, absolute paths, hidden names, directories and symbolic
/// links answer 404.</para>
/// </remarks>
public sealed class FeedFileEndpoint : IDisposable
{
    public const string Prefix = "/feeds";

    /// <summary>Smaller files are sent as they are: compression would save a few bytes at best.</summary>
    internal const int MinCompressBytes = 128;

    private const string CacheControl = "public, max-age=300";
    private const int MaxPathChars = 1024;
    private const int StreamBufferBytes = 64 * 1024;

    /// <summary>Feed paths whose last look at the disk is remembered (see <see cref="FeedFolderWatch"/>).</summary>
    private const int MaxLocated = 4096;

    /// <summary>Accept-Encoding values remembered with the coding they choose; readers send a handful of distinct ones.</summary>
    private const int MaxRememberedAcceptEncodings = 64;

    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private static readonly SearchValues<char> ForbiddenNameChars = SearchValues.Create("\\/:*?\"<>|\0");

    private readonly IServiceProvider services;
    private readonly ConcurrentDictionary<string, ContentCoding> codings = new(StringComparer.Ordinal);
    private readonly FeedFolderWatch watch = new();
    private readonly ConcurrentDictionary<string, Located> lookedAt = new(StringComparer.Ordinal);
    private string? root;
    private FeedFileCache? cache;
    private bool? sendFile;
    private long? recheckTicks;
    private int watchProblemLogged;
    private long diskLooks;

    public FeedFileEndpoint(IServiceProvider services) => this.services = services;

    /// <summary>
    /// Answers <c>/feeds</c>, <c>/feeds/</c> (both <c>index.html</c>) and <c>/feeds/{path}</c> (any case of the prefix):
    /// <c>GET</c> and <c>HEAD</c> with the file, any other method 405 with <c>Allow: GET, HEAD</c>.
    /// </summary>
    /// <remarks>
    /// A middleware placed after host filtering, the security headers and the readers'/operators' split
    /// (<see cref="OperatorPaths"/>), but ahead of routing and of the sign-up rate limiter: the polls that make most of
    /// a site's traffic skip the route table and two partitioned limiters that never apply to them (a third of the CPU
    /// of a 304 went to what this skips).
    /// </remarks>
    public static void Use(IApplicationBuilder app)
    {
        var endpoint = app.ApplicationServices.GetRequiredService<FeedFileEndpoint>();
        app.Use((context, next) =>
        {
            var request = context.Request;
            if (!request.Path.StartsWithSegments(Prefix, StringComparison.OrdinalIgnoreCase, out var rest)) return next(context);
            if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) return endpoint.HandleAsync(context, rest.HasValue ? rest.Value![1..] : null);
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = "GET, HEAD";
            return Task.CompletedTask;
        });
    }

    public void Dispose() => watch.Dispose();

    /// <summary>The output folder, full path ending with a separator. Resolved at the first request, once every option is registered.</summary>
    private string Root => root ??= ResolveRoot();

    /// <summary>The files kept in memory; sized at the first request, once the options are validated.</summary>
    internal FeedFileCache Cache => cache ??= new FeedFileCache(services.GetRequiredService<IOptions<HttpOptions>>().Value.FeedCacheMegabytes * 1024L * 1024);

    private string ResolveRoot()
    {
        var contentRoot = services.GetRequiredService<IHostEnvironment>().ContentRootPath;
        // IOptions<T> resolves for any T (an unbound one just holds the defaults), so "is the Feeds section bound"
        // is answered by whether anything configures FeedOptions; until then bind the section here.
        var options = services.GetServices<IConfigureOptions<FeedOptions>>().Any()
            ? services.GetRequiredService<IOptions<FeedOptions>>().Value
            : services.GetRequiredService<IConfiguration>().GetSection(FeedOptions.Section).Get<FeedOptions>() ?? new FeedOptions();
        var full = Path.GetFullPath(options.OutputPath, contentRoot);
        return Path.EndsInDirectorySeparator(full) ? full : full + Path.DirectorySeparatorChar;
    }

    /// <summary>Answers one request for <paramref name="relative"/>, the path below <c>/feeds/</c> as Kestrel decoded it (<c>%2F</c> left encoded).</summary>
    private async Task HandleAsync(HttpContext context, string? relative)
    {
        var located = Locate(relative);
        if (located is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        // The length and modification time Locate saw (on disk, or trusted since: see FeedFolderWatch) answer a repeat request
        // from memory: same length and time, same bytes (the builder replaces a file by rename, which changes both). Only
        // a file not seen yet, or changed, is opened.
        var cache = Cache;
        var path = located.FullName;
        var known = cache.Find(path, located.Length, located.LastWriteTimeUtc.Ticks);
        if (known is not null && (known.Body(ContentCoding.Identity) is not null || IsNotModified(context.Request, known.ETag(ContentCoding.Identity), known.LastModified)))
        {
            await AnswerAsync(context, known);
            return;
        }

        // An empty file has nothing to read, so it is not opened: a FIFO or a device also reports length 0, and opening one would hang the request.
        if (located.Length == 0)
        {
            var empty = new FeedFile(path, 0, located.LastWriteTimeUtc, Hash([]), FeedPaths.ContentType(path), []);
            cache.Add(empty);
            await AnswerAsync(context, empty);
            return;
        }

        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound; // deleted since, or a directory after all
            return;
        }

        using (handle)
        {
            // Length, time and bytes all come from the one open handle: a rename that replaces the file meanwhile does not mix two versions.
            var length = RandomAccess.GetLength(handle);
            var modifiedUtc = File.GetLastWriteTimeUtc(handle);
            var file = cache.Find(path, length, modifiedUtc.Ticks);
            if (file is null)
            {
                file = await ReadAsync(handle, path, length, modifiedUtc, cache.MaxBodyBytes, context.RequestAborted);
                if (file.Length == length) cache.Add(file); // a file that changed length under us is not trusted by a later request
            }
            if (file.Body(ContentCoding.Identity) is not null) await AnswerAsync(context, file);
            else await StreamAsync(context, file, handle);
        }
    }

    /// <summary>The answer from memory: a 304, or the representation the reader accepts (compressed once, then kept).</summary>
    private Task AnswerAsync(HttpContext context, FeedFile file)
    {
        var coding = file.Compresses ? ChooseCoding(context.Request.Headers.AcceptEncoding) : ContentCoding.Identity;
        if (NotModified(context, file, coding)) return Task.CompletedTask;

        var body = file.Body(coding);
        if (body is null)
        {
            body = file.AddBody(coding, Compress(file.Body(ContentCoding.Identity)!, coding), out var added);
            if (added) Cache.Grew(file);
        }
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = file.ContentType;
        if (coding != ContentCoding.Identity) response.Headers.ContentEncoding = coding == ContentCoding.Brotli ? "br" : "gzip";
        if (body.Length >= FeedFileSendFile.MinBytes && SendFile && FeedFileSendFile.SocketFor(context) is { } socket && Spool(file, coding, body) is { } spool)
            return SendFileAsync(context, socket, spool);
        response.ContentLength = body.Length;
        // No RequestAborted token: a reader that goes away completes the write anyway (Kestrel aborts the pipe), and a
        // token would be registered on every write that waits for the socket, which a large file's always does.
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.BodyWriter.WriteAsync(body).AsTask();
    }

    /// <summary>Whether bodies may go out with sendfile: configured, supported here, and the transport set up for it (see <see cref="FeedFileSendFile"/>).</summary>
    private bool SendFile => sendFile ??= FeedFileSendFile.Enabled(services);

    /// <summary>The spool of a body, referenced for one send; null when the entry was dropped meanwhile or spools cannot be made.</summary>
    private FeedFileSpool? Spool(FeedFile file, ContentCoding coding, byte[] body)
    {
        FeedFileSpool? spool;
        try
        {
            spool = file.Spool(coding, body, out var added);
            if (added) Cache.Grew(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or EntryPointNotFoundException or DllNotFoundException)
        {
            // Nothing lost but speed: every body is copied through Kestrel from now on, and the log says why once.
            sendFile = false;
            services.GetRequiredService<ILogger<FeedFileEndpoint>>().LogWarning(e,
                "Feed files are copied to readers instead of sent with sendfile: an in-memory file for {Path} could not be made. Set Http:SendFile=false to silence this, or allow memfd_create and /proc/self/fd.", file.Path);
            return null;
        }
        return spool is not null && spool.TryAcquire() ? spool : null;
    }

    private static async Task SendFileAsync(HttpContext context, System.Net.Sockets.Socket socket, FeedFileSpool spool)
    {
        try
        {
            await spool.SendAsync(context, socket);
        }
        finally
        {
            spool.Release();
        }
    }

    /// <summary>A file too large to keep: sent as it is, from the handle its validators were taken from.</summary>
    private async Task StreamAsync(HttpContext context, FeedFile file, SafeFileHandle handle)
    {
        if (NotModified(context, file, ContentCoding.Identity)) return;
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = file.ContentType;
        response.ContentLength = file.Length;
        if (HttpMethods.IsHead(context.Request.Method)) return;
        var buffer = ArrayPool<byte>.Shared.Rent(StreamBufferBytes);
        try
        {
            for (long offset = 0; offset < file.Length;)
            {
                var read = await RandomAccess.ReadAsync(handle, buffer.AsMemory(0, (int)Math.Min(buffer.Length, file.Length - offset)), offset, context.RequestAborted);
                if (read == 0) throw new IOException($"{file.Path} shrank to {offset} bytes while it was being sent ({file.Length} announced); it was rewritten in place rather than replaced by rename.");
                await response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                offset += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sets the validators of the representation; answers 304 and returns true when the reader already has it.</summary>
    private static bool NotModified(HttpContext context, FeedFile file, ContentCoding coding)
    {
        var etag = file.ETag(coding);
        var headers = context.Response.Headers;
        headers.ETag = etag;
        headers.LastModified = file.LastModifiedText;
        headers.CacheControl = CacheControl;
        if (file.Compressible) headers.Vary = HeaderNames.AcceptEncoding;
        if (!IsNotModified(context.Request, etag, file.LastModified)) return false;
        context.Response.StatusCode = StatusCodes.Status304NotModified;
        return true;
    }

    /// <summary>
    /// Reads one version of a file from its open handle: whole when it fits <paramref name="maxBodyBytes"/>, else only
    /// hashed (in chunks, so memory stays small) and left to be streamed.
    /// </summary>
    private static async Task<FeedFile> ReadAsync(SafeFileHandle handle, string path, long length, DateTime modifiedUtc, long maxBodyBytes, CancellationToken cancellationToken)
    {
        var contentType = FeedPaths.ContentType(path);
        if (length <= maxBodyBytes)
        {
            var buffer = new byte[length];
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await RandomAccess.ReadAsync(handle, buffer.AsMemory(total), total, cancellationToken);
                if (read == 0) break;
                total += read;
            }
            var bytes = total == buffer.Length ? buffer : buffer[..total];
            return new FeedFile(path, bytes.Length, modifiedUtc, Hash(bytes), contentType, bytes);
        }

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunk = ArrayPool<byte>.Shared.Rent(StreamBufferBytes);
        try
        {
            long offset = 0;
            while (offset < length)
            {
                var read = await RandomAccess.ReadAsync(handle, chunk.AsMemory(0, (int)Math.Min(chunk.Length, length - offset)), offset, cancellationToken);
                if (read == 0) break;
                sha.AppendData(chunk, 0, read);
                offset += read;
            }
            return new FeedFile(path, offset, modifiedUtc, Base64Url.EncodeToString(sha.GetHashAndReset()), contentType, identity: null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private static string Hash(byte[] bytes) => Base64Url.EncodeToString(SHA256.HashData(bytes));

    /// <summary>The coding to send for an Accept-Encoding header; the common values are parsed once and remembered.</summary>
    private ContentCoding ChooseCoding(StringValues acceptEncoding)
    {
        if (acceptEncoding.Count != 1) return ChooseCodingOf(acceptEncoding);
        var value = acceptEncoding[0]!;
        if (codings.TryGetValue(value, out var coding)) return coding;
        coding = ChooseCodingOf(acceptEncoding);
        if (codings.Count < MaxRememberedAcceptEncodings) codings.TryAdd(value, coding);
        return coding;
    }

    /// <summary>
    /// The file a path below <c>/feeds/</c> names, or null when it is not a regular, visible file below the output folder.
    /// The value is unescaped once more (Kestrel leaves <c>%2F</c> encoded) and every check runs on the result.
    /// </summary>
    internal FileInfo? Locate(string? requested)
    {
        var key = requested ?? "";
        var recheck = RecheckTicks;
        if (recheck > 0)
        {
            watch.EnsureStarted(Root);
            if (watch.Active && lookedAt.TryGetValue(key, out var seen) && seen.Generation == watch.Generation && Stopwatch.GetTimestamp() - seen.At < recheck)
                return seen.File;
        }
        // Read before looking: a change reported while we look makes this result stale at once.
        var generation = watch.Generation;
        var at = Stopwatch.GetTimestamp();
        var file = LocateOnDisk(key);
        Interlocked.Increment(ref diskLooks);
        if (file is not null && recheck > 0 && watch.Active)
        {
            if (lookedAt.Count >= MaxLocated) lookedAt.Clear(); // only files that exist are kept, so this takes many distinct feeds
            lookedAt[key] = new Located(file, generation, at);
        }
        if (watch.Problem is { } problem && Interlocked.Exchange(ref watchProblemLogged, 1) == 0)
            services.GetRequiredService<ILogger<FeedFileEndpoint>>().LogWarning("Feed folder: {Problem}", problem);
        return file;
    }

    /// <summary>How long a path looked at is trusted (<see cref="HttpOptions.FeedRecheckMilliseconds"/>), in <see cref="Stopwatch"/> ticks; 0: never.</summary>
    private long RecheckTicks => recheckTicks ??= services.GetRequiredService<IOptions<HttpOptions>>().Value.FeedRecheckMilliseconds * Stopwatch.Frequency / 1000;

    /// <summary>Changes reported below the feed folder so far; tests wait for it to move before they expect a change to be seen.</summary>
    internal long ChangesSeen => watch.Active ? watch.Generation : -1;

    /// <summary>How many requests looked at the disk (a trusted path does not).</summary>
    internal long DiskLooks => Interlocked.Read(ref diskLooks);

    private sealed record Located(FileInfo File, long Generation, long At);

    /// <summary>Looks at the disk: one <c>lstat</c> per path segment.</summary>
    private FileInfo? LocateOnDisk(string requested)
    {
        var relative = requested;
        if (relative.Contains('%')) relative = Uri.UnescapeDataString(relative);
        if (relative.Length == 0) relative = FeedPaths.Index;
        if (relative.Length > MaxPathChars) return null;

        var root = Root;
        var path = root.AsSpan().TrimEnd(Path.DirectorySeparatorChar).ToString();
        FileSystemInfo? entry = null;
        var rest = relative.AsSpan();
        while (true)
        {
            var slash = rest.IndexOf('/');
            var segment = slash < 0 ? rest : rest[..slash];
            if (!IsPlainName(segment)) return null;
            path = string.Concat(path, Path.DirectorySeparatorChar.ToString(), segment);
            entry = slash < 0 ? new FileInfo(path) : new DirectoryInfo(path);
            if (!entry.Exists) return null; // FileInfo.Exists is false for a directory and DirectoryInfo.Exists for a file
            // One lstat per segment answers all of it: a symbolic link has ReparsePoint on every platform, so no readlink is needed.
            if ((entry.Attributes & (FileAttributes.Hidden | FileAttributes.System | FileAttributes.Device | FileAttributes.ReparsePoint)) != 0) return null;
            if (slash < 0) break;
            rest = rest[(slash + 1)..];
        }

        // The segments are plain names (no dots, no separators), so the path cannot leave the folder; the check stays as a second lock.
        // The FileInfo is the one already looked at: its length and time come from that same lstat.
        return entry is FileInfo file && file.FullName.StartsWith(root, PathComparison) ? file : null;
    }

    /// <summary>One path segment that names an entry of its folder on every platform: no separators, no dot names, no device names.</summary>
    private static bool IsPlainName(ReadOnlySpan<char> segment)
    {
        if (segment.Length is 0 or > 255 || segment[0] == '.' || segment[^1] is ' ' or '.' || segment.ContainsAny(ForbiddenNameChars)) return false;
        foreach (var c in segment)
            if (char.IsControl(c)) return false;
        return !IsWindowsDeviceName(segment);
    }

    private static bool IsWindowsDeviceName(ReadOnlySpan<char> segment)
    {
        var dot = segment.IndexOf('.');
        var stem = (dot < 0 ? segment : segment[..dot]).TrimEnd(' ');
        foreach (var device in (ReadOnlySpan<string>)["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"])
            if (stem.Equals(device, StringComparison.OrdinalIgnoreCase)) return true;
        return stem.Length == 4 && (stem.StartsWith("COM", StringComparison.OrdinalIgnoreCase) || stem.StartsWith("LPT", StringComparison.OrdinalIgnoreCase))
            && stem[3] is >= '0' and <= '9' or '¹' or '²' or '³';
    }

    private static byte[] Compress(byte[] bytes, ContentCoding coding)
    {
        using var output = new MemoryStream(bytes.Length / 4 + 64);
        using (Stream stream = coding == ContentCoding.Brotli
            ? new BrotliStream(output, new BrotliCompressionOptions { Quality = 9 }, leaveOpen: true)
            : new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            stream.Write(bytes);
        }
        return output.ToArray();
    }

    /// <summary>
    /// RFC 9110 §13.1.2 and §13.2.2: a present If-None-Match decides alone (weak comparison, <c>*</c> matches the
    /// existing file); only without it does If-Modified-Since count, matching when the file is not newer.
    /// </summary>
    internal static bool IsNotModified(HttpRequest request, string etag, DateTimeOffset lastModified)
    {
        var ifNoneMatch = request.Headers.IfNoneMatch;
        if (!StringValues.IsNullOrEmpty(ifNoneMatch)) return MatchesAny(ifNoneMatch, etag);
        return HeaderUtilities.TryParseDate(request.Headers.IfModifiedSince.ToString(), out var since) && lastModified <= since;
    }

    /// <summary>Whether an If-None-Match list holds <paramref name="etag"/>, weakly compared (a <c>W/</c> prefix is ignored), or <c>*</c>.</summary>
    internal static bool MatchesAny(StringValues header, string etag)
    {
        foreach (var value in header)
        {
            var rest = (value ?? "").AsSpan();
            while (true)
            {
                rest = rest.TrimStart(" \t,");
                if (rest.IsEmpty) break;
                if (rest[0] == '*') return true;
                if (rest.StartsWith("W/", StringComparison.Ordinal)) rest = rest[2..];
                if (rest.IsEmpty || rest[0] != '"') return false; // malformed: trust nothing after it
                var close = rest[1..].IndexOf('"');
                if (close < 0) return false;
                if (rest[..(close + 2)].SequenceEqual(etag)) return true;
                rest = rest[(close + 2)..];
            }
        }
        return false;
    }

    /// <summary>
    /// The coding to send, from Accept-Encoding (RFC 9110 §12.5.3): the highest q wins, q=0 refuses, <c>*</c> stands
    /// for any coding not listed; ties go to brotli, then gzip. Identity is acceptable unless refused but ranks last
    /// when not listed, and is the answer when nothing else is acceptable.
    /// </summary>
    internal static ContentCoding ChooseCodingOf(StringValues acceptEncoding)
    {
        if (StringValues.IsNullOrEmpty(acceptEncoding)) return ContentCoding.Identity;
        double? br = null, gzip = null, identity = null, any = null;
        foreach (var value in acceptEncoding)
        {
            foreach (var item in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var parts = item.Split(';', StringSplitOptions.TrimEntries);
                var q = 1.0;
                foreach (var parameter in parts.Skip(1))
                {
                    if (!parameter.StartsWith("q=", StringComparison.OrdinalIgnoreCase)) continue;
                    if (!double.TryParse(parameter.AsSpan(2), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out q) || q > 1) q = -1;
                }
                if (q < 0) continue; // an unreadable weight: ignore the entry
                switch (parts[0].ToLowerInvariant())
                {
                    case "br": br = q; break;
                    case "gzip" or "x-gzip": gzip = q; break;
                    case "identity": identity = q; break;
                    case "*": any = q; break;
                }
            }
        }
        var qBr = br ?? any ?? 0;
        var qGzip = gzip ?? any ?? 0;
        var qIdentity = identity ?? any ?? 0.0001;
        if (qBr > 0 && qBr >= qGzip && qBr >= qIdentity) return ContentCoding.Brotli;
        if (qGzip > 0 && qGzip >= qIdentity) return ContentCoding.Gzip;
        return ContentCoding.Identity;
    }
}
