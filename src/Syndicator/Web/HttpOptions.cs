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

    /// <summary>
    /// Where the operators' paths (dashboard, /metrics, /ready, /health, /articles) listen, apart from the readers'
    /// (feeds, sign-up, confirm, unsubscribe) on <see cref="Urls"/>. Empty: everything answers on Urls, and operators'
    /// paths other than /health want the dashboard's credentials from any caller that is not on this machine.
    /// </summary>
    public string OperatorUrls { get; set; } = "";

    /// <summary>
    /// Memory for the feed files served under /feeds (their bytes, plain and compressed, and their validators), in
    /// MiB; the least recently used are dropped beyond it, and a file larger than an eighth of it is streamed from disk
    /// uncompressed. 64 holds every feed of a large site's hot set.
    /// </summary>
    [Range(1, 65_536, ErrorMessage = "Http:FeedCacheMegabytes must be between 1 and 65536 (MiB of feed files kept in memory).")]
    public int FeedCacheMegabytes { get; set; } = 64;

    /// <summary>
    /// Feed bodies of 16 KB or more go from an in-memory copy to the socket with sendfile(2) (Linux; plain HTTP/1.1 GET),
    /// sent as one chunk instead of with Content-Length, and the socket transport's write buffer is one byte (a flush
    /// waits until the kernel has the bytes). Off: every body is copied through Kestrel's output pipe.
    /// </summary>
    public bool SendFile { get; set; } = true;

    /// <summary>
    /// How long a feed path, once looked at on disk, is trusted without looking again, in milliseconds. Changes inside
    /// the feed folder are reported by the kernel (inotify) and seen at once; this bounds how late a change it does not
    /// report is seen (a network file system written by another host). 0: every request looks at the disk (one
    /// <c>lstat</c> per path segment).
    /// </summary>
    [Range(0, 60_000, ErrorMessage = "Http:FeedRecheckMilliseconds must be between 0 (look at the disk on every request) and 60000.")]
    public int FeedRecheckMilliseconds { get; set; } = 1000;

    public IReadOnlyList<string> ReaderUrlList => Split(Urls);

    public IReadOnlyList<string> OperatorUrlList => Split(OperatorUrls);

    /// <summary>Where the operators' paths answer: <see cref="OperatorUrls"/> when set, else <see cref="Urls"/>.</summary>
    public IReadOnlyList<string> OperatorListener => OperatorUrlList.Count > 0 ? OperatorUrlList : ReaderUrlList;

    /// <summary>The key that names <see cref="OperatorListener"/>, for messages.</summary>
    public string OperatorListenerKey => OperatorUrlList.Count > 0 ? "Http:OperatorUrls" : "Http:Urls";

    internal static IReadOnlyList<string> Split(string urls) => urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The port of a listen address; Kestrel's wildcards (*, +) are read as 0.0.0.0. Null when it is not an address.</summary>
    internal static int? Port(string url) =>
        Uri.TryCreate(url.Replace("://*", "://0.0.0.0").Replace("://+", "://0.0.0.0"), UriKind.Absolute, out var uri) ? uri.Port : null;
}
