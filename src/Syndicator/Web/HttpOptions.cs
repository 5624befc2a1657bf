using System.ComponentModel.DataAnnotations;

namespace Syndicator.Web;

/// <summary>The <c>Http</c> section.</summary>
public sealed class HttpOptions
{
    public const string Section = "Http";

    /// <summary>Where the HTTP endpoint listens; loopback by default so nothing is exposed by accident.</summary>
    [Required(ErrorMessage = "Http:Urls is empty; set it to e.g. http://127.0.0.1:5080.")]
    public string Urls { get; set; } = "http://127.0.0.1:5080";

    /// <summary>
    /// Host names requests may carry besides the ones Syndicator knows (the hosts of Site:BaseUrl, Digests:PublicUrl,
    /// Feeds:PublicUrl and Http:Urls, and localhost, 127.0.0.1 and [::1]): e.g. the name a reverse proxy forwards, or the
    /// pod IP a probe uses. <c>*.example.com</c> allows subdomains. Any other Host header is answered 400.
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];
}
