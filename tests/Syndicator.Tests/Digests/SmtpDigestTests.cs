using Dapper;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>Digests sent through MailKit to a real SMTP server on loopback.</summary>
public sealed class SmtpDigestTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(DigestWorld World, SmtpTestServer Smtp, string PasswordVariable)> StartAsync(SmtpTestServerOptions? smtpOptions = null, Dictionary<string, string?>? extra = null)
    {
        var smtp = await SmtpTestServer.StartAsync(smtpOptions, Ct);
        var variable = "SYN_TEST_SMTP_" + Guid.NewGuid().ToString("N");
        var settings = new Dictionary<string, string?>
        {
            ["Digests:Smtp:Host"] = smtp.Host,
            ["Digests:Smtp:Port"] = smtp.Port.ToString(),
            ["Digests:Smtp:Security"] = smtpOptions?.StartTls == true ? "StartTls" : "None",
            ["Digests:Smtp:AcceptAnyCertificate"] = "true",
            ["Digests:Smtp:Connections"] = "2",
            ["Digests:Smtp:MessagesPerSecond"] = "1000",
            ["Deliveries:RetryBaseSeconds"] = "60",
        };
        if (smtpOptions?.Auth is { } auth)
        {
            Environment.SetEnvironmentVariable(variable, auth.Password);
            settings["Digests:Smtp:UserName"] = auth.User;
            settings["Digests:Smtp:Password"] = "env:" + variable;
        }
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        return (await DigestWorld.CreateAsync(settings: settings), smtp, variable);
    }

    private static async Task<int> SendAllDueAsync(DigestWorld world)
    {
        var total = 0;
        while (true)
        {
            var report = await world.App.SendEmailAsync(null, Ct);
            if (report.Attempted == 0) return total;
            total += report.Attempted;
        }
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Digests_go_out_over_starttls_with_authentication_many_messages_per_connection()
    {
        var (world, smtp, variable) = await StartAsync(new SmtpTestServerOptions { StartTls = true, RequireStartTls = true, Auth = ("relay", "relay-pass"), Verbose = true });
        await using var _ = world;
        await using var __ = smtp;
        for (var i = 0; i < 10; i++) await world.SubscribeAsync($"reader{i}@example.com");
        await world.ImportAsync("Headline", "Jane Doe");

        await world.RunDailyAsync(TimeSpan.FromHours(1));

        var received = await smtp.WaitForMessagesAsync(10, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(10, received.Select(m => m.Recipients.Single()).Distinct().Count());
        Assert.All(received, m => Assert.True(m.Tls));
        Assert.All(received, m => Assert.Equal("relay", m.AuthenticatedUser));
        // The server offers SIZE (aiosmtpd's default limit) and no message declares it: MailKit would write each one
        // twice, the first time only to measure it.
        Assert.Contains("250-SIZE 33554432", smtp.ServerLog, StringComparison.Ordinal);
        Assert.All(received, m => Assert.DoesNotContain(m.MailOptions!, o => o.StartsWith("SIZE=", StringComparison.OrdinalIgnoreCase)));
        var stats = await smtp.GetStatsAsync(Ct);
        Assert.InRange(stats.Connections, 1, 2);
        Assert.Equal(10, stats.Messages);
        Environment.SetEnvironmentVariable(variable, null);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_4xx_reply_is_retried_after_the_backoff_and_the_reader_gets_exactly_one_copy()
    {
        var (world, smtp, _) = await StartAsync();
        await using var _w = world;
        await using var _s = smtp;
        await world.SubscribeAsync("busy@example.com");
        await world.SubscribeAsync("fine@example.com");
        smtp.FailRecipient("busy@example.com", 451, "4.7.1 Try again later", times: 1);
        await world.ImportAsync("Headline", "Jane Doe");

        await world.RunDailyAsync(TimeSpan.FromHours(1));
        var waiting = Assert.Single(await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.RetryWait, null, 10, Ct));
        Assert.StartsWith("smtp: ", waiting.LastError);
        Assert.Contains("451", waiting.LastError);

        world.Time.Advance(TimeSpan.FromMinutes(2));
        await SendAllDueAsync(world);

        var received = await smtp.WaitForMessagesAsync(2, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(["busy@example.com", "fine@example.com"], received.Select(m => m.Recipients.Single()).Order());
        Assert.Equal(2, (await world.App.Get<DeliveryStore>().GetAsync(waiting.Id, Ct))!.Attempts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_5xx_for_the_recipient_fails_the_delivery_at_once_and_repeated_hard_bounces_suspend_the_subscriber()
    {
        var (world, smtp, _) = await StartAsync(extra: new() { ["Digests:MaxHardBounces"] = "2" });
        await using var _w = world;
        await using var _s = smtp;
        await world.SubscribeAsync("gone@example.com");
        smtp.FailRecipient("gone@example.com", 550, "5.1.1 No such user");

        await world.ImportAsync("First", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));
        var failed = Assert.Single(await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Failed, null, 10, Ct));
        Assert.Contains("550", failed.LastError);
        Assert.Contains("No such user", failed.LastError);
        Assert.Equal(1, failed.Attempts);
        Assert.Equal(SubscriberState.Confirmed, (await world.App.Get<SubscriberStore>().FindAsync("gone@example.com", Ct))!.State);

        await world.ImportAsync("Second", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromDays(1));
        Assert.Equal(SubscriberState.Suspended, (await world.App.Get<SubscriberStore>().FindAsync("gone@example.com", Ct))!.State);

        await world.ImportAsync("Third", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromDays(1));
        Assert.Equal(2, (await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Failed, null, 10, Ct)).Count);
        Assert.Empty(await smtp.MessagesAsync(Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_stop_in_the_middle_of_a_send_hands_the_unsent_back_at_once_without_counting_an_attempt()
    {
        var (world, smtp, _) = await StartAsync(extra: new() { ["Digests:Smtp:Connections"] = "1" });
        await using var _w = world;
        await using var _s = smtp;
        for (var i = 0; i < 12; i++) await world.SubscribeAsync($"reader{i:D2}@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);

        // The run is told to stop after five messages: it starts no sixth, and gives back the seven it had claimed.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var progress = new SynchronousProgress(p => { if (p.Done == 5) stop.Cancel(); });
        var report = await world.App.SendEmailAsync(progress, stop.Token);
        Assert.Equal(5, report.Sent);
        Assert.Equal(5, (await smtp.MessagesAsync(Ct)).Count);
        var handedBack = await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Pending, null, 100, Ct);
        Assert.Equal(7, handedBack.Count);
        Assert.All(handedBack, d => Assert.Equal(0, d.Attempts));
        Assert.Empty(await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.InFlight, null, 100, Ct));

        // No lease has to run out: the next run sends the seven straight away.
        await SendAllDueAsync(world);
        var received = await smtp.WaitForMessagesAsync(12, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(12, received.Select(m => m.Recipients.Single()).Distinct().Count());
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_node_that_died_mid_send_has_its_untouched_claims_resent_and_the_message_it_handed_to_the_relay_marked_unconfirmed_not_resent()
    {
        var (world, smtp, _) = await StartAsync();
        await using var _w = world;
        await using var _s = smtp;
        for (var i = 0; i < 4; i++) await world.SubscribeAsync($"reader{i}@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);

        // Another node claimed all four, handed the first to the relay, and died before the relay's answer was recorded.
        var store = world.App.Get<DeliveryStore>();
        var claimed = await store.ClaimDueAsync(EmailChannel.ChannelName, "dead-node:1", TimeSpan.FromMinutes(5), 10, Ct);
        Assert.Equal(4, claimed.Count);
        Assert.True(await store.MarkHandedOverAsync(claimed[0].Id, "dead-node:1", "<handed@magazine.example>", TimeSpan.FromMinutes(5), Ct));

        Assert.Equal(0, await SendAllDueAsync(world));
        world.Time.Advance(TimeSpan.FromMinutes(6));
        await SendAllDueAsync(world);

        var received = await smtp.WaitForMessagesAsync(3, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(3, received.Count);
        Assert.DoesNotContain(claimed[0].Recipient.Id, received.Select(m => m.Recipients.Single()));
        var unconfirmed = (await store.GetAsync(claimed[0].Id, Ct))!;
        Assert.Equal(DeliveryState.Unconfirmed, unconfirmed.State);
        Assert.StartsWith("email: ", unconfirmed.LastError);
        Assert.Contains("handed@magazine.example", unconfirmed.LastError);
        Assert.Contains($"syndicator deliveries retry {claimed[0].Id}", unconfirmed.LastError);
        Assert.Equal("<handed@magazine.example>", unconfirmed.RemoteId);
        Assert.Null(unconfirmed.HandedOverAt);

        // The person who checked the relay's log and found nothing retries it: now it goes out, once.
        Assert.True(await store.RetryAsync(claimed[0].Id, Ct));
        await SendAllDueAsync(world);
        received = await smtp.WaitForMessagesAsync(4, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(4, received.Select(m => m.Recipients.Single()).Distinct().Count());
        Assert.Equal(4, (await store.ListAsync(DeliveryState.Sent, null, 100, Ct)).Count);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_node_that_stalled_past_its_lease_does_not_send_what_another_node_has_claimed_since()
    {
        var (world, smtp, _) = await StartAsync(extra: new() { ["Digests:Smtp:Connections"] = "1" });
        await using var _w = world;
        await using var _s = smtp;
        for (var i = 0; i < 3; i++) await world.SubscribeAsync($"reader{i}@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);

        // After the first message this node stalls for longer than its lease, and another node claims the other two.
        var store = world.App.Get<DeliveryStore>();
        IReadOnlyList<Delivery> takenOver = [];
        var database = world.App.Get<Database>();
        var progress = new SynchronousProgress(p =>
        {
            if (p.Done != 1) return;
            // Stalled (frozen, not merely slow: its lease renewals did not run either) until its leases ran out.
            using (var connection = database.OpenAsync(Ct).GetAwaiter().GetResult())
                connection.Execute("UPDATE deliveries SET lease_expires_at = @past WHERE state = 'in-flight'", new { past = world.Time.GetUtcNow().AddSeconds(-1) });
            takenOver = store.ClaimDueAsync(EmailChannel.ChannelName, "other-node:2", TimeSpan.FromMinutes(5), 10, Ct).GetAwaiter().GetResult();
        });
        var report = await world.App.SendEmailAsync(progress, Ct);

        // The first message's "sent" waits in the worker's queue (it rides with the next write) when the node freezes, so
        // the other node takes over all three: the frozen node then sends nothing more and writes nothing over its claims,
        // and the first keeps its hand-over mark, which tells the new owner it may be at the relay (unconfirmed, never resent).
        Assert.Equal(0, report.Sent);
        Assert.Single(await smtp.MessagesAsync(Ct));
        // The second and third messages were on the way while their marks were written: each stopped before the end of
        // its data, and the connection was dropped under it (the relay discards an unfinished message), so the third
        // went over a new connection and the frozen node never opened a third.
        Assert.Equal(2, (await smtp.GetStatsAsync(TestContext.Current.CancellationToken)).Connections);
        Assert.Equal(3, takenOver.Count);
        var rows = await Task.WhenAll(takenOver.Select(d => store.GetAsync(d.Id, Ct)));
        Assert.All(rows, r => Assert.Equal((DeliveryState.InFlight, "other-node:2"), (r!.State, r.ClaimedBy)));
        Assert.Equal(1, rows.Count(r => r!.HandedOverAt is not null));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_run_of_many_batches_keeps_its_relay_connections_open_from_batch_to_batch()
    {
        var (world, smtp, _) = await StartAsync(extra: new() { ["Deliveries:BatchSize"] = "10" });
        await using var _w = world;
        await using var _s = smtp;
        for (var i = 0; i < 45; i++) await world.SubscribeAsync($"reader{i:D2}@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);

        var report = await world.App.SendAllEmailAsync(Ct);

        Assert.Equal(45, report!.Sent);
        var stats = await smtp.GetStatsAsync(Ct);
        Assert.Equal(45, stats.Messages);
        Assert.True(stats.Connections <= 2, $"5 batches of 10 over Digests:Smtp:Connections=2 opened {stats.Connections} connections");
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_hourly_cap_holds_the_rest_back_until_the_hour_has_passed()
    {
        var (world, smtp, _) = await StartAsync(extra: new() { ["Digests:Smtp:MaxPerHour"] = "3" });
        await using var _w = world;
        await using var _s = smtp;
        for (var i = 0; i < 5; i++) await world.SubscribeAsync($"reader{i}@example.com");
        await world.ImportAsync("Headline", "Jane Doe");

        await world.RunDailyAsync(TimeSpan.FromHours(1));
        await SendAllDueAsync(world);
        Assert.Equal(3, (await smtp.MessagesAsync(Ct)).Count);

        world.Time.Advance(TimeSpan.FromMinutes(61));
        await SendAllDueAsync(world);
        Assert.Equal(5, (await smtp.WaitForMessagesAsync(5, TimeSpan.FromSeconds(10), Ct)).Count);
    }

    private sealed class SynchronousProgress(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
