using Ganss.Xss;

namespace Syndicator.Articles.Import;

/// <summary>Sanitizes article HTML on the way in, so nothing downstream (feeds, emails) can carry scripts or event handlers.</summary>
public static class HtmlCleaner
{
    private static readonly HtmlSanitizer Sanitizer = Create();

    private static HtmlSanitizer Create()
    {
        var sanitizer = new HtmlSanitizer();
        sanitizer.AllowedSchemes.Clear();
        foreach (var scheme in new[] { "http", "https", "mailto" }) sanitizer.AllowedSchemes.Add(scheme);
        sanitizer.AllowedAttributes.Remove("style");
        sanitizer.AllowedTags.Remove("form");
        return sanitizer;
    }

    public static string Sanitize(string html) => Sanitizer.Sanitize(html).Trim();

    public static string Paragraphs(IEnumerable<string> paragraphs) =>
        string.Join("\n", paragraphs.Select(p => "<p>" + System.Net.WebUtility.HtmlEncode(p) + "</p>"));
}
