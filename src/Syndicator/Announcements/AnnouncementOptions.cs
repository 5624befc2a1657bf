using System.ComponentModel.DataAnnotations;

namespace Syndicator.Announcements;

/// <summary>The <c>Announcements</c> section.</summary>
public sealed class AnnouncementOptions
{
    public const string Section = "Announcements";

    public List<SocialAccount> Accounts { get; set; } = [];

    /// <summary>Folder of the Liquid templates <c>x.liquid</c>, <c>mastodon.liquid</c>, <c>bluesky.liquid</c>.</summary>
    [Required(ErrorMessage = "Announcements:TemplatesPath is empty; set it to a folder such as config/templates.")]
    public string TemplatesPath { get; set; } = "config/templates";

    /// <summary>
    /// An article published longer ago than this when it is first imported is not announced: importing the archive
    /// must not flood the timelines. Articles imported after downtime within this window are announced, oldest first.
    /// </summary>
    [Range(0, 24 * 365, ErrorMessage = "Announcements:MaxAgeHours must be between 0 and 8760.")]
    public int MaxAgeHours { get; set; } = 72;

    /// <summary>The longest an article's image may take to download for a post; past it the post goes without the image.</summary>
    [Range(1, 120, ErrorMessage = "Announcements:ImageTimeoutSeconds must be between 1 and 120.")]
    public int ImageTimeoutSeconds { get; set; } = 15;
}
