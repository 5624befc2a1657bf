using System.Security.Cryptography;
using System.Text;

namespace Syndicator.Shared;

/// <summary>HTTP Basic credentials (RFC 7617), read and compared the one way: the dashboard's and a relay webhook's.</summary>
public static class BasicCredentials
{
    /// <summary>The user and password of an <c>Authorization: Basic</c> header; null when it is not one, not base64, or has no colon.</summary>
    public static (string User, string Password)? Parse(string header)
    {
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return null;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
        }
        catch (FormatException)
        {
            return null;
        }
        var colon = decoded.IndexOf(':');
        return colon < 0 ? null : (decoded[..colon], decoded[(colon + 1)..]);
    }

    /// <summary>Compares in time that does not depend on where the two differ, nor on their lengths (both are hashed first).</summary>
    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));
}
