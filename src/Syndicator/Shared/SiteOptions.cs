using System.ComponentModel.DataAnnotations;

namespace Syndicator.Shared;

/// <summary>The <c>Site</c> section: the publication itself.</summary>
public sealed class SiteOptions
{
    public const string Section = "Site";

    [Required(ErrorMessage = "Site:Title is empty; set it to the publication's name.")]
    public string Title { get; set; } = "";

    /// <summary>
    /// Canonical article URLs are <c>{BaseUrl}/{slug}</c> unless the article sets its own. An absolute https URL
    /// (see <see cref="PublicUrlsValidator"/> for what else is refused).
    /// </summary>
    [Required(ErrorMessage = "Site:BaseUrl is empty; set it to the site's address, e.g. https://www.your-magazine.com.")]
    public string BaseUrl { get; set; } = "";

    /// <summary>
    /// For a trial on one machine and for tests: public URLs (this one, Feeds:PublicUrl, Digests:PublicUrl) may then
    /// be plain http on any host, and may point at this machine or at an example domain even while an SMTP host or a
    /// social account is configured (a local mail catcher, test servers). Never in production: readers would get
    /// links that lead nowhere.
    /// </summary>
    public bool AllowLocalUrls { get; set; }

    public string Language { get; set; } = "en";

    /// <summary>The IANA time zone the sign-up form offers when the reader's browser does not say theirs (no script).</summary>
    [TimeZoneId(ErrorMessage = "Site:TimeZone is not a known time zone; use an IANA id such as \"UTC\" or \"Europe/London\".")]
    public string TimeZone { get; set; } = "UTC";

    /// <summary>The colour of links and buttons on the reader's pages (sign-up, preferences), as #RRGGBB.</summary>
    [RegularExpression("^#[0-9A-Fa-f]{6}$", ErrorMessage = "Site:AccentColor must be a colour written #RRGGBB, e.g. #0b4f8a.")]
    public string AccentColor { get; set; } = "#0b4f8a";

    /// <summary>The author name given to an article whose file names none.</summary>
    [Required(ErrorMessage = "Site:DefaultAuthor is empty; set the name to use for articles without an author, e.g. \"The Editors\".")]
    public string DefaultAuthor { get; set; } = "The Editors";
}
