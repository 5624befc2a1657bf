using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Syndicator.ActivityPub;

/// <summary>The parameters of a draft-cavage <c>Signature</c> header.</summary>
public sealed record SignatureHeader(string KeyId, string Algorithm, IReadOnlyList<string> Headers, byte[] Signature, string Raw);

/// <summary>
/// HTTP signatures as Mastodon makes and checks them: draft-cavage-http-signatures-12 with <c>rsa-sha256</c> (also
/// sent as <c>hs2019</c>, which Mastodon verifies as RSA-SHA256), over <c>(request-target) host date digest
/// content-type</c>, and the body's <c>Digest: SHA-256=...</c> (RFC 3230). What we send is signed this way, as
/// Mastodon expects; RFC 9421 signatures we receive are read by <see cref="MessageSignatures"/>.
/// </summary>
public static class HttpSignatures
{
    /// <summary>The headers we sign on a POST (Mastodon's own list) and on a GET.</summary>
    public static readonly string[] PostHeaders = ["(request-target)", "host", "date", "digest", "content-type"];
    public static readonly string[] GetHeaders = ["(request-target)", "host", "date", "accept"];

    public static string Digest(ReadOnlySpan<byte> body) => "SHA-256=" + Convert.ToBase64String(SHA256.HashData(body));

    public static string HttpDate(DateTimeOffset at) => at.UtcDateTime.ToString("r", CultureInfo.InvariantCulture);

    /// <summary>
    /// Signs <paramref name="request"/> (its Host, Date and, with a body, Digest headers are set here) with the actor's
    /// key: the request a follower's server verifies with the key in our actor document.
    /// </summary>
    public static void Sign(HttpRequestMessage request, byte[]? body, string keyId, RSA key, DateTimeOffset now)
    {
        var uri = request.RequestUri!;
        request.Headers.Host = uri.Authority;
        request.Headers.Date = now;
        if (body is not null) request.Headers.Add("Digest", Digest(body));
        var names = body is null ? GetHeaders : PostHeaders;
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["(request-target)"] = $"{request.Method.Method.ToLowerInvariant()} {uri.PathAndQuery}",
            ["host"] = uri.Authority,
            ["date"] = HttpDate(now),
        };
        if (body is not null)
        {
            values["digest"] = Digest(body);
            values["content-type"] = request.Content!.Headers.ContentType!.ToString();
        }
        else values["accept"] = string.Join(", ", request.Headers.Accept.Select(a => a.ToString()));
        var signingString = string.Join("\n", names.Select(n => $"{n}: {values[n]}"));
        var signature = key.SignData(Encoding.UTF8.GetBytes(signingString), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.Headers.TryAddWithoutValidation("Signature",
            $"keyId=\"{keyId}\",algorithm=\"rsa-sha256\",headers=\"{string.Join(' ', names)}\",signature=\"{Convert.ToBase64String(signature)}\"");
    }

    /// <summary>Reads a Signature header; null with the reason when it is not one we can check.</summary>
    public static SignatureHeader? Parse(string? header, out string problem)
    {
        problem = "";
        if (string.IsNullOrWhiteSpace(header))
        {
            problem = "the request has no Signature header (draft-cavage HTTP signatures, as Mastodon sends, are required)";
            return null;
        }
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < header.Length)
        {
            while (i < header.Length && (header[i] == ',' || header[i] == ' ')) i++;
            var eq = header.IndexOf('=', i);
            if (eq < 0) break;
            var name = header[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < header.Length && header[i] == '"')
            {
                var end = header.IndexOf('"', i + 1);
                if (end < 0) { problem = "the Signature header has an unterminated quoted value"; return null; }
                value = header[(i + 1)..end];
                i = end + 1;
            }
            else
            {
                var end = header.IndexOf(',', i);
                if (end < 0) end = header.Length;
                value = header[i..end].Trim();
                i = end;
            }
            fields[name] = value;
        }
        if (!fields.TryGetValue("keyId", out var keyId) || keyId.Length == 0) { problem = "the Signature header names no keyId"; return null; }
        if (!fields.TryGetValue("signature", out var signatureText)) { problem = "the Signature header carries no signature"; return null; }
        var algorithm = fields.GetValueOrDefault("algorithm", "hs2019").ToLowerInvariant();
        if (algorithm is not ("rsa-sha256" or "hs2019")) { problem = $"the signature algorithm \"{algorithm}\" is not supported; use rsa-sha256"; return null; }
        byte[] signature;
        try { signature = Convert.FromBase64String(signatureText); }
        catch (FormatException) { problem = "the signature is not base64"; return null; }
        var headers = fields.GetValueOrDefault("headers", "date").ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new SignatureHeader(keyId, algorithm, headers, signature, header);
    }

    /// <summary>
    /// The string the sender signed, rebuilt from the request as received; null with the reason when a header the
    /// signature names is missing.
    /// </summary>
    public static string? SigningString(SignatureHeader signature, string method, string pathAndQuery, Func<string, string?> header, out string problem)
    {
        problem = "";
        var lines = new List<string>(signature.Headers.Count);
        foreach (var name in signature.Headers)
        {
            string? value = name == "(request-target)" ? $"{method.ToLowerInvariant()} {pathAndQuery}" : header(name);
            if (value is null)
            {
                problem = $"the signature covers the {name} header, which the request does not have";
                return null;
            }
            lines.Add($"{name}: {value}");
        }
        return string.Join("\n", lines);
    }

    public static bool Verify(string signingString, byte[] signature, string publicKeyPem)
    {
        using var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(publicKeyPem);
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (CryptographicException)
        {
            return false;
        }
        return rsa.VerifyData(Encoding.UTF8.GetBytes(signingString), signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }
}
