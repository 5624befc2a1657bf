using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Syndicator.Articles.Import;

public sealed record ImportSummary(IReadOnlyList<FileImportResult> Files)
{
    /// <summary>Drop-folder files left for a later pass because they were still changing.</summary>
    public int Waiting { get; init; }

    public int Created => Count(ImportChange.Created);
    public int Updated => Count(ImportChange.Updated);
    public int Unchanged => Count(ImportChange.Unchanged);
    public int Rejected => Files.Count(f => f.Rejected);
    public bool ChangedArticles => Created + Updated > 0;

    private int Count(ImportChange change) => Files.Sum(f => f.Articles.Count(a => a.Change == change));

    public override string ToString() =>
        $"{Created} new, {Updated} updated, {Unchanged} unchanged, {Rejected} rejected";
}

/// <summary>
/// Imports files and folders, and drains the drop folder. A rejected file is set aside in <c>inbox/rejected/</c>
/// with a <c>.error.txt</c> beside it naming the line and the problem: nothing is dropped silently.
/// Drop-folder files are moved (to <c>processed/</c> or <c>rejected/</c>); files named on the command line are
/// left where they are and a rejected one is copied, so the publisher's originals are never moved from under them.
/// </summary>
public sealed class ArticleFiles(
    ArticleImporter importer,
    IOptions<ImportOptions> options,
    IHostEnvironment environment,
    InboxWatcher watcher,
    TimeProvider time,
    ILogger<ArticleFiles> logger)
{
    public string InboxPath => options.Value.InboxFullPath(environment);
    public string RejectedPath => Path.Combine(InboxPath, "rejected");
    public string ProcessedPath => Path.Combine(InboxPath, "processed");

    /// <summary>Imports the named files, and the article files in the named folders and below, in batches (see <see cref="ArticleImporter.ImportFilesAsync"/>).</summary>
    public async Task<ImportSummary> ImportPathsAsync(IEnumerable<string> paths, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var results = new List<FileImportResult>();
        foreach (var raw in paths)
        {
            var path = Path.GetFullPath(raw, Directory.GetCurrentDirectory());
            IEnumerable<string> files;
            if (Directory.Exists(path))
                files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(ArticleFileReader.IsArticleFile).Order(StringComparer.Ordinal);
            else if (File.Exists(path))
                files = [path];
            else
            {
                results.Add(new FileImportResult(path, [], "no such file or folder", null));
                continue;
            }

            await foreach (var imported in importer.ImportFilesAsync(files, cancellationToken))
            {
                progress?.Report(imported.Path);
                results.Add(imported.Rejected ? SetAside(imported, move: false) : imported);
            }
        }
        return new ImportSummary(results);
    }

    /// <summary>Imports what has settled in the drop folder, moving each file out of it once its batch is stored, whatever the outcome.</summary>
    public async Task<ImportSummary> ScanInboxAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(InboxPath);
        // A watched folder reports every write, so a file is ready once it has been quiet for the watcher's short
        // window; unwatched, only the longer settle time guards against importing a file half-written.
        var settle = TimeSpan.FromSeconds(options.Value.SettleSeconds);
        if (watcher.IsWatching && watcher.Quiet < settle) settle = watcher.Quiet;
        var settled = time.GetUtcNow() - settle;
        var candidates = Directory.EnumerateFiles(InboxPath)
            .Where(f => !Path.GetFileName(f).StartsWith('.'))
            .Where(f => !ArticleFileReader.IsSidecar(f))
            .ToList();
        var files = candidates
            .Where(f => File.GetLastWriteTimeUtc(f) <= settled.UtcDateTime)
            .Order(StringComparer.Ordinal)
            .ToList();

        var results = files.Where(f => !ArticleFileReader.IsArticleFile(f))
            .Select(f => SetAside(new FileImportResult(f, [], $"'{Path.GetExtension(f)}' files are not articles; use .txt, .md or .json", null), move: true))
            .ToList();
        await foreach (var result in importer.ImportFilesAsync(files.Where(ArticleFileReader.IsArticleFile), cancellationToken))
        {
            if (result.Rejected) results.Add(SetAside(result, move: true));
            else
            {
                MoveWithSidecar(result.Path, ProcessedPath);
                results.Add(result);
            }
        }
        return new ImportSummary(results) { Waiting = candidates.Count - files.Count };
    }

    private FileImportResult SetAside(FileImportResult result, bool move)
    {
        Directory.CreateDirectory(RejectedPath);
        var target = move ? MoveWithSidecar(result.Path, RejectedPath) : CopyTo(result.Path, RejectedPath, options.Value.MaxFileBytes);
        var report = string.Join(Environment.NewLine,
            $"file: {Path.GetFileName(result.Path)}",
            $"from: {result.Path}",
            $"rejected at: {time.GetUtcNow().ToString("u", CultureInfo.InvariantCulture)}",
            $"problem: {result.Rejection}",
            "",
            "Fix the problem and put the file back in the inbox (or run 'syndicator import FILE') to import it.");
        // A file not copied still gets its report, which names where the original is.
        File.WriteAllText((target ?? FreeName(RejectedPath, Path.GetFileName(result.Path))) + ".error.txt", report + Environment.NewLine);
        logger.LogWarning("Set aside {File} in {RejectedFolder}: {Reason}", result.Path, RejectedPath, result.Rejection);
        return result with { RejectedTo = target };
    }

    /// <summary>
    /// A copy of the file in <paramref name="folder"/>, or null: a file that is gone, empty, or over Import:MaxFileBytes
    /// is not copied. A device or a pipe reports no size, and copying one would never end (<c>/dev/zero</c> was copied
    /// until the disk was full) or wait for a writer that never comes.
    /// </summary>
    private static string? CopyTo(string file, string folder, int maxBytes)
    {
        var info = new FileInfo(file);
        if (!info.Exists || info.Length == 0 || info.Length > maxBytes) return null;
        var target = FreeName(folder, Path.GetFileName(file));
        File.Copy(file, target);
        return target;
    }

    private static string MoveWithSidecar(string file, string folder)
    {
        Directory.CreateDirectory(folder);
        var sidecar = ArticleFileReader.SidecarOf(file);
        var target = FreeName(folder, Path.GetFileName(file));
        File.Move(file, target);
        if (sidecar is not null)
        {
            var sidecarSuffix = Path.GetFileName(sidecar)[Path.GetFileNameWithoutExtension(file).Length..];
            File.Move(sidecar, Path.Combine(folder, Path.GetFileNameWithoutExtension(target) + sidecarSuffix), overwrite: true);
        }
        return target;
    }

    private static string FreeName(string folder, string name)
    {
        var target = Path.Combine(folder, name);
        for (var n = 2; File.Exists(target); n++)
            target = Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(name)}.{n}{Path.GetExtension(name)}");
        return target;
    }
}
