using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Syndicator.Shared;

/// <summary>
/// An absolute <c>http</c>/<c>https</c> URL in its URI form: the host in ASCII (international domain names as
/// punycode), the path, query and fragment percent-encoded (an IRI such as <c>https://magazine.example/نقش</c>
/// becomes <c>https://magazine.example/%D9%86%D9%82%D8%B4</c>). That form is what feeds, e-mails and posts carry,
/// and what X and Mastodon recognise as one link. <c>javascript:</c>, <c>data:</c>, relative URLs, URLs with a user
/// name or password, and text with control characters, white space or bidirectional controls are refused.
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(WebUrlJsonConverter))]
public sealed record WebUrl
{
    /// <summary>Longer URLs are cut by browsers, proxies and X (4,096 including the scheme).</summary>
    public const int MaxLength = 2048;

    private WebUrl(string value) => Value = value;

    public string Value { get; }

    public override string ToString() => Value;

    [return: NotNullIfNotNull(nameof(url))]
    public static implicit operator string?(WebUrl? url) => url?.Value;

    public Uri ToUri() => new(Value, UriKind.Absolute);

    public static WebUrl Parse(string text) =>
        TryParse(text, out var url, out var problem) ? url : throw new FormatException($"\"{text}\" is not an absolute http(s) URL: {problem}");

    public static bool TryParse(string? text, out WebUrl url, out string problem)
    {
        url = null!;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text)) { problem = "it is empty"; return false; }
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.IsControl(rune)) { problem = $"it contains the control character U+{rune.Value:X4}"; return false; }
            if (Rune.IsWhiteSpace(rune)) { problem = "it contains white space; write a space as %20"; return false; }
            if (IsBidiControl(rune.Value)) { problem = $"it contains the invisible direction mark U+{rune.Value:X4}"; return false; }
        }
        var colon = text.IndexOf(':');
        var scheme = colon > 0 ? text[..colon].ToLowerInvariant() : "";
        if (scheme is not ("http" or "https"))
        {
            problem = colon > 0 && scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.')
                ? $"its scheme is '{scheme}:'; only http: and https: links are allowed"
                : "it is not an absolute URL; write it with https://";
            return false;
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
        {
            problem = "it is not a well-formed URL";
            return false;
        }
        if (uri.UserInfo.Length > 0) { problem = "it carries a user name or password before the host"; return false; }

        string host;
        try
        {
            host = uri.HostNameType == UriHostNameType.Dns ? new IdnMapping { UseStd3AsciiRules = true }.GetAscii(uri.Host.TrimEnd('.')) : uri.Host;
        }
        catch (ArgumentException)
        {
            problem = $"its host '{uri.Host}' is not a valid domain name";
            return false;
        }
        var sb = new StringBuilder(uri.Scheme).Append("://").Append(host.ToLowerInvariant());
        if (!uri.IsDefaultPort) sb.Append(':').Append(uri.Port.ToString(CultureInfo.InvariantCulture));
        sb.Append(uri.GetComponents(UriComponents.PathAndQuery | UriComponents.Fragment, UriFormat.UriEscaped));
        var value = sb.ToString();
        if (value.Length > MaxLength) { problem = $"it is {value.Length:N0} characters long, over the limit of {MaxLength:N0}"; return false; }
        url = new WebUrl(value);
        problem = "";
        return true;
    }

    /// <summary>A URL made of a base URL the configuration validated and one slug segment.</summary>
    public static WebUrl Combine(string baseUrl, Slug slug) => Parse($"{baseUrl.TrimEnd('/')}/{slug.UrlSegment}");

    /// <summary>
    /// A URL read back from the store. Import only stores URLs in this form; one stored by an older version as a
    /// raw IRI is brought to it; null when the stored text is no http(s) URL at all.
    /// </summary>
    internal static WebUrl? FromStore(string? value) => TryParse(value, out var url, out _) ? url : null;

    private static bool IsBidiControl(int c) => c is 0x061C or 0x200E or 0x200F or (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069);
}
