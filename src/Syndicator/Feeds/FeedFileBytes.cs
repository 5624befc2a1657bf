namespace Syndicator.Feeds;

/// <summary>
/// A file's bytes as the pieces it is spliced from: a document's head, each entry's bytes (rendered once per build and
/// shared by every document that carries the article) and its end. <see cref="FeedOutput"/> compares them piece by
/// piece and writes them with one gathering write, so a document is never copied into an array of its own: at a few
/// hundred KB, each such array was a large-object allocation, and a full build's kept the background GC busy.
/// </summary>
public sealed class FeedFileBytes
{
    public FeedFileBytes(IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        Parts = parts;
        foreach (var part in parts) Length += part.Length;
    }

    public FeedFileBytes(byte[] bytes) : this([bytes]) { }

    public IReadOnlyList<ReadOnlyMemory<byte>> Parts { get; }

    public long Length { get; }

    /// <summary>Whether <paramref name="other"/> holds exactly these bytes.</summary>
    public bool SequenceEqual(ReadOnlySpan<byte> other)
    {
        if (other.Length != Length) return false;
        foreach (var part in Parts)
        {
            if (!other[..part.Length].SequenceEqual(part.Span)) return false;
            other = other[part.Length..];
        }
        return true;
    }

    /// <summary>The bytes in one array, for callers that keep or parse the document whole.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        var at = 0;
        foreach (var part in Parts)
        {
            part.Span.CopyTo(bytes.AsSpan(at));
            at += part.Length;
        }
        return bytes;
    }
}
