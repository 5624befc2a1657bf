using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Quartz.Extensibility;
using Syndicator.Deliveries;
using Syndicator.Shared;

namespace Syndicator.Web;

/// <summary>
/// <c>/status</c>: what the service is doing (jobs, their runs, deliveries by channel and state), the failed
/// deliveries with a Retry button, and <c>/status/articles/{id}</c>: where one article went. Guarded by
/// <see cref="DashboardAccess"/>.
/// </summary>
public static class Dashboard
{
    public const string Path = "/status";

    private const int FailedShown = 100;
    private const int ArticlesShown = 15;

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
        group.MapGet("", OverviewAsync);
        group.MapGet("/articles/{id}", ArticleAsync);
        group.MapPost("/deliveries/{id:long}/retry", RetryAsync);
        DigestPages.Map(group);
    }

    private static async Task<IResult> OverviewAsync(HttpContext context, DashboardData data, DashboardAccess access, IOptions<SiteOptions> site, CancellationToken ct)
    {
        var daily = context.Request.Query["runs"] == "days";
        var historyKept = context.RequestServices.GetService<IExecutionHistoryStore>() is not null;

        var scheduler = await data.TryAsync("the scheduler", data.SchedulerAsync, ct);
        var jobs = await data.TryAsync("the jobs", data.JobsAsync, ct);
        var chart = await data.TryAsync("the job history", c => data.ChartAsync(daily ? TimeSpan.FromDays(14) : TimeSpan.FromHours(24), daily ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1), c), ct);
        var counts = await data.TryAsync("the deliveries", data.DeliveryCountsAsync, ct);
        var failed = await data.TryAsync("the failed deliveries", c => data.FailedAsync(FailedShown, c), ct);
        var articles = await data.TryAsync("the articles", c => data.RecentArticlesAsync(ArticlesShown, c), ct);
        var now = data.Now;

        var body = new System.Text.StringBuilder();
        body.Append(Notice(context.Request));

        body.Append("<section id=\"jobs\"><h2>Jobs</h2>");
        body.Append(jobs.Problem is { } p1 ? Problem(p1) : DashboardPages.Jobs(jobs.Value!, historyKept, now));
        body.Append("</section>");

        body.Append($"<section id=\"runs\"><h2>Job runs, {(daily ? "last 14 days, per day" : "last 24 hours, per hour")}</h2>");
        body.Append($"<p class=\"small\"><a href=\"{Path}\">per hour</a> · <a href=\"{Path}?runs=days\">per day</a></p>");
        body.Append(chart.Problem is { } p2 ? Problem(p2)
            : chart.Value is null ? "<p class=\"muted\">Job runs are not recorded: no job history store is registered with Quartz.</p>"
            : DashboardPages.Chart(chart.Value));
        body.Append("</section>");

        body.Append("<section id=\"deliveries\"><h2>Deliveries by channel and state</h2>");
        body.Append(counts.Problem is { } p3 ? Problem(p3) : DashboardPages.DeliveryCounts(counts.Value.Counts, counts.Value.Due));
        body.Append("</section>");

        body.Append($"<section id=\"failed\"><h2>Failed deliveries</h2>");
        body.Append(failed.Problem is { } p4 ? Problem(p4) : DashboardPages.Failed(failed.Value.Failed, failed.Value.Names, access.CsrfToken, Path, now));
        if (failed.Value.Failed is { Count: FailedShown }) body.Append($"<p class=\"small muted\">The {FailedShown} most recent are shown; <code>syndicator deliveries list --state failed --limit 1000</code> lists more.</p>");
        body.Append("</section>");

        body.Append("<section id=\"articles\"><h2>Recent articles</h2>");
        body.Append(articles.Problem is { } p5 ? Problem(p5) : DashboardPages.RecentArticles(articles.Value!, now));
        body.Append("</section>");

        var subtitle = scheduler.Value is { } s
            ? $"Scheduler {DashboardPages.E(s.Name)} {DashboardPages.Badge(s.State)} · node {DashboardPages.E(s.InstanceId)} · {DashboardPages.Utc(now)}"
            : DashboardPages.E(scheduler.Problem);
        return Html(DashboardPages.Layout("Status", site.Value.Title, subtitle, body.ToString()));
    }

    private static async Task<IResult> ArticleAsync(string id, HttpContext context, DashboardData data, DashboardAccess access, IOptions<SiteOptions> site, CancellationToken ct)
    {
        var article = await data.ArticleAsync(id, ct);
        if (article is null)
            return Html(DashboardPages.Layout("Article not found", site.Value.Title, null,
                $"<section><h2>No article {DashboardPages.E(id)}</h2><p>There is no article with that id. The <a href=\"{Path}\">status page</a> links the recent ones.</p></section>"), 404);

        var now = data.Now;
        var here = DashboardPages.ArticleHref(article.Id);
        var feeds = await data.TryAsync("the feeds", c => data.ArticleFeedsAsync(article, c), ct);
        var deliveries = await data.TryAsync("the deliveries", c => data.ArticleDeliveriesAsync(article.Id, c), ct);
        var digests = await data.TryAsync("the digests", c => data.ArticleDigestsAsync(article.Id, c), ct);

        var body = new System.Text.StringBuilder();
        body.Append(Notice(context.Request));
        body.Append($"""
            <section id="article" data-article="{DashboardPages.E(article.Id)}"><h2>{DashboardPages.E(article.Title)}</h2><dl>
            <dt>Id</dt><dd>{DashboardPages.E(article.Id)}</dd>
            <dt>URL</dt><dd><a href="{DashboardPages.E(article.CanonicalUrl)}">{DashboardPages.E(article.CanonicalUrl)}</a></dd>
            <dt>Author</dt><dd>{DashboardPages.E(article.Author.Name)}</dd>
            <dt>Tags</dt><dd>{DashboardPages.E(article.Tags.Count == 0 ? "none" : string.Join(", ", article.Tags))}</dd>
            <dt>Published</dt><dd>{DashboardPages.Time(article.PublishedAt, now)}</dd>
            <dt>Updated</dt><dd>{DashboardPages.Time(article.UpdatedAt, now)}</dd>
            </dl></section>
            """);
        // What import dropped or changed (a bad image or comment URL, an unsafe body link): the publisher's to fix in the file.
        if (article.Warnings.Count > 0)
            body.Append("<section id=\"warnings\"><h2>Import warnings</h2><ul>")
                .AppendJoin("", article.Warnings.Select(w => $"<li class=\"error\">{DashboardPages.E(w)}</li>"))
                .Append("</ul><p class=\"small\">Fix the article's file and drop it in the inbox again.</p></section>");
        body.Append("<section id=\"feeds\"><h2>Feeds</h2>");
        body.Append(feeds.Problem is { } p1 ? Problem(p1) : DashboardPages.ArticleFeeds(feeds.Value!));
        body.Append("</section><section id=\"networks\"><h2>Social networks</h2>");
        body.Append(deliveries.Problem is { } p2 ? Problem(p2) : DashboardPages.ArticleDeliveries(deliveries.Value!, access.CsrfToken, here, now));
        body.Append("</section><section id=\"email\"><h2>E-mail</h2>");
        body.Append(digests.Problem is { } p3 ? Problem(p3) : DashboardPages.ArticleEmail(digests.Value!));
        body.Append("</section>");
        return Html(DashboardPages.Layout(article.Title, site.Value.Title, $"<a href=\"{Path}\">← Status</a>", body.ToString()));
    }

    private static async Task<IResult> RetryAsync(long id, HttpRequest request, DeliveryStore deliveries, DashboardAccess access, IOptions<SiteOptions> site, CancellationToken ct)
    {
        var form = request.HasFormContentType ? await request.ReadFormAsync(ct) : FormCollection.Empty;
        if (access.CheckForm(request, form) is { } refusal)
            return Html(DashboardPages.Layout("Not retried", site.Value.Title, null,
                $"<section><h2>Delivery {id} was not retried</h2><p>{DashboardPages.E(refusal)}</p><p><a href=\"{Path}\">Back to the status page</a></p></section>"), 403);

        var retried = await deliveries.RetryAsync(id, ct);
        var back = LocalReturn(form["return"].ToString());
        var separator = back.Contains('?') ? '&' : '?';
        // 303: the browser follows with a GET, so reloading the page it lands on does not post again.
        return new SeeOther($"{back}{separator}{(retried ? "retried" : "unchanged")}={id.ToString(CultureInfo.InvariantCulture)}");
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
        return "";
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
