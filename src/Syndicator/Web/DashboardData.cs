using System.Data.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quartz;
using Quartz.Extensibility;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Feeds;
using Syndicator.Scheduling;

namespace Syndicator.Web;

public sealed record SchedulerView(string Name, string State, string? InstanceId);

/// <summary>Runs per bucket of fire time, for the chart; null when no job history is recorded.</summary>
public sealed record RunChart(TimeSpan BucketSize, DateTimeOffset From, int Slots, IReadOnlyList<ExecutionStatisticsBucket> Buckets);

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
    TimeProvider time,
    ILogger<DashboardData> logger)
{
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
    public async Task<(IReadOnlyList<Delivery> Failed, DeliveryNames Names)> FailedAsync(int limit, CancellationToken cancellationToken)
    {
        var failed = (await deliveries.ListAsync(DeliveryState.Unconfirmed, null, null, limit, cancellationToken))
            .Concat(await deliveries.ListAsync(DeliveryState.Failed, null, null, limit, cancellationToken))
            .OrderByDescending(d => d.UpdatedAt).Take(limit).ToList();
        return (failed, await directory.NameAsync(failed, cancellationToken));
    }

    public Task<IReadOnlyList<Article>> RecentArticlesAsync(int limit, CancellationToken cancellationToken) =>
        articles.ListAsync(limit, cancellationToken);

    public Task<Article?> ArticleAsync(string id, CancellationToken cancellationToken) => articles.FindByIdAsync(id, cancellationToken);

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
