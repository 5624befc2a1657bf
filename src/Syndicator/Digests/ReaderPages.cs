using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Syndicator.Shared;

namespace Syndicator.Digests;

/// <summary>What the reader's form shows filled in: what they sent (after a problem), their saved settings, or the defaults.</summary>
/// <param name="ZoneChosen">The zone is the reader's own choice (sent back after a problem, or saved): the browser's zone does not replace it.</param>
public sealed record ReaderForm(string Email, string Name, DigestFrequency Frequency, string TimeZone, IReadOnlyList<string> Authors, IReadOnlyList<string> Tags, bool ZoneChosen);

/// <summary>
/// The pages readers see (sign-up, confirm, preferences, unsubscribe), in the site's name, language and accent colour
/// (Site options), written out by hand like the dashboard: no template engine, no external asset. The one script, on
/// the sign-up page, preselects the browser's time zone; it is allowed by its hash alone and the form works without it.
/// </summary>
internal static class ReaderPages
{
    /// <summary>
    /// Picks the browser's zone (Intl) in the time zone list, adding it when the list spells it differently (Chrome
    /// still reports Asia/Calcutta); the server checks whatever comes back. Without script the site's zone stays chosen.
    /// </summary>
    private const string ZoneScript =
        "(function(){var s=document.getElementById('tz'),z;try{z=Intl.DateTimeFormat().resolvedOptions().timeZone}catch(e){}" +
        "if(!s||!z||s.getAttribute('data-chosen')==='reader')return;for(var i=0;i<s.options.length;i++){if(s.options[i].value===z){s.value=z;return}}" +
        "var o=document.createElement('option');o.value=z;o.textContent=z;s.add(o);s.value=z})();";

    private static readonly string ZoneScriptHash = "'sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(ZoneScript))) + "'";

    public static string E(string? text) => WebUtility.HtmlEncode(text ?? "");

    public static IResult Page(SiteOptions site, string title, string body, int status = StatusCodes.Status200OK, bool zoneScript = false) =>
        new Html(site, title, body, status, zoneScript);

    /// <summary>The fields a reader chooses on both the sign-up and the preferences page.</summary>
    public static string ChoiceFields(ReaderForm form, FollowChoices known, DateTimeOffset now)
    {
        var sb = new StringBuilder();
        sb.Append("<p><label for=\"frequency\">How often</label><select id=\"frequency\" name=\"frequency\">");
        foreach (var frequency in ReaderChoices.Frequencies)
            sb.Append($"<option value=\"{ReaderChoices.Name(frequency)}\"{(frequency == form.Frequency ? " selected" : "")}>{(frequency == DigestFrequency.Daily ? "Every day" : "Once a week")}</option>");
        sb.Append("</select></p>");

        sb.Append($"<p><label for=\"tz\">Time zone</label><select id=\"tz\" name=\"tz\" data-chosen=\"{(form.ZoneChosen ? "reader" : "site")}\">");
        var listed = false;
        foreach (var region in TimeZoneLookup.All.GroupBy(z => z.Id.Contains('/') ? z.Id[..z.Id.IndexOf('/')] : ""))
        {
            if (region.Key.Length > 0) sb.Append($"<optgroup label=\"{E(region.Key)}\">");
            foreach (var zone in region)
            {
                var selected = zone.Id.Equals(form.TimeZone, StringComparison.OrdinalIgnoreCase);
                listed |= selected;
                var place = (region.Key.Length > 0 ? zone.Id[(region.Key.Length + 1)..] : zone.Id).Replace('_', ' ');
                sb.Append($"<option value=\"{E(zone.Id)}\"{(selected ? " selected" : "")}>{E(place)} ({Offset(zone.GetUtcOffset(now))})</option>");
            }
            if (region.Key.Length > 0) sb.Append("</optgroup>");
        }
        // A zone the system knows by an alias the list leaves out (US/Eastern) stays the reader's choice.
        if (!listed && TimeZoneLookup.Find(form.TimeZone) is not null) sb.Append($"<option value=\"{E(form.TimeZone)}\" selected>{E(form.TimeZone)}</option>");
        sb.Append("</select><span class=\"hint\">The digest goes out in the morning of this zone.</span></p>");

        sb.Append("<fieldset><legend>Follow</legend><p class=\"hint\">Tick none to get every article; tick some to get only the articles by those authors or with those tags.</p>");
        sb.Append(Checkboxes("Authors", "author", known.Authors, form.Authors));
        sb.Append(Checkboxes("Tags", "tag", known.Tags, form.Tags));
        sb.Append("</fieldset>");
        return sb.ToString();
    }

    private static string Checkboxes(string heading, string field, IReadOnlyList<string> known, IReadOnlyList<string> chosen)
    {
        if (known.Count == 0) return $"<p class=\"hint\">No {heading.ToLowerInvariant()} yet.</p>";
        var sb = new StringBuilder($"<h2>{heading}</h2><div class=\"choices\" data-field=\"{field}\">");
        foreach (var value in known)
        {
            var ticked = chosen.Contains(value, StringComparer.OrdinalIgnoreCase);
            // dir="auto": a Persian or Arabic name reads right to left inside a left-to-right page.
            sb.Append($"<label dir=\"auto\"><input type=\"checkbox\" name=\"{field}\" value=\"{E(value)}\"{(ticked ? " checked" : "")}> {E(value)}</label>");
        }
        sb.Append("</div>");
        return sb.ToString();
    }

    public static string Problems(IReadOnlyList<string> problems) =>
        $"<div class=\"problems\" role=\"alert\"><p>Please check the form:</p><ul>{string.Concat(problems.Select(p => $"<li>{E(p)}</li>"))}</ul></div>";

    private static string Offset(TimeSpan offset) =>
        "UTC" + (offset < TimeSpan.Zero ? "−" : "+") + offset.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture);

    private static string Style(SiteOptions site) => $$"""
        :root{--accent:{{site.AccentColor}};--fg:#1d1d1f;--muted:#5f6368;--line:#dadce0}
        *{box-sizing:border-box}
        body{font:17px/1.55 Georgia,"Times New Roman",serif;color:var(--fg);background:#fafafa;margin:0}
        header{border-top:4px solid var(--accent);background:#fff;border-bottom:1px solid var(--line);padding:1rem}
        header a{color:var(--fg);text-decoration:none;font-size:1.4rem}
        main{max-width:38rem;margin:2rem auto;padding:0 1rem}
        h1{font-size:1.6rem;margin:0 0 1rem}
        h2{font:600 .95rem system-ui,sans-serif;margin:1rem 0 .4rem;color:var(--muted)}
        label{font:600 .95rem system-ui,sans-serif;display:block;margin-bottom:.25rem}
        input[type=email],input[type=text],select{font:1rem system-ui,sans-serif;width:100%;padding:.5rem;border:1px solid var(--line);border-radius:4px;background:#fff}
        fieldset{border:1px solid var(--line);border-radius:6px;padding:.6rem 1rem 1rem;margin:1rem 0}
        legend{font:600 1rem system-ui,sans-serif;padding:0 .3rem}
        .choices{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.2rem 1rem}
        .choices label{font-weight:400;display:flex;gap:.4rem;align-items:baseline}
        .hint{display:block;font:.85rem system-ui,sans-serif;color:var(--muted);margin:.25rem 0}
        button{font:600 1rem system-ui,sans-serif;padding:.6rem 1.4rem;border:0;border-radius:4px;background:var(--accent);color:#fff;cursor:pointer}
        a{color:var(--accent)}
        .problems{border-left:4px solid #c62828;background:#fdecea;padding:.4rem 1rem;margin:0 0 1rem}
        footer{max-width:38rem;margin:0 auto 2rem;padding:0 1rem;font:.85rem system-ui,sans-serif;color:var(--muted)}
        """;

    /// <summary>The page, with the security headers' policy widened by exactly the zone script's hash when it carries it.</summary>
    private sealed class Html(SiteOptions site, string title, string body, int status, bool zoneScript) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            var response = context.Response;
            response.StatusCode = status;
            response.ContentType = "text/html; charset=utf-8";
            // A page that carries a token in its form or address (preferences, confirm) must not be kept by a shared cache.
            response.Headers.CacheControl = "no-store";
            if (zoneScript)
            {
                var policy = response.Headers[HeaderNames.ContentSecurityPolicy].ToString();
                response.Headers[HeaderNames.ContentSecurityPolicy] = (policy.Length > 0 ? policy + "; " : "") + $"script-src {ZoneScriptHash}";
            }
            await response.WriteAsync($"""
                <!DOCTYPE html>
                <html lang="{E(site.Language)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>{E(title)} · {E(site.Title)}</title><style>{Style(site)}</style></head>
                <body><header><a href="{E(site.BaseUrl)}">{E(site.Title)}</a></header>
                <main><h1>{E(title)}</h1>
                {body}
                </main>{(zoneScript ? $"<script>{ZoneScript}</script>" : "")}</body></html>
                """, context.RequestAborted);
        }
    }
}
