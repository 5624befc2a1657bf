using System.ComponentModel.DataAnnotations;

namespace Syndicator.Hosting;

/// <summary>The <c>Site</c> section: the publication itself.</summary>
public sealed class SiteOptions
{
    public const string Section = "Site";

    [Required(ErrorMessage = "Site:Title is empty; set it to the publication's name.")]
    public string Title { get; set; } = "";

    /// <summary>Canonical article URLs are <c>{BaseUrl}/{slug}</c> unless the article sets its own.</summary>
    [Required(ErrorMessage = "Site:BaseUrl is empty; set it to the site's address, e.g. https://magazine.example.")]
    [Url(ErrorMessage = "Site:BaseUrl is not an absolute http(s) URL; write it like https://magazine.example.")]
    public string BaseUrl { get; set; } = "";

    public string Language { get; set; } = "en";

    /// <summary>The author name given to an article whose file names none.</summary>
    [Required(ErrorMessage = "Site:DefaultAuthor is empty; set the name to use for articles without an author, e.g. \"The Editors\".")]
    public string DefaultAuthor { get; set; } = "The Editors";
}
