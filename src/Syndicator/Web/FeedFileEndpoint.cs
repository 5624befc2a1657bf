using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
/// compressed when the reader accepts it, and the bytes of every representation are kept in memory (within
/// <see cref="CacheBytes"/>) because a feed is read far more often than it is written.
/// </summary>
/// <remarks>
/// The builder replaces files by rename. A file whose length and modification time match what is in memory is answered
/// from memory; any other is opened once, its length and time taken from that handle and read whole before answering:
/// a reader gets the old file or the new one, never half of each.
/// Only regular files below the folder are served; <c>..</c>, absolute paths, hidden names, directories and symbolic
/// links answer 404.
/// </remarks>
public sealed class FeedFileEndpoint
{
    public const string Prefix = "/feeds";

    /// <summary>Smaller files are sent as they are: compression would save a few bytes at best.</summary>
    internal const int MinCompressBytes = 128;

    /// <summary>Every representation (plain and compressed) kept in memory, least recently used dropped first: memory stays bounded whatever the number of files.</summary>
    internal const long CacheBytes = 64L * 1024 * 1024;

    private const string CacheControl = "public, max-age=300";
    private const int MaxPathChars = 1024;
    private const int MaxRememberedHashes = 50_000;

    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private static readonly char[] ForbiddenNameChars = ['\\', '/', ':', '*', '?', '"', '<', '>', '|', '\0'];

    private readonly IServiceProvider services;
    private readonly ConcurrentDictionary<string, ContentHash> hashes = new(StringComparer.Ordinal);
    private readonly ByteCache cache = new(CacheBytes);
    private string? root;

    private FeedFileEndpoint(IServiceProvider services) => this.services = services;

    internal enum Coding { Identity, Brotli, Gzip }

    /// <summary>Maps <c>GET</c>/<c>HEAD</c> <c>/feeds</c>, <c>/feeds/</c> (both <c>index.html</c>) and <c>/feeds/{**path}</c>.</summary>
    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints)
    {
        var endpoint = new FeedFileEndpoint(endpoints.ServiceProvider);
        return endpoints.MapMethods(Prefix + "/{**path}", [HttpMethods.Get, HttpMethods.Head], new RequestDelegate(endpoint.HandleAsync));
    }

    /// <summary>The output folder, full path ending with a separator. Resolved at the first request, once every option is registered.</summary>
    private string Root => root ??= ResolveRoot();

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

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var cancellationToken = context.RequestAborted;

        var file = Locate(request.RouteValues["path"] as string);
        if (file is null)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        // The stat Locate made answers a repeat request from memory: same length and modification time, same bytes
        // (the builder replaces a file by rename, which changes both). Only a file not seen yet, or changed, is opened.
        var contentType = FeedPaths.ContentType(file.Name);
        var compressible = IsText(contentType);
        var coding = compressible && file.Length >= MinCompressBytes ? ChooseCoding(request.Headers.AcceptEncoding) : Coding.Identity;
        if (hashes.TryGetValue(file.FullName, out var known) && known.Length == file.Length && known.ModifiedTicks == file.LastWriteTimeUtc.Ticks
            && Answer(context, known, file.LastWriteTimeUtc, contentType, compressible, coding) is { } quick)
        {
            await quick;
            return;
        }

        // An empty file has nothing to read, so it is not opened: a FIFO or a device also reports length 0, and opening one would hang the request.
        SafeFileHandle? handle = null;
        if (file.Length > 0)
        {
            try
            {
                handle = File.OpenHandle(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.SequentialScan);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
            {
                response.StatusCode = StatusCodes.Status404NotFound; // deleted since, or a directory after all
                return;
            }
        }

        using (handle)
        {
            // Length, time and bytes all come from the one open handle: a rename that replaces the file meanwhile does not mix two versions.
            var length = handle is null ? 0 : RandomAccess.GetLength(handle);
            var modifiedUtc = handle is null ? file.LastWriteTimeUtc : File.GetLastWriteTimeUtc(handle);
            var bytes = await ReadAllAsync(handle, length, cancellationToken);
            var hash = Remember(file.FullName, length, modifiedUtc, bytes);
            if (coding != Coding.Identity && bytes.Length < MinCompressBytes) coding = Coding.Identity; // shrank since the stat
            var etag = ETag(hash.Value, coding);
            var lastModified = Truncate(modifiedUtc);

            SetValidators(response, etag, lastModified, compressible);
            if (IsNotModified(request, etag, lastModified))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }

            byte[] body;
            if (coding == Coding.Identity) body = bytes;
            else if (!cache.TryGet(etag, out body!))
            {
                body = Compress(bytes, coding);
                if (bytes.Length == length) cache.Add(etag, body);
            }
            await SendAsync(context, contentType, coding, body);
        }
    }

    /// <summary>The answer from what is remembered about the file, or null when the bytes it needs are no longer in memory.</summary>
    private Task? Answer(HttpContext context, ContentHash hash, DateTime modifiedUtc, string contentType, bool compressible, Coding coding)
    {
        var etag = ETag(hash.Value, coding);
        var lastModified = Truncate(modifiedUtc);
        if (IsNotModified(context.Request, etag, lastModified))
        {
            SetValidators(context.Response, etag, lastModified, compressible);
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        if (!cache.TryGet(etag, out var body)) return null;
        SetValidators(context.Response, etag, lastModified, compressible);
        return SendAsync(context, contentType, coding, body);
    }

    private static DateTimeOffset Truncate(DateTime modifiedUtc) =>
        new(modifiedUtc.Ticks - modifiedUtc.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);

    private static void SetValidators(HttpResponse response, string etag, DateTimeOffset lastModified, bool compressible)
    {
        response.Headers.ETag = etag;
        response.Headers.LastModified = HeaderUtilities.FormatDate(lastModified);
        response.Headers.CacheControl = CacheControl;
        if (compressible) response.Headers.Vary = HeaderNames.AcceptEncoding;
    }

    private static async Task SendAsync(HttpContext context, string contentType, Coding coding, byte[] body)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.Headers.XContentTypeOptions = "nosniff";
        if (coding != Coding.Identity) response.Headers.ContentEncoding = coding == Coding.Brotli ? "br" : "gzip";
        response.ContentLength = body.Length;
        if (HttpMethods.IsHead(context.Request.Method)) return;
        await response.Body.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>
    /// The file a route value names, or null when it is not a regular, visible file below the output folder.
    /// The value is unescaped once more (Kestrel leaves <c>%2F</c> encoded) and every check runs on the result.
    /// </summary>
    internal FileInfo? Locate(string? routeValue)
    {
        var relative = Uri.UnescapeDataString(routeValue ?? "");
        if (relative.Length == 0) relative = FeedPaths.Index;
        if (relative.Length > MaxPathChars) return null;

        var segments = relative.Split('/');
        if (!segments.All(IsPlainName)) return null;

        var root = Root;
        var path = root.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        FileSystemInfo? entry = null;
        for (var i = 0; i < segments.Length; i++)
        {
            path = path + Path.DirectorySeparatorChar + segments[i];
            entry = i < segments.Length - 1 ? new DirectoryInfo(path) : new FileInfo(path);
            if (!entry.Exists) return null; // FileInfo.Exists is false for a directory and DirectoryInfo.Exists for a file
            // One lstat per segment answers all of it: a symbolic link has ReparsePoint on every platform, so no readlink is needed.
            if ((entry.Attributes & (FileAttributes.Hidden | FileAttributes.System | FileAttributes.Device | FileAttributes.ReparsePoint)) != 0) return null;
        }

        // The segments are plain names (no dots, no separators), so the path cannot leave the folder; the check stays as a second lock.
        // The FileInfo is the one already looked at: its length and time come from that same lstat.
        return entry is FileInfo file && file.FullName.StartsWith(root, PathComparison) ? file : null;
    }

    /// <summary>One path segment that names an entry of its folder on every platform: no separators, no dot names, no device names.</summary>
    private static bool IsPlainName(string segment) =>
        segment.Length is > 0 and <= 255
        && segment[0] != '.'
        && segment[^1] is not (' ' or '.')
        && segment.IndexOfAny(ForbiddenNameChars) < 0
        && !segment.Any(char.IsControl)
        && !IsWindowsDeviceName(segment);

    private static bool IsWindowsDeviceName(string segment)
    {
        var stem = segment.Split('.')[0].TrimEnd(' ');
        return stem.ToUpperInvariant() is "CON" or "PRN" or "AUX" or "NUL" or "CONIN$" or "CONOUT$"
            || stem.Length == 4 && (stem.StartsWith("COM", StringComparison.OrdinalIgnoreCase) || stem.StartsWith("LPT", StringComparison.OrdinalIgnoreCase))
                && stem[3] is >= '0' and <= '9' or '¹' or '²' or '³';
    }

    private static bool IsText(string contentType) =>
        contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase)
        || contentType.Contains("xml", StringComparison.OrdinalIgnoreCase)
        || contentType.Contains("json", StringComparison.OrdinalIgnoreCase);

    private ContentHash Remember(string path, long length, DateTime modifiedUtc, byte[] bytes)
    {
        var hash = new ContentHash(bytes.Length, modifiedUtc.Ticks, Base64Url.EncodeToString(SHA256.HashData(bytes)));
        if (bytes.Length != length) return hash; // changed under us: do not let a later request trust it
        if (hashes.Count >= MaxRememberedHashes) hashes.Clear();
        hashes[path] = hash;
        cache.Add(ETag(hash.Value, Coding.Identity), bytes);
        return hash;
    }

    private static async Task<byte[]> ReadAllAsync(SafeFileHandle? handle, long length, CancellationToken cancellationToken)
    {
        if (handle is null) return [];
        if (length > Array.MaxLength) throw new IOException($"A feed file of {length} bytes is too large to serve.");
        var buffer = new byte[length];
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await RandomAccess.ReadAsync(handle, buffer.AsMemory(total), total, cancellationToken);
            if (read == 0) break;
            total += read;
        }
        return total == buffer.Length ? buffer : buffer[..total];
    }

    internal static string ETag(string hash, Coding coding) => coding switch
    {
        Coding.Brotli => $"\"{hash}-br\"",
        Coding.Gzip => $"\"{hash}-gz\"",
        _ => $"\"{hash}\"",
    };

    private static byte[] Compress(byte[] bytes, Coding coding)
    {
        using var output = new MemoryStream(bytes.Length / 4 + 64);
        using (Stream stream = coding == Coding.Brotli
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
    internal static Coding ChooseCoding(StringValues acceptEncoding)
    {
        if (StringValues.IsNullOrEmpty(acceptEncoding)) return Coding.Identity;
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
        if (qBr > 0 && qBr >= qGzip && qBr >= qIdentity) return Coding.Brotli;
        if (qGzip > 0 && qGzip >= qIdentity) return Coding.Gzip;
        return Coding.Identity;
    }

    /// <summary>What a file held when it had this length and modification time.</summary>
    private sealed record ContentHash(long Length, long ModifiedTicks, string Value);

    /// <summary>Representations by ETag, within a byte budget, least recently used dropped first.</summary>
    private sealed class ByteCache(long budget)
    {
        private readonly Lock gate = new();
        private readonly Dictionary<string, LinkedListNode<KeyValuePair<string, byte[]>>> entries = new(StringComparer.Ordinal);
        private readonly LinkedList<KeyValuePair<string, byte[]>> recency = new();
        private long size;

        public bool TryGet(string key, [NotNullWhen(true)] out byte[]? bytes)
        {
            lock (gate)
            {
                if (!entries.TryGetValue(key, out var node))
                {
                    bytes = null;
                    return false;
                }
                recency.Remove(node);
                recency.AddFirst(node);
                bytes = node.Value.Value;
                return true;
            }
        }

        public void Add(string key, byte[] bytes)
        {
            if (bytes.Length > budget / 8) return; // one huge file must not push out every feed
            lock (gate)
            {
                if (entries.ContainsKey(key)) return;
                entries[key] = recency.AddFirst(KeyValuePair.Create(key, bytes));
                size += bytes.Length;
                while (size > budget && recency.Last is { } oldest)
                {
                    recency.RemoveLast();
                    entries.Remove(oldest.Value.Key);
                    size -= oldest.Value.Value.Length;
                }
            }
        }
    }
}
