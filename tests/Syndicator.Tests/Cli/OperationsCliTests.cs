using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Quartz;
using Syndicator.Deliveries;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Hosting;
using Syndicator.Tests.Scheduling;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Cli;

/// <summary><c>status</c>, <c>deliveries</c> and <c>jobs</c>, run as the real executable against a database of their own.</summary>
public sealed class OperationsCliTests
{
    private const int TestTimeout = CliProcessTests.TestTimeout;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>What the tests put in the database before running a verb: the ids of the deliveries by what they are.</summary>
    private sealed record Seeded(long FailedX, long SentX, long PendingMastodon, long FailedEmail);

    private static Database DatabaseOf(SyndicatorSandbox sandbox) => new(StorageProvider.Sqlite, sandbox.DatabaseConnectionString);

    /// <summary>Migrates through the CLI, then writes deliveries in every interesting state and two job runs, one a final failure.</summary>
    private static async Task<Seeded> SeedAsync(SyndicatorSandbox sandbox)
    {
        var migrate = await sandbox.RunAsync("db", "migrate");
        Assert.True(migrate.ExitCode == 0, migrate.ToString());
        var database = DatabaseOf(sandbox);
        var deliveries = new DeliveryStore(database, TimeProvider.System);
        var lease = TimeSpan.FromMinutes(5);
        var now = DateTimeOffset.UtcNow;

        await deliveries.EnsureAsync("x", "article", "a1", "@mag", now, Ct);
        var failedX = (await deliveries.ClaimDueAsync("x", "n", lease, 1, Ct, subjectId: "a1")).Single();
        Assert.True(await deliveries.MarkFailedAsync(failedX.Id, "n", "x: 401 Unauthorized", Ct));
        await deliveries.EnsureAsync("x", "article", "a2", "@mag", now, Ct);
        var sentX = (await deliveries.ClaimDueAsync("x", "n", lease, 1, Ct, subjectId: "a2")).Single();
        Assert.True(await deliveries.MarkSentAsync(sentX.Id, "n", "123", "https://x.example/123", Ct));
        await deliveries.EnsureAsync("mastodon", "article", "a1", "@mag@social.example", now.AddDays(1), Ct);
        var pending = (await deliveries.ListAsync(DeliveryState.Pending, null, 10, Ct)).Single();
        await deliveries.EnsureAsync("email", "digest", "d1", "sub-1", now, Ct);
        var failedEmail = (await deliveries.ClaimDueAsync("email", "n", lease, 1, Ct)).Single();
        Assert.True(await deliveries.MarkFailedAsync(failedEmail.Id, "n", "smtp: 550 mailbox unavailable", Ct));

        var history = new DatabaseExecutionHistoryStore(database, NullLogger<DatabaseExecutionHistoryStore>.Instance);
        await history.AddExecution(new ExecutionHistoryEntry("syndicator", "node-a", JobCatalog.Group, JobCatalog.FeedBuild, JobCatalog.Group, JobCatalog.FeedBuild,
            now.AddMinutes(-2), TimeSpan.FromSeconds(1), false, "disk full") { Result = JobRunResult.Failed, EntryId = "e1" }, Ct);
        await history.AddExecution(new ExecutionHistoryEntry("syndicator", "node-a", JobCatalog.Group, JobCatalog.EmailSend, JobCatalog.Group, JobCatalog.EmailSend,
            now.AddMinutes(-1), TimeSpan.FromMilliseconds(20), true, null) { Result = JobRunResult.Skipped, Summary = "no e-mail due", EntryId = "e2" }, Ct);
        return new Seeded(failedX.Id, sentX.Id, pending.Id, failedEmail.Id);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Status_json_lists_every_job_the_deliveries_by_channel_and_state_and_the_latest_failures()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var seeded = await SeedAsync(sandbox);

        var result = await sandbox.RunAsync("status", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout); // stdout carries the JSON alone; logs go to stderr
        var root = json.RootElement;
        var jobs = root.GetProperty("jobs").EnumerateArray().ToDictionary(j => j.GetProperty("name").GetString()!);
        Assert.Equal(JobCatalog.Names.Order(), jobs.Keys.Order());
        var feed = jobs[JobCatalog.FeedBuild];
        Assert.Equal(("failed", "disk full", 1), (feed.GetProperty("lastOutcome").GetString(), feed.GetProperty("lastError").GetString(), feed.GetProperty("consecutiveFailures").GetInt32()));
        Assert.Equal("every 300 s", feed.GetProperty("schedule").GetString());
        Assert.Equal(("skipped", "no e-mail due"), (jobs[JobCatalog.EmailSend].GetProperty("lastOutcome").GetString(), jobs[JobCatalog.EmailSend].GetProperty("lastSummary").GetString()));
        Assert.Equal(JsonValueKind.Null, jobs[JobCatalog.Announcements].GetProperty("lastRunAt").ValueKind);
        // The next firing comes from the persistent job store.
        Assert.True(jobs[JobCatalog.DailyDigest].GetProperty("nextFireAt").GetDateTimeOffset() > DateTimeOffset.UtcNow);

        var channels = root.GetProperty("deliveries").EnumerateArray().ToDictionary(c => c.GetProperty("channel").GetString()!);
        Assert.Equal(["email", "mastodon", "x"], channels.Keys.Order());
        Assert.Equal(2, channels["x"].GetProperty("total").GetInt32());
        Assert.Equal((1, 1), (channels["x"].GetProperty("byState").GetProperty("failed").GetInt32(), channels["x"].GetProperty("byState").GetProperty("sent").GetInt32()));
        Assert.Equal(1, channels["mastodon"].GetProperty("byState").GetProperty("pending").GetInt32());

        var jobFailure = Assert.Single(root.GetProperty("jobFailures").EnumerateArray());
        Assert.Equal((JobCatalog.FeedBuild, "disk full"), (jobFailure.GetProperty("job").GetString(), jobFailure.GetProperty("error").GetString()));
        var deliveryFailures = root.GetProperty("deliveryFailures").EnumerateArray().ToDictionary(d => d.GetProperty("id").GetInt64(), d => d.GetProperty("error").GetString());
        Assert.Equal(new Dictionary<long, string?> { [seeded.FailedX] = "x: 401 Unauthorized", [seeded.FailedEmail] = "smtp: 550 mailbox unavailable" }, deliveryFailures);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Status_prints_the_jobs_deliveries_and_failures_as_tables()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        await SeedAsync(sandbox);

        var result = await sandbox.RunAsync("status");

        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var expected in new[] { "Jobs (times in UTC)", "Deliveries", "Latest failed job runs", "Latest failed deliveries", JobCatalog.Retention, "disk full", "x: 401 Unauthorized", "retry-wait" })
            Assert.Contains(expected, result.Stdout);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Deliveries_retry_hands_a_failed_delivery_back_and_refuses_one_that_is_not_failed()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var seeded = await SeedAsync(sandbox);
        var store = new DeliveryStore(DatabaseOf(sandbox), TimeProvider.System);

        var retried = await sandbox.RunAsync("deliveries", "retry", seeded.FailedX.ToString());
        Assert.True(retried.ExitCode == 0, retried.ToString());
        Assert.Contains($"Delivery {seeded.FailedX} is pending again", retried.Flat);
        var again = await store.GetAsync(seeded.FailedX, Ct);
        Assert.Equal((DeliveryState.Pending, "x: 401 Unauthorized"), (again!.State, again.LastError)); // the last error stays for the record

        var sent = await sandbox.RunAsync("deliveries", "retry", seeded.SentX.ToString());
        Assert.True(sent.ExitCode == 1, sent.ToString());
        Assert.Contains($"Delivery {seeded.SentX} is sent; only failed and unconfirmed deliveries can be sent again", sent.Flat);
        var missing = await sandbox.RunAsync("deliveries", "retry", "999999");
        Assert.True(missing.ExitCode == 1, missing.ToString());
        Assert.Contains("There is no delivery 999999", missing.Flat);
        var neither = await sandbox.RunAsync("deliveries", "retry");
        Assert.NotEqual(0, neither.ExitCode);
        Assert.Contains("Give either a delivery ID or --all-failed", neither.Flat);
        Assert.Equal(DeliveryState.Failed, (await store.GetAsync(seeded.FailedEmail, Ct))!.State);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Deliveries_retry_all_failed_and_list_by_state_as_json()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var seeded = await SeedAsync(sandbox);

        var retried = await sandbox.RunAsync("deliveries", "retry", "--all-failed");
        var listed = await sandbox.RunAsync("deliveries", "list", "--state", "pending", "--json");
        var ofArticle = await sandbox.RunAsync("deliveries", "list", "--article", "a1", "--json");

        Assert.True(retried.ExitCode == 0, retried.ToString());
        Assert.Contains("2 failed deliveries handed back", retried.Flat);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        using var pending = JsonDocument.Parse(listed.Stdout);
        Assert.Equal(new[] { seeded.FailedX, seeded.PendingMastodon, seeded.FailedEmail }.Order(),
            pending.RootElement.EnumerateArray().Select(d => d.GetProperty("id").GetInt64()).Order());
        Assert.All(pending.RootElement.EnumerateArray(), d => Assert.Equal("pending", d.GetProperty("state").GetString()));
        // "a1" is an id the seeded rows carry, but no article in the store has it: refused with the way out, not an empty list.
        Assert.True(ofArticle.ExitCode == 1, ofArticle.ToString());
        Assert.Contains("No article has the slug or id 'a1'", ofArticle.Flat);
        Assert.Contains("syndicator articles list", ofArticle.Flat);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Jobs_run_asks_the_running_service_which_runs_the_job_and_records_it_as_manual()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        await using var service = sandbox.Start([]);
        await service.WaitForHttpAsync($"{sandbox.BaseUrl}/health", TimeSpan.FromSeconds(45), Ct);

        var result = await sandbox.RunAsync("jobs", "run", "feedbuild", "--wait", "--timeout", "15");

        Assert.True(result.ExitCode == 0, result.ToString() + Environment.NewLine + service.Describe());
        Assert.Matches(@"FeedBuild (succeeded|skipped) on NON_CLUSTERED", result.Flat);
        var manual = (await HistoryTestSupport.RunsAsync(DatabaseOf(sandbox), JobCatalog.FeedBuild)).Where(r => r.Manual).ToList();
        var run = Assert.Single(manual);
        Assert.Equal("NON_CLUSTERED", run.Node); // the service's scheduler ran it, not the CLI's
        var history = await sandbox.RunAsync("jobs", "history", "FeedBuild", "--json");
        Assert.True(history.ExitCode == 0, history.ToString());
        using var json = JsonDocument.Parse(history.Stdout);
        Assert.Contains(json.RootElement.EnumerateArray(), r => r.GetProperty("manual").GetBoolean());
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_job_asked_for_while_no_service_runs_waits_in_the_job_store_and_runs_when_the_service_starts()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);

        var asked = await sandbox.RunAsync("jobs", "run", "WebSubPing");
        Assert.True(asked.ExitCode == 0, asked.ToString());
        Assert.Empty(await HistoryTestSupport.RunsAsync(DatabaseOf(sandbox)));

        await using var service = sandbox.Start([]);
        var runs = await HistoryTestSupport.WaitForRunsAsync(DatabaseOf(sandbox), JobCatalog.WebSubPing, r => r.Any(x => x.Manual), seconds: 20);

        Assert.Equal(("skipped", "nothing to ping"), (runs.First(r => r.Manual).Outcome, runs.First(r => r.Manual).Summary));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Jobs_run_refuses_an_unknown_or_disabled_job_naming_the_jobs()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Set("Jobs:WeeklyDigest", new System.Text.Json.Nodes.JsonObject { ["Enabled"] = false });

        var unknown = await sandbox.RunAsync("jobs", "run", "Nope");
        var disabled = await sandbox.RunAsync("jobs", "run", "WeeklyDigest");

        Assert.True(unknown.ExitCode == 1, unknown.ToString());
        Assert.Contains("There is no job called 'Nope'", unknown.Flat);
        Assert.Contains(JobCatalog.DropFolderImport, unknown.Flat);
        Assert.True(disabled.ExitCode == 1, disabled.ToString());
        Assert.Contains("WeeklyDigest is not in the job store", disabled.Flat);
        Assert.Contains("Jobs:WeeklyDigest:Enabled is false", disabled.Flat);
    }
}
