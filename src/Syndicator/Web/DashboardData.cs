using System.Data.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quartz;
using Quartz.Extensibility;
using Dapper;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Feeds;
using Syndicator.Scheduling;

namespace Syndicator.Web;

public sealed record SchedulerView(string Name, string State, string? InstanceId);

/// <summary>Runs per bucket of fire time, for the chart; null when no job history is recorded.</summary>
public sealed record RunChart(TimeSpan BucketSize, DateTimeOffset From, int Slots, IReadOnlyList<ExecutionStatisticsBucket> Buckets);

/// <summary>
/// One article on the front page: its announcements (every delivery, oldest first), the accounts it missed and why,
/// whether it is in the site's current feed, the digest e-mails that carry it by state, and since when it is held.
/// </summary>
public sealed record ArticleRow(
    Article Article,
    IReadOnlyList<Delivery> Announcements,
    IReadOnlyList<MissedAnnouncement> Missed,
    bool InCurrentFeed,
    IReadOnlyDictionary<DeliveryState, long> Digests,
    DateTimeOffset? HeldAt);

/// <summary>
/// One announcement on an article's page: the delivery, its account (null when no longer configured), its attempts,
/// the text it posted (from the attempt that sent it) or, while it has not gone out, the text the composer renders now,
/// the advice for its failure, and its recipient's name.
/// </summary>
public sealed record AnnouncementView(
    Delivery Delivery,
    SocialAccount? Account,
    IReadOnlyList<DeliveryAttemptRecord> Attempts,
    string? PostedText,
    string? PreviewText,
    string? Advice);

/// <summary>The front page's counts: deliveries waiting (pending, in flight, to retry) and failing (failed, unconfirmed), articles held.</summary>
public sealed record DeskCounts(long Waiting, long Failing, int Held);

/// <summary>A feed an article appears in: the current feed and/or one archive page.</summary>
public sealed record ArticleFeed(FeedScope Scope, string Label, bool InCurrentFeed, int? ArchivePage, IReadOnlyList<(string Format, string Url)> Links);

/// <summary>
/// What the dashboard reads. Every source may be missing or failing (no job history registered, the scheduler not
/// started, the database down): each section then says so instead of the page failing whole.
/// </summary>
public sealed class DashboardData(
    IServiceProvider services,
    ISchedulerFactory schedulers,
    DeliveryStore deliveries,
    DeliveryDirectory directory,
    Digests.DigestNamer digests,
    ArticleStore articles,
    FeedStore feeds,
    FeedLinks links,
    StatusReader status,
    AnnouncementPlanner planner,
    MissedAnnouncements missed,
    PostComposer composer,
    IOptions<AnnouncementOptions> announcements,
    Storage.Database database,
    Articles.Intake.ArticleIntake intake,
    TimeProvider time,
    ILogger<DashboardData> logger)
{
    /// <summary>Articles refused over HTTP (API, Ghost, pull sources), newest first.</summary>
    public Task<IReadOnlyList<Articles.Intake.IntakeRefusal>> IntakeRefusalsAsync(int limit, CancellationToken cancellationToken) =>
        intake.RecentRefusalsAsync(limit, cancellationToken);

    /// <summary>What every intake did to the article: who sent it, when, and what came of it.</summary>
    public Task<IReadOnlyList<Articles.Intake.HistoryEntry>> ArticleHistoryAsync(Article article, CancellationToken cancellationToken) =>
        intake.HistoryAsync(article.Id, cancellationToken);

    /// <summary>The job history (the <c>job_runs</c> table, through the store registered for Quartz), or null when none is.</summary>
    private IExecutionHistoryStore? History => services.GetService<IExecutionHistoryStore>();

    public DateTimeOffset Now => time.GetUtcNow();

    public async Task<SchedulerView> SchedulerAsync(CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var status = await scheduler.GetStatus(cancellationToken);
        var state = status switch
        {
            SchedulerStatus.Running => "running",
            SchedulerStatus.Standby => "standby",
            SchedulerStatus.Created => "not started",
            SchedulerStatus.ShuttingDown or SchedulerStatus.Shutdown => "shut down",
            _ => status.ToString(),
        };
        return new SchedulerView(scheduler.SchedulerName, state, await scheduler.GetSchedulerInstanceId(cancellationToken));
    }

    /// <summary>The jobs as <c>syndicator status</c> shows them: one computation for both, in <see cref="StatusReader"/>.</summary>
    public Task<IReadOnlyList<JobState>> JobsAsync(CancellationToken cancellationToken) => status.JobsAsync(cancellationToken);

    /// <summary>Runs over the last <paramref name="span"/> in buckets of <paramref name="bucket"/>; null when no job history is kept.</summary>
    public async Task<RunChart?> ChartAsync(TimeSpan span, TimeSpan bucket, CancellationToken cancellationToken)
    {
        if (History is not { } history) return null;
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        // Buckets start on whole multiples of their size, so the window does too: the first bar is a full hour (or day).
        var end = Floor(Now, bucket) + bucket;
        var from = end - span;
        var statistics = await history.QueryExecutionStatistics(new ExecutionStatisticsQuery
        {
            SchedulerName = scheduler.SchedulerName,
            FiredFrom = from,
            BucketSize = bucket,
        }, cancellationToken);
        return new RunChart(bucket, from, (int)(span / bucket), statistics.Buckets);
    }

    /// <summary>Delivery counts by channel and state, and each channel's due queue.</summary>
    public async Task<(IReadOnlyList<DeliveryCount> Counts, IReadOnlyDictionary<string, long> Due)> DeliveryCountsAsync(CancellationToken cancellationToken) =>
        (await deliveries.CountByChannelAndStateAsync(cancellationToken), await deliveries.CountDueByChannelAsync(cancellationToken));

    /// <summary>The most recently failed and unconfirmed deliveries, named as the publisher knows their subjects and recipients.</summary>
    public async Task<(IReadOnlyList<Delivery> Failed, DeliveryNames Names, IReadOnlyDictionary<long, string> Advice)> FailedAsync(int limit, CancellationToken cancellationToken)
    {
        var failed = (await deliveries.ListAsync(DeliveryState.Unconfirmed, null, null, limit, cancellationToken))
            .Concat(await deliveries.ListAsync(DeliveryState.Failed, null, null, limit, cancellationToken))
            .OrderByDescending(d => d.UpdatedAt).Take(limit).ToList();
        var names = await directory.NameAsync(failed, cancellationToken);
        var last = (await deliveries.AttemptsAsync(failed.Select(d => d.Id).ToList(), cancellationToken)).GroupBy(a => a.DeliveryId).ToDictionary(g => g.Key, g => g.Last());
        var advice = new Dictionary<long, string>();
        foreach (var d in failed)
            if (FailureAdvice.For(d, names.Of(d.Recipient), last.GetValueOrDefault(d.Id)) is { } text) advice[d.Id] = text;
        return (failed, names, advice);
    }

    public Task<IReadOnlyList<Delivery>> ArticleDeliveriesAsync(string id, CancellationToken cancellationToken) =>
        deliveries.ListForSubjectAsync(DeliverySubject.Article(id), cancellationToken);

    public Task<IReadOnlyDictionary<DeliveryState, long>> ArticleDigestsAsync(string id, CancellationToken cancellationToken) =>
        digests.CountDigestsWithArticleAsync(id, cancellationToken);

    /// <summary>
    /// The feeds that hold <paramref name="article"/>: the site's, its author's and each tag's, and where in each it
    /// sits, by the builder's paging: archive page p holds positions [(p−1)·N, p·N) oldest first, complete pages only;
    /// the current feed holds the newest N.
    /// </summary>
    public async Task<IReadOnlyList<ArticleFeed>> ArticleFeedsAsync(Article article, CancellationToken cancellationToken)
    {
        var perFeed = links.Options.ItemsPerFeed;
        await using DbConnection connection = await feeds.OpenAsync(cancellationToken);
        var scopes = (await feeds.ScopesOfAsync(connection, article, cancellationToken))
            .Select(s => (Scope: s, Label: s.Kind switch { FeedKind.Site => "Site", FeedKind.Author => $"Author: {s.Name}", _ => $"Tag: {s.Name}" }))
            .OrderBy(s => s.Scope.Kind).ThenBy(s => s.Scope.Kind == FeedKind.Tag ? s.Scope.Name : "", StringComparer.OrdinalIgnoreCase).ToList();
        var result = new List<ArticleFeed>();
        foreach (var (scope, label) in scopes)
        {
            var total = await feeds.CountAsync(connection, scope, cancellationToken);
            // Articles published at the same instant are ordered by id, as the builder orders them: count those before this one.
            var earlier = await feeds.CountBeforeAsync(connection, scope, article.PublishedAt, cancellationToken);
            var sameInstant = await feeds.OldestFirstAsync(connection, scope, earlier, 100, cancellationToken);
            var before = earlier + sameInstant.TakeWhile(a => a.Id != article.Id).Count();
            var page = before / perFeed + 1;
            int? archivePage = page <= total / perFeed ? page : null;
            var inCurrent = before >= total - perFeed;
            result.Add(new ArticleFeed(scope, label, inCurrent, archivePage,
            [
                ("RSS", links.Url(scope, null, FeedPaths.Rss)),
                ("Atom", links.Url(scope, null, FeedPaths.Atom)),
                ("JSON Feed", links.Url(scope, null, FeedPaths.Json)),
                .. archivePage is { } p ? new[] { ($"archive page {p} (RSS)", links.Url(scope, p, FeedPaths.Rss)) } : [],
            ]));
        }
        return result;
    }

    /// <summary>
    /// The newest articles, or with <paramref name="query"/> those whose title, slug or author's name contains it
    /// (ASCII letters in any case; other scripts as written).
    /// </summary>
    public async Task<IReadOnlyList<Article>> FindArticlesAsync(string? query, int limit, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(query)) return await articles.ListAsync(limit, cancellationToken);
        var pattern = "%" + query.Trim().ToLowerInvariant().Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%";
        await using var connection = await database.OpenAsync(cancellationToken);
        var ids = await connection.QueryAsync<string>(new CommandDefinition("""
            SELECT a.id FROM articles a JOIN authors au ON au.id = a.author_id
            WHERE lower(a.title) LIKE @pattern ESCAPE '\' OR lower(a.slug) LIKE @pattern ESCAPE '\' OR lower(au.name) LIKE @pattern ESCAPE '\'
            ORDER BY a.published_at DESC, a.id DESC
            LIMIT @limit
            """, new { pattern, limit }, cancellationToken: cancellationToken));
        var found = new List<Article>();
        foreach (var id in ids)
            if (await articles.FindByIdAsync(id, cancellationToken) is { } article) found.Add(article);
        return found;
    }

    /// <summary>Each article's state on every channel, for the front page: one query for all their announcements and holds.</summary>
    public async Task<IReadOnlyList<ArticleRow>> ArticleRowsAsync(IReadOnlyList<Article> shown, CancellationToken cancellationToken)
    {
        var ids = shown.Select(a => a.Id).ToList();
        var all = await deliveries.ListForSubjectsAsync(SubjectKind.Article, ids, cancellationToken);
        var held = await deliveries.HeldAsync(SubjectKind.Article, ids, cancellationToken);
        var missing = await missed.OfAsync(shown, cancellationToken);
        var perFeed = links.Options.ItemsPerFeed;
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = new List<ArticleRow>();
        foreach (var article in shown)
        {
            // The site feed holds the newest ItemsPerFeed articles, ordered by publication time and then id, as the builder orders them.
            var newer = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT COUNT(*) FROM articles WHERE published_at > @at OR (published_at = @at AND id > @id)",
                new { at = article.PublishedAt, id = article.Id }, cancellationToken: cancellationToken));
            rows.Add(new ArticleRow(article, all.Where(d => d.Subject.Id == article.Id).ToList(), missing.Where(m => m.Article.Id == article.Id).ToList(),
                newer < perFeed, await digests.CountDigestsWithArticleAsync(article.Id, cancellationToken),
                held.TryGetValue(article.Id, out var at) ? at : null));
        }
        return rows;
    }

    public async Task<DeskCounts> DeskCountsAsync(CancellationToken cancellationToken)
    {
        var counts = await deliveries.CountByChannelAndStateAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        var held = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT COUNT(*) FROM delivery_holds WHERE subject_kind = 'article'", cancellationToken: cancellationToken));
        return new DeskCounts(
            counts.Where(c => c.State is DeliveryState.Pending or DeliveryState.InFlight or DeliveryState.RetryWait).Sum(c => c.Count),
            counts.Where(c => c.State is DeliveryState.Failed or DeliveryState.Unconfirmed).Sum(c => c.Count),
            held);
    }

    /// <summary>The article by slug, else by id: what a person types in the address bar, or what a link carries.</summary>
    public Task<Article?> FindArticleAsync(string slugOrId, CancellationToken cancellationToken) => articles.FindBySlugOrIdAsync(slugOrId, cancellationToken);

    /// <summary>
    /// Every announcement of the article with its attempts, the text posted (as the attempt that sent it recorded it)
    /// or the text to be posted, rendered now by the announcer's composer, and the advice for its failure.
    /// </summary>
    public async Task<IReadOnlyList<AnnouncementView>> AnnouncementsAsync(Article article, CancellationToken cancellationToken)
    {
        var list = await deliveries.ListForSubjectAsync(DeliverySubject.Article(article.Id), cancellationToken);
        var attempts = (await deliveries.AttemptsAsync(list.Select(d => d.Id).ToList(), cancellationToken)).ToLookup(a => a.DeliveryId);
        var names = await directory.NameAsync(list, cancellationToken);
        return list.Select(d =>
        {
            var account = announcements.Value.Accounts.FirstOrDefault(a => a.Name == d.Recipient.Id && AnnouncementPlanner.Channel(a.Network) == d.Channel);
            var tried = attempts[d.Id].ToList();
            var posted = tried.LastOrDefault(a => a.Outcome == AttemptOutcome.Sent)?.Message;
            var preview = d.State != DeliveryState.Sent && account is not null ? Preview(article, account) : null;
            return new AnnouncementView(d, account, tried, posted, preview, FailureAdvice.For(d, names.Of(d.Recipient), tried.LastOrDefault()));
        }).ToList();
    }

    /// <summary>The accounts the article belongs to, enabled: the choices for announce again.</summary>
    public IReadOnlyList<SocialAccount> AccountsFor(Article article) => planner.AccountsFor(article).ToList();

    public Task<IReadOnlyList<MissedAnnouncement>> MissedAsync(Article article, CancellationToken cancellationToken) => missed.OfAsync([article], cancellationToken);

    public async Task<DateTimeOffset?> HeldAtAsync(Article article, CancellationToken cancellationToken) =>
        (await deliveries.HeldAsync(SubjectKind.Article, [article.Id], cancellationToken)).TryGetValue(article.Id, out var at) ? at : null;

    /// <summary>The text the announcer would post now; a template that fails to render says so instead.</summary>
    private string Preview(Article article, SocialAccount account)
    {
        try
        {
            return composer.Compose(article, account, "preview").Text;
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "The {Network} post of article {ArticleId} could not be composed for the dashboard", account.Network, article.Id);
            return $"(The post could not be composed: {e.Message})";
        }
    }

    internal static DateTimeOffset Floor(DateTimeOffset value, TimeSpan size) =>
        new(value.UtcTicks - value.UtcTicks % size.Ticks, TimeSpan.Zero);

    /// <summary>Runs <paramref name="read"/>; a failure becomes the message shown in place of its section, and is logged.</summary>
    public async Task<(T? Value, string? Problem)> TryAsync<T>(string what, Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        try
        {
            return (await read(cancellationToken), null);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "The status page could not read {What}", what);
            return (default, $"Could not read {what}: {e.GetType().Name}: {e.Message}");
        }
    }
}
