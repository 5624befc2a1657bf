using System.Globalization;
using System.Net;
using System.Text;
using Quartz;
using Syndicator.Announcements;
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
        header h1{font-size:1.25rem;margin:0;overflow-wrap:anywhere}
        header p{margin:.2rem 0 0;color:#c9d1d9;font-size:.9rem}
        header a{color:#fff}
        main{max-width:78rem;margin:0 auto;padding:1rem 1.5rem 3rem;overflow-wrap:anywhere}
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
        nav{margin-top:.3rem}
        nav a{color:#c9d1d9;margin-right:1rem;text-decoration:none}
        nav a[aria-current]{color:#fff;font-weight:600;text-decoration:underline}
        .badge.missed,.badge.held,.badge.unconfirmed{background:var(--warn)}
        .counts{display:flex;flex-wrap:wrap;gap:.6rem 1.5rem;margin:0}
        .counts a,.counts span{font-size:1rem}
        .counts strong{font-size:1.3rem}
        form.search{display:flex;gap:.5rem}
        form.search input{flex:1;min-width:0;font:inherit;padding:.3rem .5rem;border:1px solid var(--line);border-radius:4px}
        form.inline{display:inline-block;margin:.2rem .4rem .2rem 0}
        select{font:inherit;font-size:.85rem;padding:.15rem}
        button.quiet{background:#fff;color:#1565c0}
        .marks{display:flex;flex-wrap:wrap;gap:.25rem .5rem}
        .mark{white-space:nowrap;font-size:.85rem}
        .advice{margin:.3rem 0;padding:.4rem .6rem;border-left:4px solid var(--bad);background:#fdecec}
        .advice.waiting{border-color:var(--warn);background:#fff6e5}
        .post{white-space:pre-wrap;word-break:break-word;background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:.5rem .7rem;margin:.3rem 0;font:inherit}
        article.channel{border-top:1px solid var(--line);padding:.7rem 0}
        article.channel:first-of-type{border-top:0}
        article.channel h3{font-size:1rem;margin:0 0 .3rem}
        details summary{cursor:pointer;color:var(--muted);font-size:.85rem}
        .scroll{overflow-x:auto}
        @media (max-width:40rem){
          header,main{padding-left:.7rem;padding-right:.7rem}
          section{padding:.7rem}
          table.cards thead{display:none}
          table.cards tr{display:block;border-bottom:1px solid var(--line);padding:.4rem 0}
          table.cards td{display:block;border:0;padding:.1rem 0}
          table.cards td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:.85rem}
          .error{max-width:100%}
        }
        """;

    /// <summary>The pages the header links, in order. A new page adds its line here.</summary>
    private static readonly (string Href, string Label)[] Nav =
    [
        (Dashboard.Path, "Articles"),
        (DigestPages.Path, "Digests"),
        (Dashboard.OperationsPath, "Operations"),
    ];

    private static readonly (string Name, string Color, Func<Quartz.ExecutionStatisticsBucket, long> Count)[] Series =
    [
        ("Succeeded", "#2e7d32", b => b.SucceededCount),
        ("Skipped", "#a7b1bb", b => b.SkippedCount),
        ("Cancelled", "#ef8f00", b => b.CancelledCount),
        ("Failed", "#c62828", b => b.FailedCount),
    ];

    public static string E(string? text) => WebUtility.HtmlEncode(text ?? "");

    public static string Layout(string title, string siteTitle, string? subtitle, string body, string current) => $"""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{E(title)} · {E(siteTitle)}</title><style>{Style}</style></head>
        <body><header><h1><a href="{Dashboard.Path}" style="text-decoration:none">{E(siteTitle)} · Syndicator status</a></h1>
        <nav aria-label="Dashboard">{string.Concat(Nav.Select(n => $"<a href=\"{n.Href}\"{(n.Href == current ? " aria-current=\"page\"" : "")}>{E(n.Label)}</a>"))}</nav>{(subtitle is null ? "" : $"<p>{subtitle}</p>")}</header>
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
        sb.Append("<div class=\"scroll\"><table><thead><tr><th>Job</th><th>Schedule</th><th>Next run</th><th>Last run</th><th>Outcome</th><th class=\"num\">Took</th><th>Summary</th></tr></thead><tbody>");
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
        sb.Append("</tbody></table></div>");
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
        var sb = new StringBuilder("<div class=\"scroll\"><table><thead><tr><th>Channel</th>");
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
        sb.Append("</tbody></table></div>");
        return sb.ToString();
    }

    public static string Failed(IReadOnlyList<Delivery> failed, DeliveryNames names, IReadOnlyDictionary<long, string> advice, string csrf, string returnTo, DateTimeOffset now)
    {
        if (failed.Count == 0) return "<p class=\"muted\">No delivery has failed.</p>";
        var sb = new StringBuilder("<table class=\"cards\"><thead><tr><th class=\"num\">#</th><th>Channel</th><th>What</th><th>To</th><th>State</th><th class=\"num\">Attempts</th><th>When</th><th>What went wrong</th><th></th></tr></thead><tbody>");
        foreach (var d in failed)
        {
            sb.Append($"<tr data-delivery=\"{d.Id}\" data-state=\"{d.State.ToColumn()}\"><td class=\"num\">{d.Id}</td><td data-label=\"Channel\">{E(FailureAdvice.Service(d.Channel))}</td><td data-label=\"What\">{Subject(d, names)}</td><td class=\"small\" data-label=\"To\">{E(names.Of(d.Recipient))}</td>");
            sb.Append($"<td>{Badge(d.State.ToColumn())}</td><td class=\"num\" data-label=\"Attempts\">{d.Attempts}</td><td class=\"small\">{Time(d.UpdatedAt, now)}</td><td>");
            if (advice.TryGetValue(d.Id, out var a)) sb.Append($"<p class=\"advice\" data-advice>{E(a)}</p>");
            sb.Append($"<div class=\"error\">{E(d.LastError)}</div></td><td>{RetryForm(d.Id, csrf, returnTo)}</td></tr>");
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

    /// <summary>An article's page by its id (the outbox knows only ids); the page takes a slug as well.</summary>
    public static string ArticleHref(string id) => $"{Dashboard.Path}/articles/{Uri.EscapeDataString(id)}";

    /// <summary>An article's page by its slug, the address a publisher reads and types.</summary>
    public static string ArticleHref(Article article) => $"{Dashboard.Path}/articles/{Uri.EscapeDataString(article.Slug)}";

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

    /// <summary>
    /// An article in the fediverse: likes, boosts and replies, its deliveries by state, and per inbox the state of
    /// each activity (Create, Update, Delete). Inbox URLs are the remote server's words: encoded, never links.
    /// </summary>
    public static string ArticleFediverse(ActivityPub.ArticleFediverse f)
    {
        var i = f.Interactions;
        var sb = new StringBuilder($"<p data-likes=\"{i.Likes}\" data-boosts=\"{i.Announces}\" data-replies=\"{i.Replies}\">{i.Likes:N0} like(s), {i.Announces:N0} boost(s), {i.Replies:N0} repl(y/ies).</p>");
        if (f.Deliveries.Count == 0) return sb.Append("<p class=\"muted\" data-activitypub-deliveries=\"0\">No follower inbox has been sent this article.</p>").ToString();
        var byState = f.Deliveries.GroupBy(d => d.State).OrderBy(g => g.Key).Select(g => $"<span data-state=\"{g.Key.ToColumn()}\">{g.Count():N0} {g.Key.ToColumn()}</span>");
        sb.Append($"<p data-activitypub-deliveries=\"{f.Deliveries.Count}\">{f.Deliveries.Count:N0} deliveries to {f.Deliveries.Select(d => d.Recipient.Id).Distinct().Count():N0} inbox(es): {string.Join(", ", byState)}.</p>");
        sb.Append("<table><thead><tr><th>Inbox</th><th>Activity</th><th>State</th><th>Attempts</th><th>Last error</th></tr></thead><tbody>");
        foreach (var d in f.Deliveries.Take(200))
        {
            var parked = f.Parked.TryGetValue(d.Recipient.Id, out var p) ? $" {Badge("parked")} <span class=\"small\">since {E(Utc(p.ParkedAt))}</span>" : "";
            var verb = ActivityPub.ArticleVerb.Parse(d.Subject.Version);
            var kind = verb?.Kind.ToString().ToLowerInvariant() ?? d.Subject.Version;
            sb.Append($"<tr data-inbox=\"{E(d.Recipient.Id)}\" data-activity=\"{E(kind)}\"><td class=\"small\">{E(d.Recipient.Id)}{parked}</td><td>{E(verb?.Describe() ?? d.Subject.Version)}</td><td>{StateBadge(d.State)}</td><td>{d.Attempts}</td><td class=\"small\">{E(d.LastError)}</td></tr>");
        }
        sb.Append("</tbody></table>");
        if (f.Deliveries.Count > 200) sb.Append($"<p class=\"small muted\">The first 200 of {f.Deliveries.Count:N0} are shown.</p>");
        return sb.ToString();
    }

    /// <summary>Followers per account of ours, with held follows and parked inboxes.</summary>
    public static string Followers(IReadOnlyList<ActivityPub.ActorFollowers> actors)
    {
        var sb = new StringBuilder("<table><thead><tr><th>Account</th><th>Followers</th><th>Held</th><th>Inboxes</th><th>Parked</th></tr></thead><tbody>");
        foreach (var a in actors)
            sb.Append($"<tr data-actor=\"{E(a.Username)}\" data-followers=\"{a.Accepted}\" data-parked=\"{a.ParkedInboxes}\"><td>@{E(a.Username)}</td><td>{a.Accepted:N0}</td><td>{a.Held:N0}</td><td>{a.Inboxes:N0}</td><td>{(a.ParkedInboxes > 0 ? Badge(a.ParkedInboxes.ToString(CultureInfo.InvariantCulture), "failed") : "0")}</td></tr>");
        sb.Append("</tbody></table><p class=\"small\"><code>syndicator activitypub followers</code> lists each follower and each parked inbox with its last error.</p>");
        return sb.ToString();
    }

    /// <summary>The articles the API, Ghost or a pull source sent and import refused: nothing on the desk, unless there are some.</summary>
    public static string IntakeRefusals(IReadOnlyList<Articles.Intake.IntakeRefusal> refusals)
    {
        if (refusals.Count == 0) return "";
        var rows = string.Concat(refusals.Select(r =>
            $"<tr><td>{E(Utc(r.At))}</td><td>{E(r.Actor)}</td><td>{(r.Slug is null ? "<span class=\"muted\">none</span>" : E(r.Slug))}</td><td>{E(r.Problem)}</td></tr>"));
        return $"""
            <section id="refused"><h2>Refused at intake</h2>
            <p class="small">Articles sent over HTTP (the API, Ghost, a pull source) that were not taken; the sender was told why. Fix them at the source and send them again.</p>
            <div class="scroll"><table><thead><tr><th>when</th><th>sent by</th><th>slug</th><th>why</th></tr></thead><tbody>{rows}</tbody></table></div></section>
            """;
    }

    /// <summary>What each intake did to the article (API key, Ghost, pull source); nothing for an article that came as a file.</summary>
    public static string ArticleHistory(IReadOnlyList<Articles.Intake.HistoryEntry> history)
    {
        if (history.Count == 0) return "";
        var items = string.Concat(history.Select(h =>
            $"<li>{E(Utc(h.At))}: {E(h.Action)} by {E(h.Actor)}{(string.IsNullOrEmpty(h.Detail) ? "" : $" ({E(h.Detail)})")}</li>"));
        return $"<section id=\"history\"><h2>History</h2><ul>{items}</ul></section>";
    }

    /// <summary>A delivery's state in the publisher's words, as a badge coloured by the stored state.</summary>
    public static string StateBadge(DeliveryState state) => Badge(state switch
    {
        DeliveryState.Pending => "waiting",
        DeliveryState.InFlight => "sending",
        DeliveryState.RetryWait => "to retry",
        _ => state.ToColumn(),
    }, state.ToColumn());

    public static string Summary(DeskCounts counts, int missed) => $"""
        <p class="counts">
        <a href="{Dashboard.OperationsPath}#deliveries" data-count="waiting"><strong>{counts.Waiting:N0}</strong> waiting to go out</a>
        <a href="{Dashboard.OperationsPath}#failed" data-count="failing"><strong>{counts.Failing:N0}</strong> failed</a>
        <span data-count="held"><strong>{counts.Held:N0}</strong> held</span>
        <span data-count="missed"><strong>{missed:N0}</strong> missed accounts below</span>
        </p>
        """;

    public static string SearchForm(string query) => $"""
        <section id="search"><form class="search" method="get" action="{Dashboard.Path}" role="search">
        <label for="q" class="muted small" style="align-self:center">Find</label>
        <input id="q" type="search" name="q" value="{E(query)}" placeholder="Title, slug or author" maxlength="200">
        <button type="submit">Search</button></form></section>
        """;

    public static string ArticleRows(IReadOnlyList<ArticleRow> rows, string query, DateTimeOffset now)
    {
        if (rows.Count == 0)
            return query.Length == 0 ? "<p class=\"muted\">No article imported yet.</p>"
                : $"<p class=\"muted\" data-found=\"0\">No article's title, slug or author contains “{E(query)}”.</p>";
        var sb = new StringBuilder("<table class=\"cards\"><thead><tr><th>Article</th><th>Feeds</th><th>Social networks</th><th>E-mail</th></tr></thead><tbody>");
        foreach (var row in rows)
        {
            var a = row.Article;
            sb.Append($"<tr data-article=\"{E(a.Slug)}\"><td><a href=\"{ArticleHref(a)}\">{E(a.Title)}</a>");
            if (row.HeldAt is not null) sb.Append(' ').Append(Badge("held"));
            sb.Append($"<div class=\"muted small\">{E(a.Slug)} · {E(a.Author.Name)} · {Time(a.PublishedAt, now)}</div></td>");
            sb.Append($"<td data-label=\"Feeds\" data-feeds>{(row.InCurrentFeed ? "in the current feeds" : "in the archive")}</td>");
            sb.Append("<td data-label=\"Social\"><div class=\"marks\">");
            var latest = row.Announcements.GroupBy(d => (d.Channel, d.Recipient.Id)).Select(g => g.MaxBy(d => d.Id)!).ToList();
            foreach (var d in latest)
                sb.Append($"<span class=\"mark\" data-account=\"{E(d.Recipient.Id)}\" data-state=\"{d.State.ToColumn()}\">{E(d.Recipient.Id)} {StateBadge(d.State)}</span>");
            foreach (var m in row.Missed)
                sb.Append($"<span class=\"mark\" data-account=\"{E(m.Account.Name)}\" data-state=\"missed\" title=\"{E(m.Explanation)}\">{E(m.Account.Name)} {Badge("missed")}</span>");
            if (latest.Count == 0 && row.Missed.Count == 0) sb.Append("<span class=\"muted small\">no account announces it</span>");
            sb.Append("</div></td>");
            var total = row.Digests.Values.Sum();
            sb.Append($"<td data-label=\"E-mail\" data-digests=\"{total}\">{(total == 0 ? "<span class=\"muted small\">in no digest yet</span>" : $"{row.Digests.GetValueOrDefault(DeliveryState.Sent):N0} of {total:N0} digest e-mail(s) sent")}</td></tr>");
        }
        sb.Append("</tbody></table>");
        return sb.ToString();
    }

    public static string ArticleHeader(Article article, DateTimeOffset? heldAt, DateTimeOffset now) => $"""
        <section id="article" data-article="{E(article.Slug)}"><h2>{E(article.Title)}{(heldAt is null ? "" : " " + Badge("held"))}</h2><dl>
        <dt>Slug</dt><dd>{E(article.Slug)}</dd>
        <dt>URL</dt><dd><a href="{E(article.CanonicalUrl)}">{E(article.CanonicalUrl)}</a></dd>
        <dt>Author</dt><dd>{E(article.Author.Name)}</dd>
        <dt>Tags</dt><dd>{E(article.Tags.Count == 0 ? "none" : string.Join(", ", article.Tags))}</dd>
        <dt>Published</dt><dd>{Time(article.PublishedAt, now)}</dd>
        <dt>Updated</dt><dd>{Time(article.UpdatedAt, now)}</dd>
        {(heldAt is { } h ? $"<dt>Held</dt><dd>since {Time(h, now)}: none of its announcements goes out</dd>" : "")}
        <dt>Id</dt><dd class="small muted">{E(article.Id)}</dd>
        </dl></section>
        """;

    /// <summary>The actions on an article's announcements, each a form that posts and comes back.</summary>
    public static string ArticleActions(Article article, DateTimeOffset? heldAt, IReadOnlyList<SocialAccount> accounts, string csrf)
    {
        var sb = new StringBuilder("<section id=\"actions\"><h2>Actions</h2>");
        string Form(string action, string label, string extra = "", string css = "") =>
            $"<form class=\"inline\" method=\"post\" action=\"{ArticleHref(article)}/{action}\"><input type=\"hidden\" name=\"{DashboardAccess.CsrfField}\" value=\"{E(csrf)}\">{extra}<button type=\"submit\"{css}>{E(label)}</button></form>";
        if (heldAt is not null)
        {
            sb.Append("<p class=\"small\">Held: announcing is off until you let it go.</p>");
            sb.Append(Form("unhold", "Let it go (unhold)"));
        }
        else if (accounts.Count == 0)
        {
            sb.Append($"<p class=\"muted small\">No enabled account announces this article: add a publication account, or one for {E(article.Author.Name)}, to Announcements:Accounts.</p>");
            sb.Append(Form("hold", "Hold", css: " class=\"quiet\""));
        }
        else
        {
            sb.Append(Form("announce", "Announce now"));
            var options = "<option value=\"\">on every account</option>" + string.Concat(accounts.Select(a => $"<option value=\"{E(a.Name)}\">on {E(a.Name)} ({a.Network})</option>"));
            sb.Append(Form("again", "Announce again", $"<label class=\"small\"><span class=\"muted\">Again </span><select name=\"account\" aria-label=\"Account to announce again on\">{options}</select></label> "));
            sb.Append(Form("hold", "Hold", css: " class=\"quiet\""));
            sb.Append("<p class=\"small muted\">Announce now sends what waits and posts on the accounts it missed; announce again makes a new post, recorded like the first; hold keeps every post of it back.</p>");
        }
        sb.Append("</section>");
        return sb.ToString();
    }

    public static string Missed(IReadOnlyList<MissedAnnouncement> missed)
    {
        if (missed.Count == 0) return "";
        var sb = new StringBuilder("<ul class=\"plain\" id=\"missed\">");
        foreach (var m in missed)
            sb.Append($"<li data-account=\"{E(m.Account.Name)}\" data-reason=\"{m.Reason}\">{Badge("missed")} {E(m.Explanation)} <span class=\"small muted\">Announce now posts it there.</span></li>");
        sb.Append("</ul>");
        return sb.ToString();
    }

    /// <summary>Each announcement: the account, its state, the text posted or to be posted, the live post, what went wrong and what to do, the attempts.</summary>
    public static string Announcements(IReadOnlyList<AnnouncementView> views, int missed, DateTimeOffset? heldAt, string csrf, string returnTo, DateTimeOffset now)
    {
        if (views.Count == 0)
            return missed > 0 ? "" : "<p class=\"muted\">No announcement was planned, and no enabled account announces this article.</p>";
        var sb = new StringBuilder();
        foreach (var v in views)
        {
            var d = v.Delivery;
            var again = d.Subject.Version.StartsWith("again-", StringComparison.Ordinal) ? $" <span class=\"small muted\">(announced again, {E(d.Subject.Version["again-".Length..])})</span>" : "";
            sb.Append($"<article class=\"channel\" data-delivery=\"{d.Id}\" data-channel=\"{E(d.Channel)}\" data-account=\"{E(d.Recipient.Id)}\" data-state=\"{d.State.ToColumn()}\">");
            sb.Append($"<h3>{E(FailureAdvice.Service(d.Channel))} · {E(d.Recipient.Id)} {StateBadge(d.State)}{again}</h3>");
            if (v.Account is null && d.State != DeliveryState.Sent)
                sb.Append($"<p class=\"small muted\">Account {E(d.Recipient.Id)} is no longer in Announcements:Accounts.</p>");
            if (LiveUrl(d) is { } live) sb.Append($"<p>Live post: <a href=\"{E(live)}\" rel=\"noopener noreferrer\" data-remote>{E(live)}</a> <span class=\"small muted\">sent {Time(d.SentAt, now)}</span></p>");
            if (v.Advice is not null)
                sb.Append($"<p class=\"advice{(d.State == DeliveryState.RetryWait ? " waiting" : "")}\" data-advice>{E(v.Advice)}</p><details open><summary>{E(FailureAdvice.Service(d.Channel))}'s own message</summary><div class=\"error\" data-error>{E(d.LastError)}</div></details>");
            if (d.State is DeliveryState.Pending or DeliveryState.RetryWait)
                sb.Append(heldAt is not null ? "<p class=\"small\">Waiting: held.</p>"
                    : $"<p class=\"small\" data-next>Next attempt: {Time(d.NextAttemptAt, now)}</p>");
            if (d.State is DeliveryState.Failed or DeliveryState.Unconfirmed) sb.Append(RetryForm(d.Id, csrf, returnTo));
            if (v.PostedText is not null)
                sb.Append($"<p class=\"small muted\">The text posted:</p><pre class=\"post\" data-posted>{E(v.PostedText)}</pre>");
            else if (v.PreviewText is not null)
                sb.Append($"<p class=\"small muted\">The text to be posted, as the announcer renders it now:</p><pre class=\"post\" data-preview>{E(v.PreviewText)}</pre>");
            else if (d.State == DeliveryState.Sent)
                sb.Append("<p class=\"small muted\">Sent before posts' texts were recorded.</p>");
            if (v.Attempts.Count > 0)
            {
                sb.Append($"<details><summary>{v.Attempts.Count} attempt(s)</summary><table class=\"cards\"><thead><tr><th class=\"num\">#</th><th>When</th><th>Outcome</th><th>Why</th></tr></thead><tbody>");
                foreach (var t in v.Attempts)
                    sb.Append($"<tr data-attempt=\"{t.Attempt}\"><td class=\"num\">{t.Attempt}</td><td class=\"small\">{Time(t.At, now)}</td><td>{Badge(t.Outcome.ToColumn(), t.Outcome switch { AttemptOutcome.Sent => "sent", AttemptOutcome.Retry => "retry-wait", AttemptOutcome.Deferred => "pending", _ => "failed" })}{(t.Status is { } st ? $" <span class=\"small muted\">HTTP {st}</span>" : "")}</td><td><div class=\"error\">{E(t.Error)}</div></td></tr>");
                sb.Append("</tbody></table></details>");
            }
            sb.Append("</article>");
        }
        return sb.ToString();
    }

    /// <summary>
    /// The live post: the address the network gave, else one made from its id (an X post's number, a Bluesky
    /// at:// record). Only http(s) addresses are links: they come from a remote service's answer.
    /// </summary>
    internal static string? LiveUrl(Delivery d)
    {
        if (IsWebUrl(d.RemoteUrl)) return d.RemoteUrl;
        if (d.State != DeliveryState.Sent || d.RemoteId is not { } id) return null;
        if (d.Channel == "x" && id.All(char.IsAsciiDigit)) return $"https://x.com/i/web/status/{id}";
        // at://did:plc:abc/app.bsky.feed.post/rkey
        var parts = id.StartsWith("at://", StringComparison.Ordinal) ? id["at://".Length..].Split('/') : [];
        if (d.Channel == "bluesky" && parts is [var did, "app.bsky.feed.post", var rkey] && did.StartsWith("did:", StringComparison.Ordinal))
            return $"https://bsky.app/profile/{Uri.EscapeDataString(did)}/post/{Uri.EscapeDataString(rkey)}";
        return null;
    }
}
