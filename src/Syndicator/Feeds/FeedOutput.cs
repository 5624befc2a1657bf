namespace Syndicator.Feeds;

/// <summary>
/// Writes feed files atomically (a hidden temporary file, then a rename), and only when their bytes change, so a
/// web server or CDN never sees half a file and unchanged feeds keep their mtime and ETag.
/// </summary>
public sealed class FeedOutput(string root)
{
    public string Root { get; } = root;

    /// <returns>True when the file was written, false when it already held exactly these bytes.</returns>
    public async Task<bool> WriteIfChangedAsync(string relativePath, byte[] content, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Root, relativePath);
        if (await SameContentAsync(path, content, cancellationToken)) return false;
        var folder = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await File.WriteAllBytesAsync(temp, content, cancellationToken);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return true;
    }

    public bool Exists(string relativePath) => File.Exists(Path.Combine(Root, relativePath));

    /// <summary>The file's bytes; null when there is no such file.</summary>
    public async Task<byte[]?> ReadAsync(string relativePath, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllBytesAsync(Path.Combine(Root, relativePath), cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
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

    private static async Task<bool> SameContentAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        if (!info.Exists || info.Length != content.Length) return false;
        var existing = await File.ReadAllBytesAsync(path, cancellationToken);
        return existing.AsSpan().SequenceEqual(content);
    }
}
