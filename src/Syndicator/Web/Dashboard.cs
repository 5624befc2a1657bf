using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Quartz.Extensibility;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Shared;

namespace Syndicator.Web;

/// <summary>
/// The publisher's desk under <c>/status</c>: the recent articles with their state on every channel and a search
/// (<c>/status</c>), one article's announcements with the text posted, the attempts, what went wrong and what to do,
/// and the actions (<c>/status/articles/{slug}</c>), and the operations page with jobs, schedules, nodes and the
/// outbox by channel (<c>/status/operations</c>). Guarded by <see cref="DashboardAccess"/>; every action is a POST
/// form with the CSRF token that answers 303 back to the page, so reading needs no script.
/// </summary>
public static class Dashboard
{
    public const string Path = "/status";
    public const string OperationsPath = Path + "/operations";

    /// <summary>What a person can do to an article's announcements, each a POST to <c>/status/articles/{slug}/{action}</c>.</summary>
    internal static readonly string[] ArticleActions = ["announce", "again", "hold", "unhold"];

    private const int FailedShown = 100;
    private const int ArticlesShown = 30;
    private const int RefusalsShown = 10;

    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<DashboardAccess>();
        services.AddTransient<DashboardData>();
    }

    public static void Map(WebApplication app)
    {
        // Middleware rather than an endpoint filter, so that every request under /status is checked, matched or not.
        app.UseWhen(c => c.Request.Path.StartsWithSegments(Path), branch => branch.Use((context, next) =>
        {
            // SecurityHeaders forbids framing and script on every page; what the dashboard shows must not be cached either.
            context.Response.Headers.CacheControl = "no-store";
            return context.RequestServices.GetRequiredService<DashboardAccess>().InvokeAsync(context, next);
        }));

        var group = app.MapGroup(Path);
        group.MapGet("", DeskAsync);
        group.MapGet("/operations", OperationsAsync);
        group.MapGet("/articles/{id}", ArticleAsync);
        group.MapPost("/deliveries/{id:long}/retry", RetryAsync);
        foreach (var action in ArticleActions)
            group.MapPost($"/articles/{{id}}/{action}", (string id, HttpRequest request, DashboardData data, DashboardAccess access, IOptions<SiteOptions> site, IServiceProvider services, CancellationToken ct) =>
                ArticleActionAsync(id, action, request, data, access, site, services, ct));
        DigestPages.Map(group);
    }

    /// <summary>The front page: counts of what waits and fails, a search, and the recent (or found) articles on every channel.</summary>
    private static async Task<IResult> DeskAsync(HttpContext context, DashboardData data, IOptions<SiteOptions> site, CancellationToken ct)
    {
        // The job-history chart used to live here: its old address goes on to the operations page.
        if (context.Request.Query.ContainsKey("runs")) return new SeeOther($"{OperationsPath}{context.Request.QueryString}");
        var query = context.Request.Query["q"].ToString().Trim();
        var counts = await data.TryAsync("the deliveries", data.DeskCountsAsync, ct);
        var found = await data.TryAsync("the articles", c => data.FindArticlesAsync(query, ArticlesShown, c), ct);
        var rows = found.Value is { } articles ? await data.TryAsync("the articles' channels", c => data.ArticleRowsAsync(articles, c), ct) : (null, found.Problem);
        var now = data.Now;

        var body = new StringBuilder();
        body.Append(Notice(context.Request));
        body.Append("<section id=\"summary\"><h2>At a glance</h2>");
        body.Append(counts.Problem is { } p1 ? Problem(p1) : DashboardPages.Summary(counts.Value!, rows.Value?.Sum(r => r.Missed.Count) ?? 0));
        body.Append("</section>");
        body.Append(DashboardPages.SearchForm(query));
        body.Append($"<section id=\"articles\"><h2>{(query.Length == 0 ? "Recent articles" : $"Articles matching “{DashboardPages.E(query)}”")}</h2>");
        body.Append(rows.Problem is { } p2 ? Problem(p2) : DashboardPages.ArticleRows(rows.Value!, query, now));
        body.Append("</section>");
        var refused = await data.TryAsync("the refused articles", c => data.IntakeRefusalsAsync(RefusalsShown, c), ct);
        body.Append(refused.Problem is { } p3 ? Problem(p3) : DashboardPages.IntakeRefusals(refused.Value!));
        return Html(DashboardPages.Layout("Articles", site.Value.Title, DashboardPages.Utc(now), body.ToString(), Path));
    }

    /// <summary>Jobs, their schedules and runs, the scheduler's node, and the outbox by channel and state with the failed deliveries.</summary>
    private static async Task<IResult> OperationsAsync(HttpContext context, DashboardData data, DashboardAccess access, IOptions<SiteOptions> site,
        ActivityPub.ActivityPubStatus fediverse, CancellationToken ct)
    {
        var daily = context.Request.Query["runs"] == "days";
        var historyKept = context.RequestServices.GetService<IExecutionHistoryStore>() is not null;

        var scheduler = await data.TryAsync("the scheduler", data.SchedulerAsync, ct);
        var jobs = await data.TryAsync("the jobs", data.JobsAsync, ct);
        var chart = await data.TryAsync("the job history", c => data.ChartAsync(daily ? TimeSpan.FromDays(14) : TimeSpan.FromHours(24), daily ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1), c), ct);
        var counts = await data.TryAsync("the deliveries", data.DeliveryCountsAsync, ct);
        var failed = await data.TryAsync("the failed deliveries", c => data.FailedAsync(FailedShown, c), ct);
        var followers = fediverse.Enabled ? await data.TryAsync("the fediverse followers", fediverse.FollowersAsync, ct) : default;
        var now = data.Now;

        var body = new StringBuilder();
        body.Append(Notice(context.Request));
        body.Append("<section id=\"scheduler\"><h2>Scheduler</h2>");
        body.Append(scheduler.Value is { } s
            ? $"<p>Scheduler {DashboardPages.E(s.Name)} {DashboardPages.Badge(s.State)} · node {DashboardPages.E(s.InstanceId)} · {DashboardPages.Utc(now)}</p>"
            : Problem(scheduler.Problem!));
        body.Append("</section>");

        body.Append("<section id=\"jobs\"><h2>Jobs</h2>");
        body.Append(jobs.Problem is { } p1 ? Problem(p1) : DashboardPages.Jobs(jobs.Value!, historyKept, now));
        body.Append("</section>");

        body.Append($"<section id=\"runs\"><h2>Job runs, {(daily ? "last 14 days, per day" : "last 24 hours, per hour")}</h2>");
        body.Append($"<p class=\"small\"><a href=\"{OperationsPath}\">per hour</a> · <a href=\"{OperationsPath}?runs=days\">per day</a></p>");
        body.Append(chart.Problem is { } p2 ? Problem(p2)
            : chart.Value is null ? "<p class=\"muted\">Job runs are not recorded: no job history store is registered with Quartz.</p>"
            : DashboardPages.Chart(chart.Value));
        body.Append("</section>");

        body.Append("<section id=\"deliveries\"><h2>Deliveries by channel and state</h2>");
        body.Append(counts.Problem is { } p3 ? Problem(p3) : DashboardPages.DeliveryCounts(counts.Value.Counts, counts.Value.Due));
        body.Append("</section>");

        body.Append("<section id=\"failed\"><h2>Failed deliveries</h2>");
        body.Append(failed.Problem is { } p4 ? Problem(p4) : DashboardPages.Failed(failed.Value.Failed, failed.Value.Names, failed.Value.Advice, access.CsrfToken, OperationsPath, now));
        if (failed.Value.Failed is { Count: FailedShown }) body.Append($"<p class=\"small muted\">The {FailedShown} most recent are shown; <code>syndicator deliveries list --state failed --limit 1000</code> lists more.</p>");
        body.Append("</section>");
        if (fediverse.Enabled)
            body.Append("<section id=\"followers\"><h2>Fediverse followers</h2>")
                .Append(followers.Problem is { } p5 ? Problem(p5) : DashboardPages.Followers(followers.Value!))
                .Append("</section>");
        return Html(DashboardPages.Layout("Operations", site.Value.Title, null, body.ToString(), OperationsPath));
    }

    private static async Task<IResult> ArticleAsync(string id, HttpContext context, DashboardData data, DashboardAccess access, IOptions<SiteOptions> site,
        ActivityPub.ActivityPubStatus fediverse, CancellationToken ct)
    {
        var article = await data.FindArticleAsync(id, ct);
        if (article is null)
            return Html(DashboardPages.Layout("Article not found", site.Value.Title, null,
                $"<section><h2>No article {DashboardPages.E(id)}</h2><p>There is no article with that slug or id. The <a href=\"{Path}\">front page</a> lists the recent ones and searches the rest.</p></section>", Path), 404);

        var now = data.Now;
        var here = DashboardPages.ArticleHref(article);
        var feeds = await data.TryAsync("the feeds", c => data.ArticleFeedsAsync(article, c), ct);
        var announcements = await data.TryAsync("the announcements", c => data.AnnouncementsAsync(article, c), ct);
        var missed = await data.TryAsync("the accounts it missed", c => data.MissedAsync(article, c), ct);
        var held = await data.TryAsync("the hold", c => data.HeldAtAsync(article, c), ct);
        var digests = await data.TryAsync("the digests", c => data.ArticleDigestsAsync(article.Id, c), ct);
        var history = await data.TryAsync("the article's history", c => data.ArticleHistoryAsync(article, c), ct);
        var activityPub = fediverse.Enabled ? await data.TryAsync("the fediverse", c => fediverse.ArticleAsync(article.Id, c), ct) : default;

        var body = new StringBuilder();
        body.Append(Notice(context.Request));
        body.Append(DashboardPages.ArticleHeader(article, held.Value, now));
        // What import dropped or changed (a bad image or comment URL, an unsafe body link): the publisher's to fix in the file.
        if (article.Warnings.Count > 0)
            body.Append("<section id=\"warnings\"><h2>Import warnings</h2><ul>")
                .AppendJoin("", article.Warnings.Select(w => $"<li class=\"error\">{DashboardPages.E(w)}</li>"))
                .Append("</ul><p class=\"small\">Fix the article's file and drop it in the inbox again.</p></section>");
        body.Append(DashboardPages.ArticleActions(article, held.Value, data.AccountsFor(article), access.CsrfToken));
        body.Append("<section id=\"networks\"><h2>Social networks</h2>");
        body.Append(missed.Problem is { } p0 ? Problem(p0) : DashboardPages.Missed(missed.Value!));
        body.Append(announcements.Problem is { } p1 ? Problem(p1) : DashboardPages.Announcements(announcements.Value!, missed.Value?.Count ?? 0, held.Value, access.CsrfToken, here, now));
        body.Append("</section><section id=\"feeds\"><h2>Feeds</h2>");
        body.Append(feeds.Problem is { } p2 ? Problem(p2) : DashboardPages.ArticleFeeds(feeds.Value!));
        body.Append("</section><section id=\"email\"><h2>E-mail</h2>");
        body.Append(digests.Problem is { } p3 ? Problem(p3) : DashboardPages.ArticleEmail(digests.Value!));
        body.Append("</section>");
        if (fediverse.Enabled)
            body.Append("<section id=\"fediverse\"><h2>Fediverse (ActivityPub)</h2>")
                .Append(activityPub.Problem is { } p5 ? Problem(p5) : DashboardPages.ArticleFediverse(activityPub.Value!))
                .Append("</section>");
        body.Append(history.Problem is { } p4 ? Problem(p4) : DashboardPages.ArticleHistory(history.Value!));
        return Html(DashboardPages.Layout(article.Title, site.Value.Title, $"<a href=\"{Path}\">← Articles</a>", body.ToString(), Path));
    }

    private static async Task<IResult> RetryAsync(long id, HttpRequest request, RetryDelivery retry, DashboardAccess access, IOptions<SiteOptions> site, CancellationToken ct)
    {
        var form = request.HasFormContentType ? await request.ReadFormAsync(ct) : FormCollection.Empty;
        if (access.CheckForm(request, form) is { } refusal)
            return Html(DashboardPages.Layout("Not retried", site.Value.Title, null,
                $"<section><h2>Delivery {id} was not retried</h2><p>{DashboardPages.E(refusal)}</p><p><a href=\"{Path}\">Back to the front page</a></p></section>", Path), 403);

        var (result, _) = await retry.RunAsync(id, ct);
        // 303: the browser follows with a GET, so reloading the page it lands on does not post again.
        return Back(form, $"{(result == RetryResult.Retried ? "retried" : "unchanged")}={id.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Announce now, announce again (on one account or all), hold and unhold: the same services as the CLI's.</summary>
    private static async Task<IResult> ArticleActionAsync(string id, string action, HttpRequest request, DashboardData data, DashboardAccess access, IOptions<SiteOptions> site,
        IServiceProvider services, CancellationToken ct)
    {
        var form = request.HasFormContentType ? await request.ReadFormAsync(ct) : FormCollection.Empty;
        if (access.CheckForm(request, form) is { } refusal)
            return Html(DashboardPages.Layout("Not done", site.Value.Title, null,
                $"<section><h2>Nothing was done</h2><p>{DashboardPages.E(refusal)}</p><p><a href=\"{Path}\">Back to the front page</a></p></section>", Path), 403);
        var article = await data.FindArticleAsync(id, ct);
        if (article is null)
            return Html(DashboardPages.Layout("Article not found", site.Value.Title, null,
                $"<section><h2>No article {DashboardPages.E(id)}</h2><p>Nothing was done. The <a href=\"{Path}\">front page</a> lists the articles.</p></section>", Path), 404);

        string notice;
        switch (action)
        {
            case "hold":
                var holds = services.GetRequiredService<HoldAnnouncements>();
                notice = await holds.HoldAsync(article, ct) ? "held" : "held-already";
                break;
            case "unhold":
                notice = await services.GetRequiredService<HoldAnnouncements>().UnholdAsync(article, ct) ? "unheld" : "unheld-already";
                break;
            default:
                var account = form["account"].ToString();
                var result = action == "again"
                    ? await services.GetRequiredService<AnnounceAgain>().RunAsync(article, account.Length == 0 ? null : account, ct)
                    : await services.GetRequiredService<AnnounceNow>().RunAsync(article, ct);
                // The outcome is on the page the browser lands on; a refusal is said there as it was given.
                notice = result.Refusal is not null ? "refused" : action == "again" ? "again" : "announced";
                if (result.Refusal is not null) return Html(DashboardPages.Layout("Not announced", site.Value.Title, null,
                    $"<section id=\"refusal\"><h2>“{DashboardPages.E(article.Title)}” was not announced</h2><p class=\"error\">{DashboardPages.E(result.Refusal)}</p><p><a href=\"{DashboardPages.ArticleHref(article)}\">Back to the article</a></p></section>", Path), 409);
                break;
        }
        return new SeeOther($"{DashboardPages.ArticleHref(article)}?done={notice}");
    }

    private static SeeOther Back(IFormCollection form, string query)
    {
        var back = LocalReturn(form["return"].ToString());
        var separator = back.Contains('?') ? '&' : '?';
        return new SeeOther($"{back}{separator}{query}");
    }

    /// <summary>Where to go after a POST: a path under /status given by the form, never another site.</summary>
    internal static string LocalReturn(string? value) =>
        value is not null && value.StartsWith(Path, StringComparison.Ordinal) && !value.Contains("//", StringComparison.Ordinal) && !value.Contains('\\')
            && (value.Length == Path.Length || value[Path.Length] is '/' or '?')
            ? value
            : Path;

    private static string Notice(HttpRequest request)
    {
        if (long.TryParse(request.Query["retried"], out var retried))
            return $"<p class=\"notice\" role=\"status\">Delivery {retried} is pending again; its channel's next run sends it.</p>";
        if (long.TryParse(request.Query["unchanged"], out var unchanged))
            return $"<p class=\"notice warn\" role=\"status\">Delivery {unchanged} was not failed (any more), so nothing changed.</p>";
        return request.Query["done"].ToString() switch
        {
            "held" => "<p class=\"notice\" role=\"status\">Held: none of its announcements goes out until you let it go.</p>",
            "held-already" => "<p class=\"notice warn\" role=\"status\">It was held already; nothing changed.</p>",
            "unheld" => "<p class=\"notice\" role=\"status\">No longer held: what is due goes out on the next run.</p>",
            "unheld-already" => "<p class=\"notice warn\" role=\"status\">It was not held; nothing changed.</p>",
            "announced" => "<p class=\"notice\" role=\"status\">Announced now: each account's outcome is below.</p>",
            "again" => "<p class=\"notice\" role=\"status\">Announced again: the new posts and their outcome are below.</p>",
            _ => "",
        };
    }

    private static string Problem(string message) => $"<p class=\"notice warn\">{DashboardPages.E(message)}</p>";

    private static IResult Html(string html, int status = StatusCodes.Status200OK) =>
        Results.Content(html, "text/html; charset=utf-8", statusCode: status);

    private sealed class SeeOther(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
            httpContext.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }
}
