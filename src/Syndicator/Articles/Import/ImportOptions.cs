using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Hosting;

namespace Syndicator.Articles.Import;

/// <summary>The <c>Import</c> section.</summary>
public sealed class ImportOptions
{
    public const string Section = "Import";

    /// <summary>The drop folder: a file saved here is imported by the drop-folder job, then moved to <c>processed/</c> or <c>rejected/</c>.</summary>
    [Required(ErrorMessage = "Import:InboxPath is empty; set it to a folder such as data/inbox.")]
    public string InboxPath { get; set; } = "data/inbox";

    /// <summary>Imported once when the service starts (idempotent), so a new install has something to show.</summary>
    public string? SamplesPath { get; set; } = "config/samples/articles";

    /// <summary>A file (or sidecar) larger than this is refused before a byte of it is read or parsed.</summary>
    [Range(1024, 100 * 1024 * 1024, ErrorMessage = "Import:MaxFileBytes must be between 1024 and 104857600 bytes.")]
    public int MaxFileBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>The article's HTML after Markdown and sanitising; what feeds and e-mails carry.</summary>
    [Range(1024, 100 * 1024 * 1024, ErrorMessage = "Import:MaxBodyBytes must be between 1024 and 104857600 bytes.")]
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Paragraphs (and other blocks) in one body, checked before the body is parsed.</summary>
    [Range(10, 1_000_000, ErrorMessage = "Import:MaxParagraphs must be between 10 and 1000000.")]
    public int MaxParagraphs { get; set; } = BodyLimits.Default.MaxParagraphs;

    /// <summary>How deep quotes, lists and HTML elements may nest in one body, checked before the body is parsed.</summary>
    [Range(4, 1000, ErrorMessage = "Import:MaxNestingDepth must be between 4 and 1000.")]
    public int MaxNestingDepth { get; set; } = BodyLimits.Default.MaxNestingDepth;

    /// <summary>A file younger than this may still be being written, so the drop-folder job waits for the next scan.</summary>
    [Range(0, 3600, ErrorMessage = "Import:SettleSeconds must be between 0 and 3600.")]
    public int SettleSeconds { get; set; } = 2;

    /// <summary>
    /// The drop folder is watched, and a file that has not changed for this long is imported at once (instead of at
    /// the next scan, after <see cref="SettleSeconds"/>); 0 turns the watcher off.
    /// </summary>
    [Range(0, 60_000, ErrorMessage = "Import:WatchQuietMilliseconds must be between 0 (no watcher) and 60000.")]
    public int WatchQuietMilliseconds { get; set; } = 300;

    public string InboxFullPath(IHostEnvironment environment) => Path.GetFullPath(InboxPath, environment.ContentRootPath);
}
