using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Syndicator.Shared;

namespace Syndicator.Digests;

/// <summary>What a valid confirmation link names: the subscriber and the sign-up it was sent for.</summary>
public sealed record ConfirmationToken(string SubscriberId, string SignUpId);

/// <summary>What a valid preferences link names: the subscriber and when the link was made (it expires, see <see cref="SubscriptionOptions.PreferencesLinkDays"/>).</summary>
public sealed record PreferencesToken(string SubscriberId, DateTimeOffset IssuedAt);

/// <summary>
/// Signed links for confirming and unsubscribing, in base64url: <c>{subscriber id}.{HMAC-SHA256(key, "unsubscribe:" id)}</c>
/// and <c>{subscriber id}.{sign-up id}.{HMAC-SHA256(key, "confirm:" id ":" sign-up id)}</c>, and for the preferences page
/// <c>{subscriber id}.{unix seconds issued}.{HMAC-SHA256(key, "preferences:" id ":" issued)}</c>. A forged or altered token
/// fails the constant-time comparison. A confirmation token names the sign-up it belongs to, so a new sign-up of the
/// same address (which gets a new id) makes older links stale. The key comes from Digests:SigningKey; the default file
/// under data/ is created with a random key on first use.
/// </summary>
public sealed class SubscriberTokens
{
    private const string UnsubscribePurpose = "unsubscribe";
    private const string ConfirmPurpose = "confirm";
    private const string PreferencesPurpose = "preferences";

    private readonly byte[] key;
    private readonly Aes keyMask = Aes.Create();
    private readonly ThreadLocal<IncrementalHash> signers;

    public SubscriberTokens(IOptions<DigestOptions> options, IHostEnvironment environment)
    {
        var reference = options.Value.SigningKey;
        if (reference.StartsWith("file:", StringComparison.Ordinal))
        {
            var path = Path.GetFullPath(reference[5..], environment.ContentRootPath);
            if (!File.Exists(path))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllText(path, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        key = Encoding.UTF8.GetBytes(Secrets.Resolve(reference, environment.ContentRootPath, "Digests:SigningKey"));
        signers = new ThreadLocal<IncrementalHash>(() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key));
        keyMask.Key = HMACSHA256.HashData(key, "delivery-key-mask"u8)[..16];
    }

    /// <summary>
    /// A delivery's key as its messages show it (Message-ID, VERP return path, relay metadata). The key starts with
    /// the time its delivery was created (so new keys append to the outbox's index); shown as it is, every message
    /// would tell when it was planned. This is the key's 128 bits encrypted as one AES block under a key derived
    /// from Digests:SigningKey: nothing of the time shows, it is the same on every attempt of a delivery (so a retry
    /// carries the same Message-ID), and no two deliveries share it (a permutation). A key that is not 32 hex digits
    /// (none the outbox makes) is shown as it is.
    /// </summary>
    public string MessageKey(string deliveryKey) => Mask(deliveryKey, encrypt: true);

    /// <summary>The delivery key behind a <see cref="MessageKey"/> (for a bounce or complaint that names one).</summary>
    public string DeliveryKey(string messageKey) => Mask(messageKey, encrypt: false);

    private string Mask(string hex, bool encrypt)
    {
        Span<byte> block = stackalloc byte[16];
        if (hex.Length != 32 || Convert.FromHexString(hex, block, out _, out _) != System.Buffers.OperationStatus.Done) return hex;
        Span<byte> result = stackalloc byte[16];
        // One block with no chaining and no padding: a keyed permutation of 128-bit values. Locked: one Aes object for every thread.
        lock (keyMask)
        {
            if (encrypt) keyMask.EncryptEcb(block, result, PaddingMode.None);
            else keyMask.DecryptEcb(block, result, PaddingMode.None);
        }
        return Convert.ToHexStringLower(result);
    }

    public string Unsubscribe(string subscriberId) => $"{subscriberId}.{Sign($"{UnsubscribePurpose}:{subscriberId}")}";

    public string Confirmation(string subscriberId, string signUpId) => $"{subscriberId}.{signUpId}.{Sign($"{ConfirmPurpose}:{subscriberId}:{signUpId}")}";

    /// <summary>
    /// A preferences link made at <paramref name="issuedAt"/>. Unlike the unsubscribe link it expires: it changes what the
    /// reader receives, and a digest forwarded long ago should not keep that power.
    /// </summary>
    public string Preferences(string subscriberId, DateTimeOffset issuedAt)
    {
        var issued = issuedAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        return $"{subscriberId}.{issued}.{Sign($"{PreferencesPurpose}:{subscriberId}:{issued}")}";
    }

    /// <summary>What a preferences token was made for, or null when it is forged, altered or for another purpose.</summary>
    public PreferencesToken? VerifyPreferences(string? token) =>
        Split(token, 3) is [var id, var issued, var mac] && Matches($"{PreferencesPurpose}:{id}:{issued}", mac)
            && long.TryParse(issued, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            && seconds <= DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            ? new PreferencesToken(id, DateTimeOffset.FromUnixTimeSeconds(seconds))
            : null;

    /// <summary>The subscriber id an unsubscribe token was made for, or null when it is forged, altered or for another purpose.</summary>
    public string? VerifyUnsubscribe(string? token) =>
        Split(token, 2) is [var id, var mac] && Matches($"{UnsubscribePurpose}:{id}", mac) ? id : null;

    /// <summary>What a confirmation token was made for, or null when it is forged, altered or for another purpose.</summary>
    public ConfirmationToken? VerifyConfirmation(string? token) =>
        Split(token, 3) is [var id, var signUp, var mac] && Matches($"{ConfirmPurpose}:{id}:{signUp}", mac) ? new ConfirmationToken(id, signUp) : null;

    private static string[]? Split(string? token, int parts)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 512) return null;
        var split = token.Split('.');
        return split.Length == parts && split.All(p => p.Length > 0) ? split : null;
    }

    private bool Matches(string message, string mac) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(message)), Encoding.ASCII.GetBytes(mac));

    private string Sign(string message)
    {
        // One keyed HMAC per thread, reset by each use: the one-shot HMACSHA256.HashData makes OpenSSL look the
        // algorithm up and set the key up again on every call (a digest needs two tokens, at thousands a second).
        var hmac = signers.Value!;
        hmac.AppendData(Encoding.UTF8.GetBytes(message));
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        hmac.GetHashAndReset(mac);
        return Base64Url(mac);
    }

    /// <summary>A fresh sign-up id: 128 random bits in base64url (no dots, so it fits between a token's separators).</summary>
    public static string NewSignUpId() => Base64Url(RandomNumberGenerator.GetBytes(16));

    private static string Base64Url(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
