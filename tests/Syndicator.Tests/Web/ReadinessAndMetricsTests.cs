using System.Net;
using System.Text.RegularExpressions;
using Quartz;
using Syndicator.Scheduling;
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

        var required = Readiness.RequiredJobs(schedules, new DateTimeOffset(2026, 3, 2, 12, 0, 0, TimeSpan.Zero)).ToDictionary(r => r.Key.Name, r => r.Within);

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

    /// <summary>The value of one sample line (<c>name{labels} value</c>) of a Prometheus text exposition.</summary>
    private static double Sample(string exposition, string series)
    {
        var line = exposition.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"/metrics has no sample {series}; it has:\n{string.Join('\n', exposition.Split('\n').Where(l => l.StartsWith("syndicator_", StringComparison.Ordinal)))}");
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
