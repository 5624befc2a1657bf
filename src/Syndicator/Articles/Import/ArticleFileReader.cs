using System.Text;
using Microsoft.Extensions.Options;
using Syndicator.Hosting;

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
        var name = Path.GetFileName(path);
        var text = DecodeUtf8(await File.ReadAllBytesAsync(path, cancellationToken));
        var defaultAuthor = siteOptions.Value.DefaultAuthor;
        IReadOnlyList<ArticleDraft> drafts = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".txt" => [PlainTextArticleParser.Parse(text, name, defaultAuthor)],
            ".md" or ".markdown" => [MarkdownArticleParser.Parse(text, name, defaultAuthor)],
            ".json" => JsonArticleParser.Parse(text, name, defaultAuthor),
            var other => throw new ArticleRejectedException($"'{other}' files are not articles; use .txt, .md or .json"),
        };

        if (SidecarOf(path) is { } sidecarPath)
        {
            var sidecarText = DecodeUtf8(await File.ReadAllBytesAsync(sidecarPath, cancellationToken));
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

        var limit = importOptions.Value.MaxBodyBytes;
        foreach (var draft in drafts)
        {
            var size = Encoding.UTF8.GetByteCount(draft.BodyHtml);
            if (size > limit)
                throw new ArticleRejectedException($"the body of \"{draft.Title}\" is {size:N0} bytes, over the limit of {limit:N0} (Import:MaxBodyBytes); shorten the article or raise the limit");
        }
        return drafts;
    }

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
