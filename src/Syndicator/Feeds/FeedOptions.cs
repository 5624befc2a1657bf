using System.ComponentModel.DataAnnotations;

namespace Syndicator.Feeds;

/// <summary>The <c>Feeds</c> section.</summary>
public sealed class FeedOptions
{
    public const string Section = "Feeds";

    /// <summary>Where feed files are written; Syndicator serves this folder under <c>/feeds/</c>, and so can any web server.</summary>
    [Required(ErrorMessage = "Feeds:OutputPath is empty; set it to a folder such as data/feeds.")]
    public string OutputPath { get; set; } = "data/feeds";

    /// <summary>The public URL the output folder is served at; feed self links and OPML use it. Defaults to {Site:BaseUrl}/feeds.</summary>
    public string? PublicUrl { get; set; }

    /// <summary>Items in each current feed and in each archive page (RFC 5005).</summary>
    [Range(1, 1000, ErrorMessage = "Feeds:ItemsPerFeed must be between 1 and 1000.")]
    public int ItemsPerFeed { get; set; } = 50;

    /// <summary>Feed icon / logo URL.</summary>
    public string? IconUrl { get; set; }

    /// <summary>
    /// <c>/ready</c> turns Degraded once a feed scope has failed to build (or left articles out) this many builds in a row.
    /// One failed build is often an article caught mid-edit; several in a row need someone to fix the article.
    /// </summary>
    [Range(1, 1000, ErrorMessage = "Feeds:DegradedAfterFailedBuilds must be between 1 and 1000 (builds in a row).")]
    public int DegradedAfterFailedBuilds { get; set; } = 3;

    /// <summary>WebSub hubs: advertised with rel="hub" and pinged after a feed changes.</summary>
    public List<string> Hubs { get; set; } = [];
}
