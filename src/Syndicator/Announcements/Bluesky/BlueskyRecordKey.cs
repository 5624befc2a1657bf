using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Syndicator.Announcements.Bluesky;

/// <summary>
/// The record key of an announcement's post, derived from the delivery's idempotency key so that every attempt of one
/// delivery writes the same <c>at://DID/app.bsky.feed.post/RKEY</c>: a retry after a lost answer finds the post (or
/// the PDS refuses a second one) instead of creating another.
/// </summary>
/// <remarks>
/// <c>app.bsky.feed.post</c> records must have a TID key (PDSs reject anything else): 13 characters of
/// base32-sortable (<c>234567abcdefghijklmnopqrstuvwxyz</c>) encoding a 64-bit number whose top bit is 0, then 53 bits
/// of microseconds since 1970 and 10 bits of "clock id". The microseconds here come from a SHA-256 of the key, mapped
/// into 2023-01-01 + 2^46 µs (about 2.2 years, so always a plausible past time), and the clock id from the next 10
/// bits: 56 bits of the hash in all. Bluesky sorts posts by <c>createdAt</c> and indexing time, never by the key.
/// </remarks>
public static class BlueskyRecordKey
{
    public const string Alphabet = "234567abcdefghijklmnopqrstuvwxyz";
    public const int Length = 13;

    /// <summary>2023-01-01T00:00:00Z in microseconds since the Unix epoch.</summary>
    public const long WindowStartMicroseconds = 1_672_531_200_000_000;

    public const int WindowBits = 46;

    public static string FromIdempotencyKey(string idempotencyKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(idempotencyKey);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("syndicator/bluesky/rkey\n" + idempotencyKey));
        var bits = BinaryPrimitives.ReadUInt64BigEndian(hash);
        var microseconds = WindowStartMicroseconds + (long)(bits >> (64 - WindowBits));
        var clockId = (long)((bits >> (64 - WindowBits - 10)) & 0x3FF);
        return Encode((microseconds << 10) | clockId);
    }

    /// <summary>Encodes a non-negative 64-bit TID value as its 13 characters.</summary>
    public static string Encode(long tid)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tid);
        Span<char> chars = stackalloc char[Length];
        var value = (ulong)tid;
        for (var i = Length - 1; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
        return new string(chars);
    }

    /// <summary>True for a syntactically valid TID (what the PDS checks for a post's key).</summary>
    public static bool IsValidTid(string value) =>
        value.Length == Length && Alphabet.IndexOf(value[0]) is >= 0 and < 16 && value.All(c => Alphabet.Contains(c));

    /// <summary>The time a TID encodes.</summary>
    public static DateTimeOffset Timestamp(string tid)
    {
        if (!IsValidTid(tid)) throw new FormatException($"'{tid}' is not a TID.");
        long value = 0;
        foreach (var c in tid) value = (value << 5) | (long)Alphabet.IndexOf(c);
        return DateTimeOffset.UnixEpoch.AddTicks((value >> 10) * 10);
    }
}
