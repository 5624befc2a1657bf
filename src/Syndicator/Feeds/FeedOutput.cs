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
    public Task<bool> WriteIfChangedAsync(string relativePath, FeedFileBytes content, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = Path.Combine(Root, relativePath);
        var existing = new FileInfo(path);
        if (existing.Exists && SameContent(existing, relativePath, content)) return Task.FromResult(false);
        var folder = Path.GetDirectoryName(path)!;
        if (!existing.Exists) Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            // One gathering write (pwritev) of the pieces, in place of copying them into one array first.
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write))
                RandomAccess.Write(handle, content.Parts, 0);
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

    /// <summary>
    /// The file's bytes in a buffer rented from the shared pool, for reading once and dropping: a feed file is a few
    /// hundred KB, and every such array is a large-object allocation the server GC collects only in a full collection
    /// (an incremental build read a dozen of them). Empty when there is no such file; disposing returns the buffer.
    /// </summary>
    public RentedBytes ReadRented(string relativePath)
    {
        try
        {
            using var handle = File.OpenHandle(Path.Combine(Root, relativePath));
            var length = RandomAccess.GetLength(handle);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)length);
            var read = ReadFully(handle, buffer.AsSpan(0, (int)length));
            return new RentedBytes(buffer, read);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new RentedBytes(null, 0);
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

    private bool SameContent(FileInfo existing, string relativePath, FeedFileBytes content)
    {
        if (existing.Length != content.Length) return false;
        using var current = ReadRented(relativePath);
        return content.SequenceEqual(current.Span);
    }

    /// <summary>Reads from the start of the file until the span is full or the file ends; returns the bytes read.</summary>
    private static int ReadFully(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> into)
    {
        var read = 0;
        while (read < into.Length && RandomAccess.Read(handle, into[read..], read) is var n and > 0) read += n;
        return read;
    }

    /// <summary>Whether the file begins with these bytes, reading no more of it than that; false when there is no such file.</summary>
    public bool StartsWith(string relativePath, byte[] head)
    {
        try
        {
            using var handle = File.OpenHandle(Path.Combine(Root, relativePath));
            var buffer = new byte[head.Length];
            return ReadFully(handle, buffer) == head.Length && buffer.AsSpan().SequenceEqual(head);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
    }
}

/// <summary>Bytes in a buffer rented from <see cref="System.Buffers.ArrayPool{T}.Shared"/> (see <see cref="FeedOutput.ReadRented"/>); dispose once, then never use the span again.</summary>
public sealed class RentedBytes(byte[]? buffer, int length) : IDisposable
{
    private byte[]? buffer = buffer;

    public ReadOnlySpan<byte> Span => buffer.AsSpan(0, length);

    public void Dispose()
    {
        if (buffer is { } b) System.Buffers.ArrayPool<byte>.Shared.Return(b);
        buffer = null;
    }
}
