using System.ComponentModel.DataAnnotations;

namespace Syndicator.Web;

/// <summary>The <c>Http</c> section.</summary>
public sealed class HttpOptions
{
    public const string Section = "Http";

    /// <summary>Where the HTTP endpoint listens; loopback by default so nothing is exposed by accident.</summary>
    [Required(ErrorMessage = "Http:Urls is empty; set it to e.g. http://127.0.0.1:5080.")]
    public string Urls { get; set; } = "http://127.0.0.1:5080";
}
