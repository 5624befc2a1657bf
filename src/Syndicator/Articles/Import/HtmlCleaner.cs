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
    /// <summary>
    /// One sanitizer for every body instead of one per call: its <c>Sanitize</c> is thread-safe on a shared instance
    /// whose settings no longer change (the library's README, "Thread safety"), and an import cleans its files on
    /// every core at once.
    /// </summary>
    private static readonly HtmlSanitizer Sanitizer = Create();

    /// <summary>Where the current call's warnings go: <c>Sanitize</c> raises its events on the calling thread, before it returns.</summary>
    [ThreadStatic] private static ICollection<string>? currentWarnings;

    private static HtmlSanitizer Create()
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
                currentWarnings?.Add($"a link in the body was removed: <{e.Tag.LocalName} {e.Attribute.Name}=\"{Shown.Value(e.Attribute.Value)}\"> is not an http(s) or mailto link");
        };
        return sanitizer;
    }

    /// <param name="warnings">Receives a line for each link removed.</param>
    public static string Sanitize(string html, ICollection<string>? warnings = null)
    {
        currentWarnings = warnings;
        try { return Sanitizer.Sanitize(html).Trim(); }
        finally { currentWarnings = null; }
    }

    /// <summary>Plain-text paragraphs as HTML <c>&lt;p&gt;</c> elements, one a line, written into one buffer.</summary>
    public static string Paragraphs(IEnumerable<string> paragraphs)
    {
        using var html = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var paragraph in paragraphs)
        {
            if (html.GetStringBuilder().Length > 0) html.Write('\n');
            html.Write("<p>");
            System.Net.WebUtility.HtmlEncode(paragraph, html);
            html.Write("</p>");
        }
        return html.ToString();
    }
}
