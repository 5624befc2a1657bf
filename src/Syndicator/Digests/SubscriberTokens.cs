using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Syndicator.Announcements;

namespace Syndicator.Digests;

/// <summary>
/// Signed links for confirming and unsubscribing: <c>{subscriber id}.{HMAC-SHA256(key, purpose:id)}</c> in base64url.
/// A forged or altered token fails the constant-time comparison. The key comes from Digests:SigningKey; the default
/// file under data/ is created with a random key on first use.
/// </summary>
public sealed class SubscriberTokens
{
    public const string Unsubscribe = "unsubscribe";
    public const string Confirm = "confirm";

    private readonly byte[] key;

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
    }

    public string Create(string purpose, string subscriberId) => $"{subscriberId}.{Sign(purpose, subscriberId)}";

    /// <summary>The subscriber id the token was made for, or null when it is forged, altered or for another purpose.</summary>
    public string? Verify(string purpose, string? token)
    {
        if (string.IsNullOrEmpty(token)) return null;
        var dot = token.LastIndexOf('.');
        if (dot <= 0) return null;
        var id = token[..dot];
        var expected = Encoding.ASCII.GetBytes(Sign(purpose, id));
        var given = Encoding.ASCII.GetBytes(token[(dot + 1)..]);
        return CryptographicOperations.FixedTimeEquals(expected, given) ? id : null;
    }

    private string Sign(string purpose, string id) =>
        Base64Url(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{purpose}:{id}")));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
