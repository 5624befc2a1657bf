using System.Diagnostics;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;
using Syndicator.Articles.Import;
using Syndicator.Storage;
using Syndicator.Tests.Announcements.Mastodon;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Cluster;

/// <summary>Two service processes clustered on one PostgreSQL; the node running a job is killed with SIGKILL mid-run.</summary>
public sealed class JobRecoveryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_job_whose_node_is_killed_mid_run_is_run_again_by_the_survivor_and_its_post_goes_out_once()
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("SIGKILL is a POSIX signal.");
        await using var mastodon = await FakeMastodonServer.StartAsync();
        var tokenVariable = "SYN_TEST_MASTODON_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(tokenVariable, mastodon.Token);
        var account = new Dictionary<string, string?>
        {
            ["Announcements:Accounts:0:Name"] = "magazine-mastodon",
            ["Announcements:Accounts:0:Network"] = "Mastodon",
            ["Announcements:Accounts:0:BaseUrl"] = mastodon.BaseUrl,
            ["Announcements:Accounts:0:Credentials:AccessToken"] = "env:" + tokenVariable,
        };

        // The article (and so its one delivery) is stored before the nodes start.
        await using var seed = await TestApp.CreateAsync(StorageProvider.PostgreSql, account);
        var file = seed.Dir.File("articles/recovery.md", $"---\ntitle: \"Recovered\"\nauthor: Jane Doe\ndate: {DateTimeOffset.UtcNow:O}\n---\nBody.\n");
        Assert.Equal(0, (await seed.Get<ArticleFiles>().ImportPathsAsync([file], null, Ct)).Rejected);

        // The first post hangs until released, so the Announcements job is caught mid-run.
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        mastodon.Fail = n =>
        {
            if (n == 1) { entered.Set(); release.Wait(TimeSpan.FromSeconds(90)); }
            return null;
        };

        // One key for the whole cluster, as a real deployment gives every node the same file.
        var signingKey = seed.Dir.File("cluster-signing.key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
        var sandboxes = new List<SyndicatorSandbox>();
        var nodes = new List<SyndicatorProcess>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var sandbox = new SyndicatorSandbox(Ct);
                sandboxes.Add(sandbox);
                // The service refuses a password in the connection string: it reads it from a file, as a deployment would.
                var password = new NpgsqlConnectionStringBuilder(seed.Store.ConnectionString);
                var passwordFile = seed.Dir.File($"db-password-{i}.txt", password.Password ?? "");
                password.Password = null;
                sandbox.Set("Storage:Provider", "PostgreSql").Set("Storage:ConnectionString", password.ConnectionString).Set("Storage:PasswordFile", passwordFile)
                    .Set("Storage:Clustered", true).Set("Site:AllowLocalUrls", true)
                    .Set("Deliveries:LeaseSeconds", 10).Set("Import:SamplesPath", "").Set("Digests:SigningKey", "file:" + signingKey)
                    .Set("Jobs:Announcements", new JsonObject { ["IntervalSeconds"] = 2 });
                foreach (var (key, value) in account) sandbox.Set(key, value);
                nodes.Add(sandbox.Start([]));
            }
            await Task.Run(() => entered.Wait(TimeSpan.FromSeconds(60), Ct), Ct);
            Assert.True(entered.IsSet, "no node ran the Announcements job within 60 s:\n" + string.Join("\n", nodes.Select(n => n.Describe())));

            await using var db = new NpgsqlConnection(seed.Store.ConnectionString);
            var instance = await db.QuerySingleAsync<string>(
                "SELECT instance_name FROM qrtz_fired_triggers WHERE job_name = 'Announcements' AND state = 'EXECUTING'");
            var victim = Assert.Single(nodes, n => instance.EndsWith("-" + n.Id, StringComparison.Ordinal));
            var survivor = Assert.Single(nodes, n => n != victim);
            var clock = Stopwatch.StartNew();
            Process.GetProcessById(victim.Id).Kill(); // SIGKILL: no shutdown code runs
            await victim.WaitUntilAsync(() => victim.HasExited, "the killed node gone", TimeSpan.FromSeconds(10), Ct);
            release.Set();

            var recovered = await PollAsync(() => db.QuerySingleOrDefaultAsync<string>(
                "SELECT node FROM job_runs WHERE job_name = 'Announcements' AND trigger_group = 'RECOVERING_JOBS' LIMIT 1"), TimeSpan.FromSeconds(90));
            var recoveredAfter = clock.Elapsed;
            Assert.EndsWith("-" + survivor.Id, recovered);

            var sent = await PollAsync(async () => await db.QuerySingleOrDefaultAsync<int?>(
                "SELECT attempts FROM deliveries WHERE channel = 'mastodon' AND state = 'sent'"), TimeSpan.FromSeconds(60));
            Assert.Single(mastodon.Posts);
            Assert.True(sent >= 2, $"the delivery was sent on attempt {sent}; the killed node's attempt must have been counted");
            Assert.False(survivor.HasExited, survivor.Describe());
            var figures = $"killed node {victim.Id}; survivor {survivor.Id} ran the recovered job {recoveredAfter.TotalSeconds:0.0} s after the kill; post sent on attempt {sent}";
            TestContext.Current.TestOutputHelper?.WriteLine(figures);
            await File.WriteAllTextAsync(Path.Combine(Path.GetTempPath(), "job-recovery.txt"), figures + Environment.NewLine, Ct);
        }
        finally
        {
            release.Set();
            foreach (var sandbox in sandboxes) await sandbox.DisposeAsync();
            Environment.SetEnvironmentVariable(tokenVariable, null);
        }
    }

    private static async Task<T> PollAsync<T>(Func<Task<T?>> read, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (await read() is { } value) return value;
            if (deadline.Elapsed > timeout) Assert.Fail($"nothing after {timeout.TotalSeconds:0} s");
            await Task.Delay(250, Ct);
        }
    }
}
