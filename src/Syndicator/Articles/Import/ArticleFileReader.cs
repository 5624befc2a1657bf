using System.Text;
using Microsoft.Extensions.Options;
using Syndicator.Shared;

namespace Syndicator.Articles.Import;

/// <summary>Turns one file (and its optional <c>NAME.meta.json</c>/<c>.yaml</c> sidecar) into article drafts, or rejects it with a reason.</summary>
public sealed class ArticleFileReader(IOptions<ImportOptions> importOptions, IOptions<SiteOptions> siteOptions)
{
    public static readonly string[] ArticleExtensions = [".txt", ".md", ".markdown", ".json"];
    private static readonly string[] SidecarSuffixes = [".meta.json", ".meta.yaml", ".meta.yml"];

    public static bool IsSidecar(string path) => SidecarSuffixes.Any(s => path.EndsWith(s, StringComparison.OrdinalIgnoreCase));

    public static bool IsArticleFile(string path) =>
        !IsSidecar(path) && ArticleExtensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    public static string? SidecarOf(string path)
    {
        var stem = Path.Combine(Path.GetDirectoryName(path)!, Path.GetFileNameWithoutExtension(path));
        return SidecarSuffixes.Select(s => stem + s).FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// The file's drafts. Synchronous: the import reads a batch's files on every core at once, each on its own
    /// thread-pool thread, and a read of a local file is a copy from the page cache, so an asynchronous read would
    /// only add a hop to another thread per file.
    /// </summary>
    public IReadOnlyList<ArticleDraft> Read(string path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var options = importOptions.Value;
        var text = DecodeUtf8(ReadBounded(path, options.MaxFileBytes));
        var drafts = Parse(text, Path.GetFileName(path), Path.GetExtension(path));

        if (SidecarOf(path) is { } sidecarPath)
        {
            var sidecarText = DecodeUtf8(ReadBounded(sidecarPath, options.MaxFileBytes));
            MetadataFields fields;
            try
            {
                fields = MetadataFields.Read(Metadata.FromYaml(sidecarText));
            }
            catch (ArticleRejectedException e)
            {
                throw new ArticleRejectedException($"in {Path.GetFileName(sidecarPath)}: {e.Problem}", e.Line, e);
            }
            drafts = drafts.Select(fields.ApplyTo).ToList();
        }
        return drafts;
    }

    /// <summary>
    /// The drafts in one article text, by its extension (<c>.txt</c> op-ed format, <c>.md</c>, <c>.json</c>), with every
    /// check a file gets: what arrives by HTTP (<c>Articles/Intake</c>) is read here too.
    /// </summary>
    /// <param name="name">The source's name: the file name, or what identifies an article that came over HTTP.</param>
    public IReadOnlyList<ArticleDraft> Parse(string text, string name, string extension)
    {
        var options = importOptions.Value;
        var limits = new BodyLimits(options.MaxParagraphs, options.MaxNestingDepth);
        var defaultAuthor = siteOptions.Value.DefaultAuthor;
        IReadOnlyList<ArticleDraft> drafts = extension.ToLowerInvariant() switch
        {
            ".txt" => [PlainTextArticleParser.Parse(text, name, defaultAuthor, limits)],
            ".md" or ".markdown" => [MarkdownArticleParser.Parse(text, name, defaultAuthor, limits)],
            ".json" => JsonArticleParser.Parse(text, name, defaultAuthor, limits),
            var other => throw new ArticleRejectedException($"'{other}' files are not articles; use .txt, .md or .json"),
        };

        var limit = options.MaxBodyBytes;
        foreach (var draft in drafts)
        {
            var size = Encoding.UTF8.GetByteCount(draft.BodyHtml);
            if (size > limit)
                throw new ArticleRejectedException($"the body of \"{draft.Title}\" is {size:N0} bytes, over the limit of {limit:N0} (Import:MaxBodyBytes); shorten the article or raise the limit");
        }
        return drafts;
    }

    /// <summary>
    /// The file's bytes, refused unread when its size is over the limit, and read no further than the limit when it
    /// grows while being read (a file still being written, a FIFO, /dev/zero). One unbuffered handle: its size
    /// comes from it, and the bytes are read into an array of that size, so a file that does not change is read
    /// with one <c>open</c>, <c>fstat</c>, <c>read</c> and <c>close</c> and copied once.
    /// </summary>
    internal static ArraySegment<byte> ReadBounded(string path, int maxBytes)
    {
        var name = Path.GetFileName(path);
        // A FileStream rather than RandomAccess: RandomAccess refuses a handle that cannot seek (a named pipe).
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        var length = stream.CanSeek ? stream.Length : 0;
        if (length > maxBytes) throw TooLarge(name, length, maxBytes, atLeast: false);
        // One byte more than the size, so that the read that fills it finds a file that grew; what is known to be
        // in the file is read at once, and a file with no size (a FIFO, /dev/zero) grows the buffer as it is read.
        var buffer = new byte[Math.Min(maxBytes + 1L, length > 0 ? length + 1 : 4096)];
        var total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (total > maxBytes) throw TooLarge(name, total, maxBytes, atLeast: true);
                Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1L, buffer.Length * 2L));
            }
            var read = stream.Read(buffer.AsSpan(total));
            if (read == 0) break;
            total += read;
        }
        if (total > maxBytes) throw TooLarge(name, total, maxBytes, atLeast: true);
        return new ArraySegment<byte>(buffer, 0, total);
    }

    private static ArticleRejectedException TooLarge(string name, long size, int maxBytes, bool atLeast) =>
        new($"{name} is {(atLeast ? "more than " : "")}{(atLeast ? maxBytes : size):N0} bytes, over the limit of {maxBytes:N0} (Import:MaxFileBytes); split it or raise the limit");

    /// <summary>Strict UTF-8: a file in another encoding is rejected with the line of its first bad byte rather than imported as mojibake.</summary>
    internal static string DecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        var bom = bytes.StartsWith("\uFEFF"u8) ? 3 : 0;
        try
        {
            return Strict.GetString(bytes[bom..]);
        }
        catch (DecoderFallbackException e)
        {
            var offset = bom + Math.Max(0, e.Index);
            var line = bytes[..Math.Min(offset, bytes.Length)].Count((byte)'\n') + 1;
            throw new ArticleRejectedException($"the file is not valid UTF-8 (byte 0x{bytes[Math.Min(offset, bytes.Length - 1)]:X2} at offset {offset}); save it as UTF-8", line, e);
        }
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
