using System.Globalization;
using System.Net;
using System.Text;
using Quartz;
using Syndicator.Articles;
using Syndicator.Deliveries;

using Syndicator.Scheduling;

namespace Syndicator.Web;

/// <summary>
/// The dashboard's HTML, written out by hand: a handful of tables and one SVG chart need no template engine, no
/// script and no external asset, so the page works behind the strictest CSP and from a machine with no internet.
/// Elements carry <c>data-*</c> attributes naming what they show, for tests and for anyone scraping the page.
/// </summary>
internal static class DashboardPages
{
    private static readonly DeliveryState[] States = [DeliveryState.Pending, DeliveryState.InFlight, DeliveryState.RetryWait, DeliveryState.Sent, DeliveryState.Failed];

    private const string Style = """
        :root{color-scheme:light;--fg:#1d232a;--muted:#5d6b78;--line:#d8dee4;--bg:#f6f8fa;--ok:#2e7d32;--warn:#b26a00;--bad:#c62828;--idle:#8a949e}
        *{box-sizing:border-box}
        body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
        header{background:#1d232a;color:#fff;padding:.9rem 1.5rem}
        header h1{font-size:1.25rem;margin:0}
        header p{margin:.2rem 0 0;color:#c9d1d9;font-size:.9rem}
        header a{color:#fff}
        main{max-width:78rem;margin:0 auto;padding:1rem 1.5rem 3rem}
        section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.9rem 1.1rem;margin:1rem 0}
        h2{font-size:1.05rem;margin:0 0 .6rem}
        table{border-collapse:collapse;width:100%}
        th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
        th{font-weight:600;color:var(--muted);font-size:.85rem;white-space:nowrap}
        td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
        tr:last-child td{border-bottom:0}
        .muted{color:var(--muted)}
        .small{font-size:.85rem}
        .badge{display:inline-block;padding:0 .45rem;border-radius:9px;font-size:.8rem;font-weight:600;color:#fff;background:var(--idle)}
        .badge.Succeeded,.badge.sent,.badge.running,.badge.Normal{background:var(--ok)}
        .badge.Skipped{background:var(--idle)}
        .badge.Failed,.badge.failed,.badge.Error,.badge.Blocked{background:var(--bad)}
        .badge.Cancelled,.badge.retry-wait,.badge.Paused,.badge.standby{background:var(--warn)}
        .badge.pending,.badge.in-flight{background:#1565c0}
        .error{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.82rem;color:var(--bad);max-width:38rem}
        .notice{border-left:4px solid var(--ok);padding:.5rem .8rem;background:#edf7ee}
        .notice.warn{border-color:var(--warn);background:#fff6e5}
        button{font:inherit;font-size:.85rem;padding:.2rem .7rem;border:1px solid #1565c0;border-radius:4px;background:#1565c0;color:#fff;cursor:pointer}
        button:hover{background:#0d47a1}
        form{margin:0}
        .legend span{display:inline-block;margin-right:1rem;font-size:.85rem}
        .legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
        svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
        ul.plain{list-style:none;padding:0;margin:0}
        ul.plain li{padding:.25rem 0;border-bottom:1px solid var(--line)}
        ul.plain li:last-child{border-bottom:0}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
        dt{color:var(--muted)}
        dd{margin:0}
        """;

    private static readonly (string Name, string Color, Func<Quartz.ExecutionStatisticsBucket, long> Count)[] Series =
    [
        ("Succeeded", "#2e7d32", b => b.SucceededCount),
        ("Skipped", "#a7b1bb", b => b.SkippedCount),
        ("Cancelled", "#ef8f00", b => b.CancelledCount),
        ("Failed", "#c62828", b => b.FailedCount),
    ];

    public static string E(string? text) => WebUtility.HtmlEncode(text ?? "");

    public static string Layout(string title, string siteTitle, string? subtitle, string body) => $"""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{E(title)} · {E(siteTitle)}</title><style>{Style}</style></head>
        <body><header><h1><a href="{Dashboard.Path}" style="text-decoration:none">{E(siteTitle)} · Syndicator status</a></h1><nav class="small"><a href="{DigestPages.Path}">Digests</a></nav>{(subtitle is null ? "" : $"<p>{subtitle}</p>")}</header>
        <main>
        {body}
        </main></body></html>
        """;

    /// <summary>An instant in UTC, to the second, with its relative distance from <paramref name="now"/>.</summary>
    public static string Time(DateTimeOffset? value, DateTimeOffset now) =>
        value is { } t ? $"{Utc(t)} <span class=\"muted small\">({Relative(t - now)})</span>" : "<span class=\"muted\">—</span>";

    public static string Utc(DateTimeOffset value)
    {
        var utc = value.ToUniversalTime();
        return $"<time datetime=\"{utc:O}\" title=\"{utc:O}\">{utc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC</time>";
    }

    internal static string Relative(TimeSpan delta)
    {
        var ago = delta < TimeSpan.Zero;
        var d = ago ? -delta : delta;
        var text = d.TotalSeconds < 60 ? $"{Math.Max(1, (int)d.TotalSeconds)} s"
            : d.TotalMinutes < 60 ? $"{(int)d.TotalMinutes} min"
            : d.TotalHours < 48 ? $"{(int)d.TotalHours} h"
            : $"{(int)d.TotalDays} days";
        return ago ? text + " ago" : "in " + text;
    }

    public static string Badge(string text, string? css = null) => $"<span class=\"badge {E(css ?? text)}\">{E(text)}</span>";

    public static string Jobs(IReadOnlyList<JobState> jobs, bool historyKept, DateTimeOffset now)
    {
        var sb = new StringBuilder();
        sb.Append("<table><thead><tr><th>Job</th><th>Schedule</th><th>Next run</th><th>Last run</th><th>Outcome</th><th class=\"num\">Took</th><th>Summary</th></tr></thead><tbody>");
        foreach (var job in jobs)
        {
            sb.Append($"<tr data-job=\"{E(job.Name)}\"><td><strong>{E(job.Name)}</strong>");
            if (job.TriggerState is { } state && state != "Normal") sb.Append(' ').Append(Badge(state));
            sb.Append($"</td><td class=\"small\">{E(job.Schedule)}</td>");
            sb.Append($"<td data-next=\"{job.NextFireAt?.ToUniversalTime():O}\">{(job.Scheduled ? Time(job.NextFireAt, now) : "<span class=\"muted\">not scheduled</span>")}</td>");
            if (job.LastRunAt is { } lastRun && job.LastOutcome is { } outcome)
            {
                var result = JobRunOutcomes.FromColumn(outcome).ToString();
                sb.Append($"<td>{Time(lastRun, now)}</td><td data-outcome=\"{result}\">{Badge(result)}");
                if (job.ConsecutiveFailures > 1) sb.Append($" <span class=\"small muted\">{job.ConsecutiveFailures} in a row</span>");
                sb.Append($"</td><td class=\"num\">{(job.LastDuration is { } took ? Duration(took) : "")}</td><td class=\"small\">{E(job.LastSummary)}");
                if (outcome == "failed" && job.LastError is not null) sb.Append($"<div class=\"error\">{E(job.LastError)}</div>");
                sb.Append("</td>");
            }
            else
            {
                // Without a recorded run, the trigger still knows when it last fired, though not how that went.
                var fired = job.PreviousFireAt is null ? "<span class=\"muted\">never</span>" : Time(job.PreviousFireAt, now);
                sb.Append($"<td>{fired}</td><td data-outcome=\"\"><span class=\"muted\">{(historyKept ? "no run recorded" : "not recorded")}</span></td><td></td><td></td>");
            }
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        return sb.ToString();
    }

    private static string Duration(TimeSpan d) =>
        d.TotalSeconds < 1 ? $"{d.TotalMilliseconds:0} ms" : d.TotalMinutes < 1 ? $"{d.TotalSeconds:0.0} s" : $"{d.TotalMinutes:0.0} min";

    /// <summary>Stacked bars of runs per bucket, by result, with the count of each bar's parts in its tooltip.</summary>
    public static string Chart(RunChart chart)
    {
        const int width = 900, height = 180, left = 34, right = 8, top = 10, bottom = 26;
        var slots = chart.Slots;
        var byStart = chart.Buckets.ToDictionary(b => b.StartUtc.UtcTicks);
        var max = Math.Max(1, chart.Buckets.Select(b => b.RunCount).DefaultIfEmpty(0).Max());
        var plotWidth = width - left - right;
        var plotHeight = height - top - bottom;
        var slot = plotWidth / (double)slots;
        var daily = chart.BucketSize.TotalHours >= 24;

        var sb = new StringBuilder();
        sb.Append($"<svg role=\"img\" aria-label=\"Job runs per {(daily ? "day" : "hour")}\" viewBox=\"0 0 {width} {height}\" width=\"100%\" style=\"display:block\" xmlns=\"http://www.w3.org/2000/svg\">");
        // A middle line only where it falls on a whole number of runs.
        foreach (var fraction in max % 2 == 0 ? new[] { 0.0, 0.5, 1.0 } : [0.0, 1.0])
        {
            var y = top + plotHeight * (1 - fraction);
            sb.Append(Invariant($"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\" stroke=\"#e3e8ed\"/>"));
            sb.Append(Invariant($"<text x=\"{left - 5}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{Math.Round(max * fraction):0}</text>"));
        }
        for (var i = 0; i < slots; i++)
        {
            var start = chart.From + chart.BucketSize * i;
            var x = left + i * slot;
            if (i % (daily ? 2 : 3) == 0)
                sb.Append(Invariant($"<text x=\"{x + slot / 2:0.#}\" y=\"{height - 8}\" text-anchor=\"middle\">{start.ToString(daily ? "MM-dd" : "HH:mm", CultureInfo.InvariantCulture)}</text>"));
            if (!byStart.TryGetValue(start.UtcTicks, out var bucket)) continue;
            var y = (double)top + plotHeight;
            var tip = $"{start.ToString(daily ? "yyyy-MM-dd" : "yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC: {bucket.RunCount} run(s)"
                + string.Concat(Series.Where(s => s.Count(bucket) > 0).Select(s => $", {s.Count(bucket)} {s.Name.ToLowerInvariant()}"))
                + $"; median {Duration(bucket.P50Duration)}, longest {Duration(bucket.MaxDuration)}";
            sb.Append($"<g data-bucket=\"{start:O}\" data-runs=\"{bucket.RunCount}\"><title>{E(tip)}</title>");
            foreach (var (name, color, count) in Series)
            {
                var n = count(bucket);
                if (n == 0) continue;
                var h = plotHeight * n / (double)max;
                y -= h;
                sb.Append(Invariant($"<rect x=\"{x + slot * 0.15:0.##}\" y=\"{y:0.##}\" width=\"{slot * 0.7:0.##}\" height=\"{h:0.##}\" fill=\"{color}\" data-result=\"{name}\"/>"));
            }
            sb.Append("</g>");
        }
        sb.Append("</svg><p class=\"legend\">");
        foreach (var (name, color, _) in Series) sb.Append($"<span><i style=\"background:{color}\"></i>{name}</span>");
        sb.Append("</p>");
        return sb.ToString();
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    public static string DeliveryCounts(IReadOnlyList<DeliveryCount> counts, IReadOnlyDictionary<string, long> due)
    {
        var channels = counts.Select(c => c.Channel).Concat(due.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        if (channels.Count == 0) return "<p class=\"muted\">Nothing has been delivered yet: no announcement, digest or hub ping was planned.</p>";
        var sb = new StringBuilder("<table><thead><tr><th>Channel</th>");
        foreach (var state in States) sb.Append($"<th class=\"num\">{state.ToColumn()}</th>");
        sb.Append("<th class=\"num\">due now</th></tr></thead><tbody>");
        foreach (var channel in channels)
        {
            sb.Append($"<tr data-channel=\"{E(channel)}\"><td><strong>{E(channel)}</strong></td>");
            foreach (var state in States)
            {
                var n = counts.FirstOrDefault(c => c.Channel == channel && c.State == state)?.Count ?? 0;
                var shown = n > 0 && state is DeliveryState.Failed or DeliveryState.RetryWait ? Badge(n.ToString(CultureInfo.InvariantCulture), state.ToColumn()) : n.ToString("N0", CultureInfo.InvariantCulture);
                sb.Append($"<td class=\"num\" data-state=\"{state.ToColumn()}\">{shown}</td>");
            }
            sb.Append($"<td class=\"num\" data-due>{due.GetValueOrDefault(channel):N0}</td></tr>");
        }
        sb.Append("</tbody></table>");
        return sb.ToString();
    }

    public static string Failed(IReadOnlyList<Delivery> failed, DeliveryNames names, string csrf, string returnTo, DateTimeOffset now)
    {
        if (failed.Count == 0) return "<p class=\"muted\">No delivery has failed.</p>";
        var sb = new StringBuilder("<table><thead><tr><th class=\"num\">#</th><th>Channel</th><th>What</th><th>To</th><th>State</th><th class=\"num\">Attempts</th><th>When</th><th>Error</th><th></th></tr></thead><tbody>");
        foreach (var d in failed)
        {
            sb.Append($"<tr data-delivery=\"{d.Id}\" data-state=\"{d.State.ToColumn()}\"><td class=\"num\">{d.Id}</td><td>{E(d.Channel)}</td><td>{Subject(d, names)}</td><td class=\"small\">{E(names.Of(d.Recipient))}</td>");
            sb.Append($"<td>{Badge(d.State.ToColumn())}</td><td class=\"num\">{d.Attempts}</td><td class=\"small\">{Time(d.UpdatedAt, now)}</td><td><div class=\"error\">{E(d.LastError)}</div></td>");
            sb.Append($"<td>{RetryForm(d.Id, csrf, returnTo)}</td></tr>");
        }
        sb.Append("</tbody></table>");
        return sb.ToString();
    }

    public static string RetryForm(long id, string csrf, string returnTo) => $"""
        <form method="post" action="{Dashboard.Path}/deliveries/{id}/retry"><input type="hidden" name="{DashboardAccess.CsrfField}" value="{E(csrf)}"><input type="hidden" name="return" value="{E(returnTo)}"><button type="submit">Retry</button></form>
        """;

    private static string Subject(Delivery d, DeliveryNames names) => d.Subject.Kind switch
    {
        SubjectKind.Article => $"article <a href=\"{ArticleHref(d.Subject.Id)}\">{E(names.Of(d.Subject))}</a>",
        _ => E(names.Of(d.Subject)),
    };

    public static string ArticleHref(string id) => $"{Dashboard.Path}/articles/{Uri.EscapeDataString(id)}";

    public static string RecentArticles(IReadOnlyList<Article> articles, DateTimeOffset now)
    {
        if (articles.Count == 0) return "<p class=\"muted\">No article imported yet.</p>";
        var sb = new StringBuilder("<ul class=\"plain\">");
        foreach (var a in articles)
            sb.Append($"<li data-article=\"{E(a.Id)}\"><a href=\"{ArticleHref(a.Id)}\">{E(a.Title)}</a> <span class=\"muted small\">by {E(a.Author.Name)}, published {Time(a.PublishedAt, now)}</span></li>");
        sb.Append("</ul>");
        return sb.ToString();
    }

    public static string ArticleFeeds(IReadOnlyList<ArticleFeed> feeds)
    {
        var sb = new StringBuilder("<table><thead><tr><th>Feed</th><th>Where</th><th>Links</th></tr></thead><tbody>");
        foreach (var f in feeds)
        {
            var where = string.Join(", ", new[] { f.InCurrentFeed ? "current feed" : null, f.ArchivePage is { } p ? $"archive page {p}" : null }.OfType<string>());
            sb.Append($"<tr data-feed=\"{E(f.Scope.Id)}\"><td>{E(f.Label)}</td><td>{E(where)}</td><td class=\"small\">");
            sb.Append(string.Join(" · ", f.Links.Select(l => $"<a href=\"{E(l.Url)}\">{E(l.Format)}</a>")));
            sb.Append("</td></tr>");
        }
        sb.Append("</tbody></table>");
        return sb.ToString();
    }

    public static string ArticleDeliveries(IReadOnlyList<Delivery> deliveries, string csrf, string returnTo, DateTimeOffset now)
    {
        if (deliveries.Count == 0) return "<p class=\"muted\">No announcement was planned for this article (no account matched it, or it was too old when imported).</p>";
        var sb = new StringBuilder("<table><thead><tr><th>Network</th><th>Account</th><th>State</th><th class=\"num\">Attempts</th><th>Sent</th><th>Post</th></tr></thead><tbody>");
        foreach (var d in deliveries)
        {
            sb.Append($"<tr data-delivery=\"{d.Id}\" data-channel=\"{E(d.Channel)}\"><td>{E(d.Channel)}</td><td>{E(d.Recipient.Id)}</td><td>{Badge(d.State.ToColumn())}</td>");
            sb.Append($"<td class=\"num\">{d.Attempts}</td><td class=\"small\">{(d.SentAt is null ? "" : Time(d.SentAt, now))}</td><td>");
            if (IsWebUrl(d.RemoteUrl)) sb.Append($"<a href=\"{E(d.RemoteUrl)}\" rel=\"noopener noreferrer\" data-remote>{E(d.RemoteUrl)}</a>");
            else if (d.RemoteId is not null) sb.Append($"<span class=\"small\">{E(d.RemoteId)}</span>");
            if (d.LastError is not null && d.State != DeliveryState.Sent) sb.Append($"<div class=\"error\">{E(d.LastError)}</div>");
            if (d.State is DeliveryState.Failed or DeliveryState.Unconfirmed) sb.Append(RetryForm(d.Id, csrf, returnTo));
            sb.Append("</td></tr>");
        }
        sb.Append("</tbody></table>");
        return sb.ToString();
    }

    /// <summary>Only http(s) links are rendered as links: the URL comes from a remote service's answer.</summary>
    private static bool IsWebUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";

    public static string ArticleEmail(IReadOnlyDictionary<DeliveryState, long> digests)
    {
        var total = digests.Values.Sum();
        if (total == 0) return "<p class=\"muted\" data-digests=\"0\">No e-mail digest carries this article yet.</p>";
        var parts = States.Where(digests.ContainsKey).Select(s => $"<span data-state=\"{s.ToColumn()}\">{digests[s]:N0} {s.ToColumn()}</span>");
        return $"<p data-digests=\"{total}\">{total:N0} digest e-mail(s) carry this article: {string.Join(", ", parts)}.</p>";
    }
}
