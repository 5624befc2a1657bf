using System.Net;
using System.Text.RegularExpressions;
using Quartz;
using Syndicator.Scheduling;
using Syndicator.Tests.Support;
using Syndicator.Web;

namespace Syndicator.Tests.Web;

/// <summary><c>/health</c>, <c>/ready</c> and <c>/metrics</c> of the running app.</summary>
public sealed partial class ReadinessAndMetricsTests
{
    private const int TestTimeout = 60_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeout)]
    public async Task Ready_is_200_while_database_and_scheduler_work_and_503_naming_the_database_once_it_is_gone()
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);

        // The scheduler starts once the app has started; until then it is not ready.
        var ready = "";
        await StatusServer.WaitForAsync(async () => (await server.GetTextAsync("/ready")) is (HttpStatusCode.OK, var body) && (ready = body) != "", "/ready to answer 200");
        Assert.StartsWith("Healthy\n", ready);
        Assert.Contains("database: Healthy", ready);
        Assert.Contains("quartz-scheduler: Healthy", ready);

        // The database file disappears and a folder takes its name: nothing can open it any more.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { server.DatabasePath, server.DatabasePath + "-wal", server.DatabasePath + "-shm" }) File.Delete(file);
        Directory.CreateDirectory(server.DatabasePath);

        var (status, text) = await server.GetTextAsync("/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.StartsWith("Unhealthy\n", text);
        Assert.Matches(@"database: Unhealthy - Sqlite does not answer \(\w+Exception\)", text);
        // Liveness does not depend on the database.
        Assert.Equal((HttpStatusCode.OK, "alive\n"), await server.GetTextAsync("/health"));
    }

    [Fact]
    public void Every_enabled_job_is_required_to_succeed_within_three_of_its_periods_and_disabled_ones_are_not()
    {
        var schedules = new ScheduleOptions
        {
            [JobCatalog.FeedBuild] = new() { IntervalSeconds = 300 },
            [JobCatalog.DropFolderImport] = new() { IntervalSeconds = 15 },
            [JobCatalog.DailyDigest] = new() { Cron = "0 0 7 * * ?", TimeZone = "Europe/London" },
            [JobCatalog.WeeklyDigest] = new() { Enabled = false, Cron = "0 0 7 ? * MON" },
        };

        var required = Readiness.RequiredJobs(Jobs(), schedules, new DateTimeOffset(2026, 3, 2, 12, 0, 0, TimeSpan.Zero)).ToDictionary(r => r.Key.Name, r => r.Within);

        Assert.Equal(TimeSpan.FromMinutes(15), required[JobCatalog.FeedBuild]);
        Assert.Equal(TimeSpan.FromMinutes(10), required[JobCatalog.DropFolderImport]); // the floor: 3 × 15 s would flap
        Assert.Equal(TimeSpan.FromDays(3), required[JobCatalog.DailyDigest]);
        Assert.DoesNotContain(JobCatalog.WeeklyDigest, required.Keys);
        // Jobs the section leaves out keep their default schedule, and are required too.
        Assert.Equal(TimeSpan.FromMinutes(10), required[JobCatalog.EmailSend]);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Metrics_report_deliveries_by_channel_and_state_the_queue_the_sent_counter_and_job_durations()
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        var seeded = await server.SeedAsync();
        await server.RunJobAsync(JobCatalog.EmailSend);

        using var response = await server.Http.GetAsync("/metrics", Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, Sample(text, "syndicator_deliveries{channel=\"bluesky\",state=\"failed\"}"));
        Assert.Equal(0, Sample(text, "syndicator_deliveries{channel=\"bluesky\",state=\"pending\"}"));
        Assert.Equal(1, Sample(text, "syndicator_deliveries{channel=\"mastodon\",state=\"sent\"}"));
        Assert.Equal(1, Sample(text, "syndicator_deliveries_sent_total{channel=\"email\"}"));
        Assert.Equal(0, Sample(text, "syndicator_deliveries_due{channel=\"bluesky\"}"));
        Assert.Equal(1, Sample(text, "syndicator_database_up"));
        Assert.Equal(1, Sample(text, "syndicator_job_duration_seconds_count{job=\"EmailSend\",result=\"Skipped\"}"));
        Assert.Contains("# TYPE syndicator_job_duration_seconds histogram", text);
        Assert.Contains("# TYPE syndicator_deliveries gauge", text);

        // A retried delivery is due at once: the queue grows and the failed gauge drops to zero.
        var store = server.Get<Syndicator.Deliveries.DeliveryStore>();
        Assert.True(await store.RetryAsync(seeded.FailedId, Ct));
        var after = await server.Http.GetStringAsync("/metrics", Ct);
        Assert.Equal(0, Sample(after, "syndicator_deliveries{channel=\"bluesky\",state=\"failed\"}"));
        Assert.Equal(1, Sample(after, "syndicator_deliveries{channel=\"bluesky\",state=\"pending\"}"));
        Assert.Equal(1, Sample(after, "syndicator_deliveries_due{channel=\"bluesky\"}"));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_feed_scope_failing_every_build_is_partly_failed_in_the_history_degraded_in_ready_after_n_runs_and_counted_in_metrics()
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken, new() { ["Feeds:DegradedAfterFailedBuilds"] = "2" });
        var start = DateTimeOffset.UtcNow.AddDays(-3);
        var files = new[] { "fine-piece", "broken-piece", "another-piece" }.Select((slug, i) => server.Dir.File($"articles/{slug}.md",
            $"---\ntitle: \"آینده {slug}\"\nslug: {slug}\nauthor: Jane Doe\ndate: {start.AddDays(i):O}\ntags: [Water]\n---\nText of {slug}.\n")).ToList();
        Assert.Equal(3, (await server.Get<Syndicator.Articles.Import.ArticleFiles>().ImportPathsAsync(files, null, Ct)).Created);
        await using (var connection = await server.Get<Syndicator.Storage.Database>().OpenAsync(Ct))
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE articles SET canonical_url = @url WHERE slug = 'broken-piece'", new { url = "https://bad host\r\n/broken-piece" });

        var first = await server.RunJobAsync(JobCatalog.FeedBuild);
        Assert.Equal((JobRunOutcomes.PartlyFailed, 1), (first.LastResult, first.ConsecutiveFailures));
        Assert.Contains("feeds: Healthy", (await server.GetTextAsync("/ready")).Body);

        var second = await server.RunJobAsync(JobCatalog.FeedBuild);
        Assert.Equal((JobRunOutcomes.PartlyFailed, 2, 2L), (second.LastResult, second.ConsecutiveFailures, second.FailureCount));
        Assert.Contains("3 of 3 feeds failed", second.LastSummary);
        Assert.Contains("broken-piece (", second.LastSummary);
        Assert.Equal(second.LastSummary, second.LastFailureMessage);
        // It still ran to the end, which is what RequireSuccessWithin asks of a job: readiness degrades, it does not take the node out.
        Assert.Equal(second.LastFiredAtUtc, second.LastSucceededAtUtc);
        var runs = await server.Get<DatabaseExecutionHistoryStore>().QueryExecutions(new ExecutionHistoryQuery { SchedulerName = (await server.Get<ISchedulerFactory>().GetScheduler(Ct)).SchedulerName, Job = new JobKey(JobCatalog.FeedBuild, JobCatalog.Group), Results = [JobRunOutcomes.PartlyFailed] }, Ct);
        Assert.Equal(2, runs.Items.Count);

        var (status, ready) = await server.GetTextAsync("/ready");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("Degraded\n", ready);
        Assert.Contains("\nfeeds: Degraded - ", ready);
        Assert.True(Regex.IsMatch(ready, @"; site failed 2 builds in a row since [^;]*: 1 article\(s\) left out \(broken-piece \([^)]*broken-piece\.md\): UnreadableArticleException"), ready);
        Assert.Contains("tag:Water failed 2 builds in a row", ready);
        Assert.Contains("database: Healthy", ready);

        var metrics = await server.Http.GetStringAsync("/metrics", Ct);
        Assert.Equal(2, Sample(metrics, "syndicator_job_runs_total{job=\"FeedBuild\",outcome=\"PartlyFailed\"}"));
        Assert.Equal(2, Sample(metrics, "syndicator_job_duration_seconds_count{job=\"FeedBuild\",result=\"PartlyFailed\"}"));
        Assert.DoesNotContain("syndicator_job_runs_total{job=\"FeedBuild\",outcome=\"Succeeded\"}", metrics);
        Assert.Equal(3, Sample(metrics, "syndicator_feed_scopes_failing"));
        Assert.Equal(3, Sample(metrics, "syndicator_feed_items_left_out"));
        Assert.Equal(2, Sample(metrics, "syndicator_feed_scope_failed_builds{scope=\"site\"}"));

        // Fixed: the next build is clean, the scope leaves the record, the gauges and /ready.
        await using (var connection = await server.Get<Syndicator.Storage.Database>().OpenAsync(Ct))
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE articles SET canonical_url = 'https://magazine.example/broken-piece' WHERE slug = 'broken-piece'");
        var third = await server.RunJobAsync(JobCatalog.FeedBuild);
        Assert.Equal((JobRunResult.Succeeded, 0), (third.LastResult, third.ConsecutiveFailures));
        Assert.StartsWith("Healthy\n", (await server.GetTextAsync("/ready")).Body);
        var after = await server.Http.GetStringAsync("/metrics", Ct);
        Assert.Equal(0, Sample(after, "syndicator_feed_scopes_failing"));
        Assert.DoesNotContain("syndicator_feed_scope_failed_builds{scope=\"site\"}", after);
        Assert.Equal(1, Sample(after, "syndicator_job_runs_total{job=\"FeedBuild\",outcome=\"Succeeded\"}"));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Ready_is_degraded_naming_a_channel_whose_every_attempt_failed_and_an_account_paused_past_its_window()
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        await server.SeedAsync(); // bluesky: its one attempt failed; mastodon and e-mail: sent

        var (status, ready) = await server.GetTextAsync("/ready");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("Degraded\n", ready);
        Assert.Contains("deliveries: Degraded - bluesky is stuck: all 1 attempts in the last hour failed (1 for good, 0 waiting to retry)", ready);
        Assert.DoesNotContain("mastodon is stuck", ready);
        // The service's own words stay out of an unauthenticated reply.
        Assert.DoesNotContain("Unauthorized", ready);

        // Both accounts were paused with a post waiting, and nothing has touched it since.
        await using (var connection = await server.Get<Syndicator.Storage.Database>().OpenAsync(Ct))
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "INSERT INTO delivery_pauses VALUES ('mastodon', 'magazine-mastodon', @over, 'rate limited', @now), ('x', 'magazine-x', @soon, 'rate limited', @now)",
                new { over = DateTimeOffset.UtcNow.AddMinutes(-30), soon = DateTimeOffset.UtcNow.AddMinutes(-2), now = DateTimeOffset.UtcNow });
            var store = server.Get<Syndicator.Deliveries.DeliveryStore>();
            await store.EnsureAsync("mastodon", "article", "waiting-a", "magazine-mastodon", DateTimeOffset.UtcNow.AddMinutes(-40), Ct);
            await store.EnsureAsync("x", "article", "waiting-b", "magazine-x", DateTimeOffset.UtcNow.AddMinutes(-40), Ct);
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE deliveries SET updated_at = @deferred WHERE subject_id IN ('waiting-a', 'waiting-b')",
                new { deferred = DateTimeOffset.UtcNow.AddMinutes(-40) });
        }
        var paused = (await server.GetTextAsync("/ready")).Body;
        Assert.Matches(@"mastodon account magazine-mastodon is still paused 3\d min after its pause ended", paused);
        Assert.DoesNotContain("magazine-x", paused); // ended two minutes ago: the next run lifts it
    }

    /// <summary>The value of one sample line (<c>name{labels} value</c>) of a Prometheus text exposition.</summary>
    private static double Sample(string exposition, string series)
    {
        var line = exposition.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"/metrics has no sample {series}; it has:\n{string.Join('\n', exposition.Split('\n').Where(l => l.StartsWith("syndicator_", StringComparison.Ordinal)))}");
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The jobs as the capabilities register them.</summary>
    private static IReadOnlyList<ScheduledJob> Jobs()
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        Syndicator.Articles.ArticlesSetup.AddArticles(services);
        Syndicator.Feeds.FeedsSetup.AddFeeds(services);
        Syndicator.Announcements.AnnouncementsSetup.AddAnnouncements(services);
        Syndicator.Digests.DigestsSetup.AddDigests(services);
        return JobCatalog.Registered(services);
    }
}
