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

    public async Task<IReadOnlyList<ArticleDraft>> ReadAsync(string path, CancellationToken cancellationToken)
    {
        var options = importOptions.Value;
        var text = DecodeUtf8(await ReadBoundedAsync(path, options.MaxFileBytes, cancellationToken));
        var drafts = Parse(text, Path.GetFileName(path), Path.GetExtension(path));

        if (SidecarOf(path) is { } sidecarPath)
        {
            var sidecarText = DecodeUtf8(await ReadBoundedAsync(sidecarPath, options.MaxFileBytes, cancellationToken));
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
    /// grows while being read (a file still being written, a FIFO, /dev/zero).
    /// </summary>
    internal static async Task<byte[]> ReadBoundedAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        var name = Path.GetFileName(path);
        var length = new FileInfo(path).Length;
        if (length > maxBytes) throw TooLarge(name, length, maxBytes, atLeast: false);
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[Math.Min(maxBytes + 1L, Math.Max(length, 4096))];
        var total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (total > maxBytes) throw TooLarge(name, total, maxBytes, atLeast: true);
                Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1L, buffer.Length * 2L));
            }
            var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0) break;
            total += read;
        }
        if (total > maxBytes) throw TooLarge(name, total, maxBytes, atLeast: true);
        return buffer.AsSpan(0, total).ToArray();
    }

    private static ArticleRejectedException TooLarge(string name, long size, int maxBytes, bool atLeast) =>
        new($"{name} is {(atLeast ? "more than " : "")}{(atLeast ? maxBytes : size):N0} bytes, over the limit of {maxBytes:N0} (Import:MaxFileBytes); split it or raise the limit");

    /// <summary>Strict UTF-8: a file in another encoding is rejected with the line of its first bad byte rather than imported as mojibake.</summary>
    internal static string DecodeUtf8(byte[] bytes)
    {
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        try
        {
            var text = strict.GetString(bytes);
            return text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text;
        }
        catch (DecoderFallbackException e)
        {
            var offset = Math.Max(0, e.Index);
            var line = bytes.AsSpan(0, Math.Min(offset, bytes.Length)).Count((byte)'\n') + 1;
            throw new ArticleRejectedException($"the file is not valid UTF-8 (byte 0x{bytes[Math.Min(offset, bytes.Length - 1)]:X2} at offset {offset}); save it as UTF-8", line, e);
        }
    }
}
