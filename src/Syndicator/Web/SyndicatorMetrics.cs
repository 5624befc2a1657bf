using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Quartz;
using Syndicator.Deliveries;
using Syndicator.Scheduling;

namespace Syndicator.Web;

/// <summary>
/// <c>/metrics</c> in Prometheus text format. Delivery numbers are read from the database at each scrape, so every
/// node of a cluster reports the same (shared) outbox and a restart loses nothing; job timings are measured by a
/// Quartz job listener, so each node reports the runs it executed itself.
/// </summary>
/// <remarks>
/// Feed build failures are read from <c>feed_build_failures</c> at each scrape, like the outbox. Each app has its own registry rather than prometheus-net's static default, so two apps in one process (the tests)
/// do not report each other's numbers.
/// </remarks>
public sealed class SyndicatorMetrics
{
    public const string Path = "/metrics";

    private static readonly string[] States = Enum.GetValues<DeliveryState>().Select(s => s.ToColumn()).ToArray();

    private readonly IServiceProvider services;
    private readonly ILogger<SyndicatorMetrics> logger;
    private readonly Gauge byState;
    private readonly Gauge due;
    private readonly Counter sent;
    private readonly Gauge databaseUp;
    private readonly Gauge scopesFailing;
    private readonly Gauge itemsLeftOut;
    private readonly Gauge scopeFailures;
    private readonly HashSet<string> failingScopesSeen = new(StringComparer.Ordinal);
    private readonly HashSet<string> channelsSeen = new(StringComparer.Ordinal);

    /// <remarks>
    /// The outbox is resolved at the first scrape, not here: the registry is needed while the app is built, when a bad
    /// Storage section must still reach the configuration report rather than throw from the database's factory.
    /// </remarks>
    public SyndicatorMetrics(IServiceProvider services, ILogger<SyndicatorMetrics> logger)
    {
        this.services = services;
        this.logger = logger;
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);

        byState = factory.CreateGauge("syndicator_deliveries", "Deliveries in the outbox, by channel and state.", ["channel", "state"]);
        due = factory.CreateGauge("syndicator_deliveries_due", "Queue depth: deliveries whose channel's next run would claim them (pending or retry-wait and due, or in-flight with an expired lease).", ["channel"]);
        sent = factory.CreateCounter("syndicator_deliveries_sent_total", "Deliveries sent so far, by channel, counted from the outbox; rate(...{channel=\"email\"}) is e-mails per second.", ["channel"]);
        databaseUp = factory.CreateGauge("syndicator_database_up", "1 when the last scrape could read the outbox, 0 when the database did not answer (the delivery numbers are then those of the last good scrape).");
        JobDuration = factory.CreateHistogram("syndicator_job_duration_seconds", "How long scheduled jobs took on this node, by job and result.", ["job", "result"],
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.005, 2, 16) });
        JobRuns = factory.CreateCounter("syndicator_job_runs_total", "Scheduled job runs on this node, by job and outcome (Succeeded, Skipped, PartlyFailed, Failed, Cancelled).", ["job", "outcome"]);
        scopesFailing = factory.CreateGauge("syndicator_feed_scopes_failing", "Feed scopes whose latest build failed or left articles out.");
        itemsLeftOut = factory.CreateGauge("syndicator_feed_items_left_out", "Articles left out of the feeds by the latest builds of their scopes, because they could not be rendered.");
        scopeFailures = factory.CreateGauge("syndicator_feed_scope_failed_builds", "Builds in a row that failed or left articles out, per failing feed scope (a scope leaves this series once it builds cleanly).", ["scope"]);
        FeedBuildDuration = factory.CreateHistogram("syndicator_feed_build_duration_seconds", "How long feed builds took on this node, counting only runs that rebuilt at least one feed.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 14) });

        DotNetStats.Register(Registry);
        Registry.AddBeforeCollectCallback(RefreshAsync);
    }

    public CollectorRegistry Registry { get; }
    public Histogram JobDuration { get; }
    public Counter JobRuns { get; }
    public Histogram FeedBuildDuration { get; }

    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<SyndicatorMetrics>();
        services.AddSingleton<JobMetricsListener>();
        services.AddHostedService<JobMetricsRegistration>();
    }

    public static void Map(WebApplication app) =>
        app.MapMetrics(Path, app.Services.GetRequiredService<SyndicatorMetrics>().Registry);

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<DeliveryCount> counts;
        IReadOnlyDictionary<string, long> dueByChannel;
        IReadOnlyList<Feeds.FailingScope> failing;
        try
        {
            var deliveries = services.GetRequiredService<DeliveryStore>();
            counts = await deliveries.CountByChannelAndStateAsync(cancellationToken);
            dueByChannel = await deliveries.CountDueByChannelAsync(cancellationToken);
            failing = await services.GetRequiredService<Feeds.FeedStore>().FailingScopesAsync(1, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Metrics: the outbox could not be read");
            databaseUp.Set(0);
            return;
        }

        databaseUp.Set(1);
        scopesFailing.Set(failing.Count);
        itemsLeftOut.Set(failing.Sum(f => f.LeftOut.Count));
        lock (failingScopesSeen)
        {
            foreach (var fixedScope in failingScopesSeen.Except(failing.Select(f => f.Scope)).ToList())
            {
                scopeFailures.RemoveLabelled(fixedScope);
                failingScopesSeen.Remove(fixedScope);
            }
            foreach (var f in failing)
            {
                scopeFailures.WithLabels(f.Scope).Set(f.ConsecutiveFailures);
                failingScopesSeen.Add(f.Scope);
            }
        }
        lock (channelsSeen)
        {
            channelsSeen.UnionWith(counts.Select(c => c.Channel));
            channelsSeen.UnionWith(dueByChannel.Keys);
            // Every state of every channel ever seen is written, zeros included, so a state that empties drops to 0
            // instead of keeping its last value.
            foreach (var channel in channelsSeen)
            {
                foreach (var state in States)
                    byState.WithLabels(channel, state).Set(counts.FirstOrDefault(c => c.Channel == channel && c.State.ToColumn() == state)?.Count ?? 0);
                due.WithLabels(channel).Set(dueByChannel.GetValueOrDefault(channel));
                sent.WithLabels(channel).IncTo(counts.FirstOrDefault(c => c.Channel == channel && c.State == DeliveryState.Sent)?.Count ?? 0);
            }
        }
    }
}

/// <summary>Times every job run on this node into <see cref="SyndicatorMetrics"/>.</summary>
public sealed class JobMetricsListener(SyndicatorMetrics metrics) : IJobListener
{
    public string Name => "syndicator-metrics";

    public ValueTask JobToBeExecuted(IJobExecutionContext context, CancellationToken cancellationToken = default) => default;

    public ValueTask JobExecutionVetoed(IJobExecutionContext context, CancellationToken cancellationToken = default) => default;

    public ValueTask JobWasExecuted(IJobExecutionContext context, JobExecutionException? jobException, CancellationToken cancellationToken = default)
    {
        var result = jobException is not null ? JobRunResult.Failed : (context.Result as IJobRunReport)?.Result ?? JobRunResult.Succeeded;
        var seconds = context.JobRunTime.TotalSeconds;
        var outcome = JobRunOutcomes.Name(result);
        metrics.JobDuration.WithLabels(context.JobDetail.Key.Name, outcome).Observe(seconds);
        metrics.JobRuns.WithLabels(context.JobDetail.Key.Name, outcome).Inc();
        // A skipped build found no dirty feed and did nothing; timing it would drown the real builds in zeros.
        if (context.JobDetail.Key.Name == JobCatalog.FeedBuild && result is JobRunResult.Succeeded or JobRunOutcomes.PartlyFailed) metrics.FeedBuildDuration.Observe(seconds);
        return default;
    }
}

/// <summary>Attaches <see cref="JobMetricsListener"/> to the scheduler before it starts (Quartz starts it once the app has started).</summary>
internal sealed class JobMetricsRegistration(ISchedulerFactory schedulers, JobMetricsListener listener) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        scheduler.ListenerManager.AddJobListener(listener, [GroupMatcher<JobKey>.AnyGroup()]);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
