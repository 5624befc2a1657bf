using Ganss.Xss;
using Syndicator.Shared;

namespace Syndicator.Articles.Import;

/// <summary>
/// Sanitizes article HTML on the way in, so nothing downstream (feeds, emails) can carry scripts or event handlers.
/// Links keep only the http, https and mailto schemes (a <c>javascript:</c>, <c>data:</c> or <c>vbscript:</c> link
/// loses its attribute, with a warning); absolute http(s) links are written in their URI form (<see cref="WebUrl"/>).
/// </summary>
public static class HtmlCleaner
{
    private static HtmlSanitizer Create(ICollection<string>? warnings)
    {
        var sanitizer = new HtmlSanitizer();
        sanitizer.AllowedSchemes.Clear();
        foreach (var scheme in new[] { "http", "https", "mailto" }) sanitizer.AllowedSchemes.Add(scheme);
        sanitizer.AllowedAttributes.Remove("style");
        sanitizer.AllowedTags.Remove("form");
        sanitizer.FilterUrl += (sender, e) =>
        {
            if (e.SanitizedUrl is { } url && (url.StartsWith("http:", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https:", StringComparison.OrdinalIgnoreCase)))
                e.SanitizedUrl = WebUrl.TryParse(url, out var web, out _) ? web.Value : null;
        };
        sanitizer.RemovingAttribute += (sender, e) =>
        {
            if (e.Reason == RemoveReason.NotAllowedUrlValue)
                warnings?.Add($"a link in the body was removed: <{e.Tag.LocalName} {e.Attribute.Name}=\"{Shown.Value(e.Attribute.Value)}\"> is not an http(s) or mailto link");
        };
        return sanitizer;
    }

    /// <param name="warnings">Receives a line for each link removed.</param>
    public static string Sanitize(string html, ICollection<string>? warnings = null) => Create(warnings).Sanitize(html).Trim();

    public static string Paragraphs(IEnumerable<string> paragraphs) =>
        string.Join("\n", paragraphs.Select(p => "<p>" + System.Net.WebUtility.HtmlEncode(p) + "</p>"));
}
