namespace Syndicator.Feeds;

/// <summary>
/// Writes feed files atomically (a hidden temporary file, then a rename), and only when their bytes change, so a
/// web server or CDN never sees half a file and unchanged feeds keep their mtime and ETag.
/// </summary>
public sealed class FeedOutput(string root)
{
    public string Root { get; } = root;

    /// <returns>True when the file was written, false when it already held exactly these bytes.</returns>
    /// <remarks>
    /// Synchronous file calls: on Linux an asynchronous file write is the same system call run on a pool thread, one
    /// more hand-over per file; a build writes a few files (incremental) or spreads them over its workers (full).
    /// </remarks>
    public Task<bool> WriteIfChangedAsync(string relativePath, byte[] content, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = Path.Combine(Root, relativePath);
        var existing = new FileInfo(path);
        if (existing.Exists && SameContent(existing, content)) return Task.FromResult(false);
        var folder = Path.GetDirectoryName(path)!;
        if (!existing.Exists) Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, content);
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        return Task.FromResult(true);
    }

    public bool Exists(string relativePath) => File.Exists(Path.Combine(Root, relativePath));

    /// <summary>The file's bytes; null when there is no such file.</summary>
    /// <remarks>Synchronous inside, as <see cref="WriteIfChangedAsync"/>.</remarks>
    public Task<byte[]?> ReadAsync(string relativePath, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            return Task.FromResult<byte[]?>(File.ReadAllBytes(Path.Combine(Root, relativePath)));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<byte[]?>(null);
        }
    }

    /// <summary>Deletes a folder of documents that are no longer part of the feeds (an archive page past the scope's last).</summary>
    /// <returns>False when there was no such folder.</returns>
    public bool DeleteFolder(string relativePath)
    {
        var path = Path.Combine(Root, relativePath);
        if (!Directory.Exists(path)) return false;
        Directory.Delete(path, recursive: true);
        return true;
    }

    private static bool SameContent(FileInfo existing, byte[] content)
    {
        if (existing.Length != content.Length) return false;
        try
        {
            return File.ReadAllBytes(existing.FullName).AsSpan().SequenceEqual(content);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Whether the file begins with these bytes, reading no more of it than that; false when there is no such file.</summary>
    public async Task<bool> StartsWithAsync(string relativePath, byte[] head, CancellationToken cancellationToken)
    {
        try
        {
            await using var file = new FileStream(Path.Combine(Root, relativePath), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            var buffer = new byte[head.Length];
            var read = await file.ReadAtLeastAsync(buffer, head.Length, throwOnEndOfStream: false, cancellationToken);
            return read == head.Length && buffer.AsSpan().SequenceEqual(head);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
    }
}
