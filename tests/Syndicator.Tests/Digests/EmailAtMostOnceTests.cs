using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Hosting;
using Syndicator.Storage;
using Syndicator.Tests.Support;
using Syndicator.Shared;

namespace Syndicator.Tests.Digests;

/// <summary>The e-mail channel's at-most-once promise at the seams a real relay exposes: a lost 250, a slow relay, two stores.</summary>
public sealed class EmailAtMostOnceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(DigestWorld World, SmtpTestServer Smtp)> StartAsync(Dictionary<string, string?>? extra = null, StorageProvider provider = StorageProvider.Sqlite)
    {
        var smtp = await SmtpTestServer.StartAsync(null, Ct);
        var settings = new Dictionary<string, string?>
        {
            ["Digests:Smtp:Host"] = smtp.Host,
            ["Digests:Smtp:Port"] = smtp.Port.ToString(),
            ["Digests:Smtp:Security"] = "None",
            ["Digests:Smtp:Connections"] = "1",
            ["Digests:Smtp:MessagesPerSecond"] = "1000",
            ["Digests:Smtp:TimeoutSeconds"] = "10",
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        return (await DigestWorld.CreateAsync(provider, settings), smtp);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
    public async Task A_relay_that_stores_the_message_and_drops_the_connection_before_its_250_gets_it_once_and_the_delivery_is_unconfirmed_until_resent_by_hand(StorageProvider provider)
    {
        var (world, smtp) = await StartAsync(provider: provider);
        await using var _w = world;
        await using var _s = smtp;
        foreach (var reader in new[] { "lost@example.com", "fine@example.com", "also-fine@example.com" }) await world.SubscribeAsync(reader);
        await world.ImportAsync("Headline", "Jane Doe");
        smtp.DropAfterData("lost@example.com");

        await world.RunDailyAsync(TimeSpan.FromHours(1));
        // Later runs, retries, other nodes: nothing resends it on its own.
        world.Time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(0, (await world.App.SendAllEmailAsync(Ct))!.Attempted);

        var received = await smtp.WaitForMessagesAsync(3, TimeSpan.FromSeconds(10), Ct);
        Assert.Single(received, m => m.Recipients.Single() == "lost@example.com");
        var store = world.App.Get<DeliveryStore>();
        var lost = Assert.Single(await store.ListAsync(DeliveryState.Unconfirmed, null, null, 10, Ct));
        var messageId = received.Single(m => m.Recipients.Single() == "lost@example.com").Message.MessageId;
        Assert.Equal(messageId, lost.RemoteId);
        Assert.Contains(messageId!, lost.LastError);
        Assert.Contains($"syndicator deliveries retry {lost.Id}", lost.LastError);
        Assert.Equal(2, (await store.ListAsync(DeliveryState.Sent, null, null, 10, Ct)).Count);

        // A person who found nothing in the relay's log resends it: it goes out with the same Message-ID, so a
        // reader's mail program can tell the copies are one message.
        Assert.True(await store.RetryAsync(lost.Id, Ct));
        Assert.Equal(1, (await world.App.SendAllEmailAsync(Ct))!.Sent);
        received = await smtp.WaitForMessagesAsync(4, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal([messageId, messageId], received.Where(m => m.Recipients.Single() == "lost@example.com").Select(m => m.Message.MessageId));
        Assert.Equal(DeliveryState.Sent, (await store.GetAsync(lost.Id, Ct))!.State);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
    public async Task A_relay_that_drops_the_connection_after_mail_from_is_retried_and_the_message_goes_out_once(StorageProvider provider)
    {
        var (world, smtp) = await StartAsync(provider: provider);
        await using var _w = world;
        await using var _s = smtp;
        foreach (var reader in new[] { "envelope-lost@example.com", "fine@example.com" }) await world.SubscribeAsync(reader);
        await world.ImportAsync("عنوان ✉ Headline", "Jane Doe");
        // The hand-over mark is written while the relay takes the envelope, so it is on the row when the relay goes
        // away; the end of the data was never written, so the message cannot be at the relay and must not be left unconfirmed.
        smtp.DropAtRecipient("envelope-lost@example.com");

        await world.RunDailyAsync(TimeSpan.FromHours(1));

        var store = world.App.Get<DeliveryStore>();
        var waiting = Assert.Single(await store.ListAsync(DeliveryState.RetryWait, null, null, 10, Ct));
        Assert.StartsWith("smtp:", waiting.LastError);
        Assert.Null(waiting.HandedOverAt);
        Assert.Empty(await store.ListAsync(DeliveryState.Unconfirmed, null, null, 10, Ct));
        var first = await smtp.WaitForMessagesAsync(1, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal("fine@example.com", Assert.Single(first).Recipients.Single());

        world.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(1, (await world.App.SendAllEmailAsync(Ct))!.Sent);
        var received = await smtp.WaitForMessagesAsync(2, TimeSpan.FromSeconds(10), Ct);
        Assert.Single(received, m => m.Recipients.Single() == "envelope-lost@example.com");
        Assert.Equal(DeliveryState.Sent, (await store.GetAsync(waiting.Id, Ct))!.State);
        Assert.Equal(1, smtp.Stats.Rejections.Count(r => r.Kind == "dropped_at_rcpt"));
    }

    /// <summary>
    /// The relay connection gathers MailKit's writes and times its reads itself (<see cref="RelayStream"/>): a relay
    /// that takes the whole message and then says nothing for longer than Digests:Smtp:TimeoutSeconds must still end
    /// the attempt at the timeout, as unconfirmed (the message may be stored), and never be resent on its own.
    /// </summary>
    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
    public async Task A_relay_silent_after_the_data_past_the_timeout_leaves_the_delivery_unconfirmed_and_sends_it_once(StorageProvider provider)
    {
        var (world, smtp) = await StartAsync(new() { ["Digests:Smtp:TimeoutSeconds"] = "1" }, provider);
        await using var _w = world;
        await using var _s = smtp;
        await world.SubscribeAsync("قارئ.reader@example.com");
        await world.ImportAsync("عنوان ✉ Headline", "Jane Doe");
        // The relay answers the end of the data only after 4 s: three seconds after the client must have given up.
        smtp.DelayReplies(TimeSpan.FromSeconds(4));

        await world.RunDailyAsync(TimeSpan.FromHours(1));

        var store = world.App.Get<DeliveryStore>();
        var silent = Assert.Single(await store.ListAsync(DeliveryState.Unconfirmed, null, null, 10, Ct));
        Assert.Contains(nameof(TimeoutException), silent.LastError);
        Assert.Empty(await store.ListAsync(DeliveryState.Sent, null, null, 10, Ct));
        // Nothing resends it on its own, even once the relay answers at once again.
        smtp.ClearRules();
        world.Time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(0, (await world.App.SendAllEmailAsync(Ct))!.Attempted);
    }

    /// <summary>
    /// A relay connection reads and writes blocking, on a thread of its own (<see cref="MailConnection"/>): the
    /// shutdown deadline must still cut a read under way at once, not after the relay's answer or the timeout.
    /// </summary>
    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_cancellation_cuts_a_blocking_wait_for_the_relays_answer_at_once_and_the_message_is_unconfirmed()
    {
        await using var smtp = await SmtpTestServer.StartAsync(null, Ct);
        smtp.DelayReplies(TimeSpan.FromSeconds(20));
        var options = new SmtpOptions { Host = smtp.Host, Port = smtp.Port, Security = SmtpSecurity.None, TimeoutSeconds = 60 };
        await using var connection = new MailConnection(options, Path.GetTempPath());
        var message = new MimeKit.MimeMessage([MimeKit.MailboxAddress.Parse("news@example.com")], [MimeKit.MailboxAddress.Parse("قارئ@example.com")], "عنوان 🚀",
            new MimeKit.TextPart("plain") { Text = "Hello\r\n.\r\nworld" });
        message.MessageId = "cut-test@example.com";
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(1));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var result = await connection.SendAsync(message, null, Task.FromResult(true), deadline.Token);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"the cut took {clock.Elapsed.TotalSeconds:0.0} s");
        var unconfirmed = Assert.IsType<DeliveryOutcome.Unconfirmed>(result.Outcome);
        Assert.Equal("cut-test@example.com", unconfirmed.RemoteId);
        // The connection is usable again: the next message connects afresh, once the relay answers at once.
        smtp.ClearRules();
        var again = await connection.SendAsync(message, null, Task.FromResult(true), Ct);
        Assert.IsType<DeliveryOutcome.Sent>(again.Outcome);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_refusal_before_the_data_is_written_is_retried_not_unconfirmed()
    {
        var (world, smtp) = await StartAsync();
        await using var _w = world;
        await using var _s = smtp;
        await world.SubscribeAsync("busy@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        smtp.FailData("busy@example.com", 451, "4.3.0 try later", times: 1);

        await world.RunDailyAsync(TimeSpan.FromHours(1));

        var waiting = Assert.Single(await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.RetryWait, null, null, 10, Ct));
        Assert.Contains("451", waiting.LastError);
        world.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(1, (await world.App.SendAllEmailAsync(Ct))!.Sent);
        Assert.Single(await smtp.WaitForMessagesAsync(1, TimeSpan.FromSeconds(10), Ct));
    }

    [Theory(Timeout = 120_000), MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
    public async Task A_hand_over_mark_that_fails_while_the_message_is_on_the_way_stops_it_before_its_end_and_it_goes_out_once_later(StorageProvider provider)
    {
        var (world, smtp) = await StartAsync(provider: provider);
        await using var _w = world;
        await using var _s = smtp;
        await world.SubscribeAsync("refused-mark@example.com");
        await world.SubscribeAsync("fine@example.com");
        await world.ImportAsync("Headline ✉ سرخط", "Jane Doe");
        // The store refuses one reader's hand-over mark: the mark is written while the relay already has the envelope
        // and most of the message, so only the end of the data is left to hold back.
        var database = world.App.Get<Database>();
        await using (var connection = await database.OpenAsync(Ct))
            await connection.ExecuteAsync(provider == StorageProvider.Sqlite
                ? """
                  CREATE TRIGGER refuse_mark BEFORE UPDATE OF handed_over_at ON deliveries
                  WHEN NEW.handed_over_at IS NOT NULL AND NEW.recipient = (SELECT id FROM subscribers WHERE email = 'refused-mark@example.com')
                  BEGIN SELECT RAISE(ABORT, 'hand-over refused for the test'); END
                  """
                : """
                  CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN
                    IF NEW.handed_over_at IS NOT NULL AND NEW.recipient = (SELECT id FROM subscribers WHERE email = 'refused-mark@example.com') THEN
                      RAISE EXCEPTION 'hand-over refused for the test';
                    END IF;
                    RETURN NEW;
                  END $$;
                  CREATE TRIGGER refuse_mark BEFORE UPDATE ON deliveries FOR EACH ROW EXECUTE FUNCTION refuse_mark();
                  """);

        await world.RunDailyAsync(TimeSpan.FromHours(1));

        // The relay kept only the other reader's message; the refused one is waiting to be retried, not unconfirmed,
        // and carries no hand-over mark.
        Assert.Equal(["fine@example.com"], (await smtp.MessagesAsync(TestContext.Current.CancellationToken)).Select(m => m.Recipients.Single()));
        var store = world.App.Get<DeliveryStore>();
        var waiting = Assert.Single(await store.ListAsync(DeliveryState.RetryWait, null, null, 10, Ct));
        Assert.Contains("hand-over refused for the test", waiting.LastError);
        Assert.Null(waiting.HandedOverAt);
        Assert.Empty(await store.ListAsync(DeliveryState.Unconfirmed, null, null, 10, Ct));

        await using (var connection = await database.OpenAsync(Ct))
            await connection.ExecuteAsync(provider == StorageProvider.Sqlite ? "DROP TRIGGER refuse_mark" : "DROP TRIGGER refuse_mark ON deliveries; DROP FUNCTION refuse_mark()");
        world.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(1, (await world.App.SendAllEmailAsync(Ct))!.Sent);
        var received = await smtp.WaitForMessagesAsync(2, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(["fine@example.com", "refused-mark@example.com"], received.Select(m => m.Recipients.Single()).Order());
        Assert.Equal(DeliveryState.Sent, (await store.GetAsync(waiting.Id, Ct))!.State);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Two_fresh_stores_never_give_two_messages_the_same_Message_ID_and_a_delivery_keeps_its_own_across_attempts()
    {
        var ids = new List<string>();
        for (var store = 0; store < 2; store++)
        {
            await using var world = await DigestWorld.CreateAsync();
            await world.SubscribeAsync("reader@example.com");
            await world.ImportAsync("Headline", "Jane Doe");
            await world.RunDailyAsync(TimeSpan.FromHours(1));
            var row = Assert.Single(await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Sent, null, null, 10, Ct));
            Assert.Equal(1, row.Id); // the same row id in both stores: once it made the same Message-ID
            var message = Assert.Single(world.Mailed());
            Assert.Equal(message.MessageId, row.RemoteId);
            // The key starts with the time its delivery was created; the Message-ID shows the key masked, none of that time.
            var tokens = world.App.Get<SubscriberTokens>();
            var shown = message.MessageId!.Split('@')[0]["syndicator-".Length..];
            Assert.Equal(tokens.MessageKey(row.Key), shown);
            Assert.Equal(row.Key, tokens.DeliveryKey(shown));
            Assert.DoesNotContain(row.Key[..12], message.MessageId);
            Assert.DoesNotContain(row.Key[12..], message.MessageId);
            ids.Add(message.MessageId!);
        }
        Assert.Equal(2, ids.Distinct().Count());
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Deliveries.DeliveryStoreTests.Providers), MemberType = typeof(Deliveries.DeliveryStoreTests))]
    public async Task A_batch_that_takes_many_times_its_lease_to_send_keeps_its_claims_so_another_node_takes_none_and_nothing_is_sent_twice(StorageProvider provider)
    {
        // 12 messages, one connection, a relay that waits 250 ms before each answer: about 3 s of sending, while the
        // clock the leases run on moves 2 s every 100 ms (about 60 s in all) against a 10 s lease.
        var (world, smtp) = await StartAsync(new() { ["Deliveries:LeaseSeconds"] = "10" }, provider);
        await using var _w = world;
        await using var _s = smtp;
        const int readers = 12;
        for (var i = 0; i < readers; i++) await world.SubscribeAsync($"reader{i:D2}@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);
        smtp.DelayReplies(TimeSpan.FromMilliseconds(250));

        var services = world.App.App.Services;
        var other = new DeliveryWorker(services.GetRequiredService<DeliveryStore>(), new DeliveryNode("other-node:2"), services.GetRequiredService<ShutdownGrace>(),
            services.GetRequiredService<IOptions<DeliveryOptions>>(), world.Time, services.GetRequiredService<ILogger<DeliveryWorker>>());
        var otherEmail = ActivatorUtilities.CreateInstance<EmailChannel>(services);

        var sending = world.App.SendAllEmailAsync(Ct);
        var otherReports = new List<DrainReport>();
        while (!sending.IsCompleted)
        {
            await Task.Delay(100, Ct);
            world.Time.Advance(TimeSpan.FromSeconds(2));
            otherReports.Add(await other.DrainAsync(otherEmail, DrainFilter.All, untilEmpty: false, Ct) ?? DrainReport.None);
        }
        var report = (await sending)!;

        Assert.True(world.Time.GetUtcNow() - DigestWorld.Start > TimeSpan.FromSeconds(30), "the batch must outlive several leases for this test to prove anything");
        Assert.Equal(readers, report.Sent);
        Assert.All(otherReports, r => Assert.Equal(0, r.Attempted));
        var received = await smtp.WaitForMessagesAsync(readers, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(readers, received.Count);
        Assert.Equal(readers, received.Select(m => m.Recipients.Single()).Distinct().Count());
        Assert.Empty(await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Unconfirmed, null, null, 10, Ct));
    }
}
