using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Syndicator.Announcements.X;

/// <summary>The four OAuth 1.0a secrets of a user-context request. <see cref="Token"/> may be null (RFC 5849 §2.1).</summary>
public sealed record OAuth1Credentials(string ConsumerKey, string ConsumerSecret, string? Token, string? TokenSecret)
{
    public override string ToString() => $"OAuth1Credentials {{ ConsumerKey = {ConsumerKey}, secrets hidden }}";
}

/// <summary>What signing produced: the signature base string (RFC 5849 §3.4.1.1), the base64 signature and the header value.</summary>
public sealed record OAuth1Signature(string BaseString, string Signature, string AuthorizationHeader);

/// <summary>
/// Signs HTTP requests with OAuth 1.0a HMAC-SHA1 (RFC 5849 §3.4). Signed parameters are the query's, the
/// <c>oauth_*</c> protocol parameters and, only when the body is <c>application/x-www-form-urlencoded</c>, the
/// body's (§3.4.1.3.1): a JSON body, as X API v2 uses, is not signed. The clock and the nonce are injectable so
/// tests can reproduce published examples.
/// </summary>
public sealed class OAuth1Signer(TimeProvider time, Func<string>? nonce = null)
{
    public const string SignatureMethod = "HMAC-SHA1";

    private readonly Func<string> nonce = nonce ?? RandomNonce;

    /// <summary>
    /// Signs <paramref name="method"/> <paramref name="uri"/> (its query is signed) with the current time and a fresh
    /// nonce. <paramref name="formParameters"/> are the decoded pairs of a form-encoded body, if the request has one.
    /// <paramref name="protocolParameters"/> adds <c>oauth_*</c> parameters such as <c>oauth_callback</c>;
    /// <paramref name="includeVersion"/> adds <c>oauth_version=1.0</c>, which RFC 5849 makes optional and X documents.
    /// </summary>
    public OAuth1Signature Sign(
        string method,
        Uri uri,
        OAuth1Credentials credentials,
        IEnumerable<KeyValuePair<string, string>>? formParameters = null,
        IEnumerable<KeyValuePair<string, string>>? protocolParameters = null,
        bool includeVersion = true)
    {
        var oauth = new List<KeyValuePair<string, string>>
        {
            new("oauth_consumer_key", credentials.ConsumerKey),
            new("oauth_nonce", nonce()),
            new("oauth_signature_method", SignatureMethod),
            new("oauth_timestamp", time.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)),
        };
        if (!string.IsNullOrEmpty(credentials.Token)) oauth.Add(new("oauth_token", credentials.Token));
        if (includeVersion) oauth.Add(new("oauth_version", "1.0"));
        foreach (var extra in protocolParameters ?? [])
        {
            if (!extra.Key.StartsWith("oauth_", StringComparison.Ordinal))
                throw new ArgumentException($"{extra.Key} is not an OAuth protocol parameter; protocol parameters start with oauth_.", nameof(protocolParameters));
            oauth.Add(extra);
        }

        var baseString = BaseString(method, uri, oauth.Concat(formParameters ?? []));
        var signature = ComputeSignature(baseString, credentials.ConsumerSecret, credentials.TokenSecret);
        oauth.Add(new("oauth_signature", signature));
        return new OAuth1Signature(baseString, signature, AuthorizationHeader(oauth));
    }

    /// <summary>
    /// Signs <paramref name="request"/> and sets its <c>Authorization</c> header. A form-encoded body is read
    /// (it is buffered) and its parameters signed; any other body is left out of the signature.
    /// </summary>
    public async Task<OAuth1Signature> SignAsync(HttpRequestMessage request, OAuth1Credentials credentials, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri ?? throw new ArgumentException("The request has no URI.", nameof(request));
        if (!uri.IsAbsoluteUri) throw new ArgumentException("OAuth 1.0a signs absolute URIs only; set HttpRequestMessage.RequestUri to one.", nameof(request));
        IReadOnlyList<KeyValuePair<string, string>>? form = null;
        if (request.Content is { } content && IsFormEncoded(content.Headers.ContentType))
            form = ParseForm(await content.ReadAsStringAsync(cancellationToken));
        var signed = Sign(request.Method.Method, uri, credentials, form);
        request.Headers.Authorization = new AuthenticationHeaderValue("OAuth", signed.AuthorizationHeader["OAuth ".Length..]);
        return signed;
    }

    /// <summary>RFC 5849 §3.4.1.1: METHOD &amp; enc(base string URI) &amp; enc(normalized parameters), the query's included.</summary>
    public static string BaseString(string method, Uri uri, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        // The Authorization header's "realm" is not a parameter: callers pass protocol parameters without it.
        var all = ParseForm(uri.Query).Concat(parameters).Where(p => p.Key != "oauth_signature");
        return Encode(method.ToUpperInvariant()) + "&" + Encode(BaseStringUri(uri)) + "&" + Encode(NormalizeParameters(all));
    }

    /// <summary>RFC 5849 §3.4.1.2: lowercase scheme and host, the port only when it is not the scheme's default, the path, no query or fragment.</summary>
    public static string BaseStringUri(Uri uri)
    {
        if (!uri.IsAbsoluteUri) throw new ArgumentException("The base string URI needs an absolute URI.", nameof(uri));
        var scheme = uri.Scheme.ToLowerInvariant();
        var host = uri.Host.ToLowerInvariant();
        var defaultPort = (scheme == "http" && uri.Port == 80) || (scheme == "https" && uri.Port == 443);
        var authority = defaultPort ? host : host + ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var path = uri.AbsolutePath.Length == 0 ? "/" : uri.AbsolutePath;
        return scheme + "://" + authority + path;
    }

    /// <summary>RFC 5849 §3.4.1.3.2: encode names and values, sort by name then value (byte order), join name=value with &amp;.</summary>
    public static string NormalizeParameters(IEnumerable<KeyValuePair<string, string>> parameters) =>
        string.Join('&', parameters
            .Select(p => (Name: Encode(p.Key), Value: Encode(p.Value)))
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => p.Name + "=" + p.Value));

    /// <summary>RFC 5849 §3.4.2: the key is enc(consumer secret) &amp; enc(token secret), the "&amp;" present even when a secret is empty.</summary>
    public static string SigningKey(string consumerSecret, string? tokenSecret) => Encode(consumerSecret) + "&" + Encode(tokenSecret ?? "");

    /// <summary>RFC 5849 §3.4.2: base64(HMAC-SHA1(signing key, base string)).</summary>
    public static string ComputeSignature(string baseString, string consumerSecret, string? tokenSecret) =>
        Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(SigningKey(consumerSecret, tokenSecret)), Encoding.UTF8.GetBytes(baseString)));

    /// <summary>RFC 5849 §3.5.1 as X writes it: <c>OAuth k="v", k="v"</c>, names and values encoded, sorted by name.</summary>
    public static string AuthorizationHeader(IEnumerable<KeyValuePair<string, string>> protocolParameters) =>
        "OAuth " + string.Join(", ", protocolParameters
            .Select(p => (Name: Encode(p.Key), Value: Encode(p.Value)))
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => $"{p.Name}=\"{p.Value}\""));

    /// <summary>
    /// RFC 5849 §3.6: UTF-8, then every octet outside the RFC 3986 unreserved set (ALPHA, DIGIT, "-", ".", "_", "~")
    /// as %XX with uppercase hex. Spaces become %20, never "+".
    /// </summary>
    public static string Encode(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var builder = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            if (b is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~')
                builder.Append((char)b);
            else
                builder.Append('%').Append(Hex[b >> 4]).Append(Hex[b & 0xF]);
        }
        return builder.ToString();
    }

    /// <summary>
    /// Decodes a query or an <c>application/x-www-form-urlencoded</c> body into name/value pairs (W3C HTML 4.01
    /// §17.13.4): "+" is a space, %XX an octet of UTF-8, a name without "=" has an empty value. A leading "?" is skipped.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ParseForm(string? encoded)
    {
        var result = new List<KeyValuePair<string, string>>();
        if (string.IsNullOrEmpty(encoded)) return result;
        var text = encoded[0] == '?' ? encoded[1..] : encoded;
        foreach (var pair in text.Split('&'))
        {
            if (pair.Length == 0) continue;
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? "" : pair[(equals + 1)..];
            result.Add(new(FormDecode(name), FormDecode(value)));
        }
        return result;
    }

    /// <summary>
    /// The parameters of an <c>Authorization: OAuth ...</c> header (RFC 5849 §3.5.1), decoded, <c>realm</c> included;
    /// null when the header is not an OAuth one or cannot be parsed.
    /// </summary>
    public static IReadOnlyDictionary<string, string>? ParseAuthorizationHeader(string? header)
    {
        if (header is null || !header.StartsWith("OAuth ", StringComparison.OrdinalIgnoreCase)) return null;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in header[6..].Split(','))
        {
            var item = part.Trim();
            if (item.Length == 0) continue;
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0) return null;
            var value = item[(equals + 1)..].Trim();
            if (value.Length < 2 || value[0] != '"' || value[^1] != '"') return null;
            if (!result.TryAdd(Uri.UnescapeDataString(item[..equals].Trim()), Uri.UnescapeDataString(value[1..^1]))) return null;
        }
        return result;
    }

    private static bool IsFormEncoded(MediaTypeHeaderValue? type) =>
        string.Equals(type?.MediaType, "application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);

    private static string FormDecode(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));

    private static string RandomNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private const string Hex = "0123456789ABCDEF";
}
