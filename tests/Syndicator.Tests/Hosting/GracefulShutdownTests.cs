using System.Diagnostics;
using Dapper;
using Microsoft.Data.Sqlite;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;
using Syndicator.Tests.Digests;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

/// <summary>SIGTERM to a service that is in the middle of sending a digest, as systemd or docker would send it.</summary>
public sealed class GracefulShutdownTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task SIGTERM_mid_digest_finishes_the_messages_being_sent_hands_back_the_rest_and_a_restart_sends_each_remaining_one_once()
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("SIGTERM is a POSIX signal.");
        await using var smtp = await SmtpTestServer.StartAsync(cancellationToken: Ct);
        await using var world = await DigestWorld.CreateAsync(StorageProvider.Sqlite);
        const int subscribers = 200;
        for (var i = 0; i < subscribers; i++) await world.SubscribeAsync($"reader{i:D3}@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(subscribers, (await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct)).Planned);

        await using var sandbox = new SyndicatorSandbox(Ct);
        sandbox.Set("Storage:ConnectionString", world.App.Store.ConnectionString)
            .Set("Site:AllowLocalUrls", true) // the relay is a loopback test server
            .Set("Digests:Smtp:Host", smtp.Host).Set("Digests:Smtp:Port", smtp.Port).Set("Digests:Smtp:Security", "None")
            .Set("Digests:Smtp:Connections", 2)
            // Slow enough that the stop lands mid-batch: 100 claimed at a time, 20 a second.
            .Set("Digests:Smtp:MessagesPerSecond", 20)
            .Set("Service:ShutdownTimeoutSeconds", 10)
            .Set("Jobs:EmailSend", new System.Text.Json.Nodes.JsonObject { ["IntervalSeconds"] = 1 })
            .Set("Jobs:DailyDigest", new System.Text.Json.Nodes.JsonObject { ["Enabled"] = false })
            .Set("Jobs:WeeklyDigest", new System.Text.Json.Nodes.JsonObject { ["Enabled"] = false });

        var service = sandbox.Start([]);
        await service.WaitUntilAsync(() => smtp.Stats.Messages >= 30, "30 messages at the relay", TimeSpan.FromSeconds(30), Ct);
        var clock = Stopwatch.StartNew();
        service.Terminate();
        var result = await service.WaitForExitAsync(TimeSpan.FromSeconds(15), Ct);
        var stoppedIn = clock.Elapsed;

        Assert.True(result.ExitCode == 0, $"after {stoppedIn.TotalSeconds:0.0} s: {result}");
        Assert.True(stoppedIn < TimeSpan.FromSeconds(10), $"the stop took {stoppedIn.TotalSeconds:0.0} s, longer than Service:ShutdownTimeoutSeconds");
        var states = await StatesAsync(world.App.Store.ConnectionString);
        var received = await smtp.MessagesAsync(Ct);
        Assert.False(states.ContainsKey("in-flight"), $"nothing may be left in flight after a graceful stop: {string.Join(", ", states)}");
        Assert.Equal(received.Count, states.GetValueOrDefault("sent"));
        Assert.True(states.GetValueOrDefault("pending") > 0, "the stop came mid-digest, so some must be left to send");
        Assert.Equal(subscribers, states.GetValueOrDefault("sent") + states.GetValueOrDefault("pending"));
        Assert.All(await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Pending, null, subscribers, Ct), d => Assert.Equal(0, d.Attempts));
        Assert.Contains("handed back unsent", result.Flat);
        await File.WriteAllTextAsync(Path.Combine(Path.GetTempPath(), "graceful-stop.txt"),
            $"SIGTERM after {received.Count} of {subscribers} messages: exit {result.ExitCode} in {stoppedIn.TotalSeconds:0.00} s, " +
            $"{states.GetValueOrDefault("pending")} handed back with no attempt counted, 0 left in flight{Environment.NewLine}", Ct);

        await using var restarted = sandbox.Start([]);
        await restarted.WaitUntilAsync(() => smtp.Stats.Messages >= subscribers, $"{subscribers} messages at the relay", TimeSpan.FromSeconds(40), Ct);
        received = await smtp.MessagesAsync(Ct);
        Assert.Equal(subscribers, received.Count);
        Assert.Equal(subscribers, received.Select(m => m.Recipients.Single()).Distinct().Count());
    }

    private static async Task<Dictionary<string, long>> StatesAsync(string connectionString)
    {
        await using var connection = new SqliteConnection(connectionString);
        var rows = await connection.QueryAsync<(string State, long Count)>("SELECT state, COUNT(*) FROM deliveries WHERE channel = 'email' GROUP BY state");
        return rows.ToDictionary(r => r.State, r => r.Count);
    }
}
