using Dapper;
using MimeKit;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Digests.Feedback;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>A publisher's view of digests: a test send that is nobody's digest, the List-Id header, and the report per run.</summary>
public sealed class DigestRunReportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_test_send_reaches_the_relay_as_a_real_digest_would_and_is_recorded_as_nobodys_digest()
    {
        await using var smtp = await SmtpTestServer.StartAsync(cancellationToken: Ct);
        await using var world = await DigestWorld.CreateAsync(settings: new()
        {
            ["Digests:Smtp:Host"] = smtp.Host, ["Digests:Smtp:Port"] = smtp.Port.ToString(), ["Digests:Smtp:Security"] = "None",
            ["Digests:Feedback:ReturnPath"] = "bounces@magazine.example",
        });
        var send = world.App.Get<DigestTestSend>();
        Assert.Contains("no articles yet", Assert.IsType<DeliveryOutcome.Permanent>(await send.SendAsync("publisher@example.com", Ct)).Error);
        await world.ImportAsync("مقاله تازه 🌍", "Jane Doe");

        Assert.IsType<DeliveryOutcome.Sent>(await send.SendAsync("publisher@example.com", Ct));
        Assert.Contains("a@localhost", Assert.IsType<DeliveryOutcome.Permanent>(await send.SendAsync("a@localhost", Ct)).Error);

        var received = Assert.Single(await smtp.WaitForMessagesAsync(1, TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(["publisher@example.com"], received.Recipients);
        Assert.Contains("مقاله تازه 🌍", received.Message.TextBody);
        Assert.NotNull(received.Message.Headers[DigestTestSend.TestHeader]);
        Assert.StartsWith("syndicator-test-", received.Message.MessageId);
        Assert.Equal("<digest.magazine.example>", received.Message.Headers[HeaderId.ListId]);
        await using var connection = await world.App.Get<Database>().OpenAsync(Ct);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM deliveries"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM subscribers"));
        Assert.Empty(await world.App.Get<DigestReports>().ListAsync(10, Ct));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.PostgreSql)]
    public async Task The_report_counts_each_runs_deliveries_and_the_feedback_that_names_them(StorageProvider provider)
    {
        if (provider == StorageProvider.PostgreSql) TestStore.RequirePostgres();
        await using var world = await DigestWorld.CreateAsync(provider);
        foreach (var name in new[] { "hard", "soft", "complains", "fine" }) await world.SubscribeAsync($"{name}@example.com");
        await world.ImportAsync("Monday", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));
        var subscribers = (await world.App.Get<SubscriberStore>().ListAsync(Ct)).ToDictionary(s => s.Id, s => s.Email);
        var deliveries = (await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Sent, EmailChannel.ChannelName, null, 10, Ct)).ToDictionary(d => subscribers[d.Recipient.Id]);
        var recorder = world.App.Get<FeedbackRecorder>();
        await recorder.RecordAsync(new FeedbackEvent(FeedbackKind.HardBounce, deliveries["hard@example.com"].Key, null, null, "5.1.1", "test"), "test:1", "test", Ct);
        await recorder.RecordAsync(new FeedbackEvent(FeedbackKind.SoftBounce, deliveries["soft@example.com"].Key, null, null, "4.2.2", "test"), "test:2", "test", Ct);
        await recorder.RecordAsync(new FeedbackEvent(FeedbackKind.SoftBounce, deliveries["soft@example.com"].Key, null, null, "4.2.2", "again"), "test:3", "test", Ct);
        await recorder.RecordAsync(new FeedbackEvent(FeedbackKind.Complaint, deliveries["complains@example.com"].Key, null, null, null, "test"), "test:4", "test", Ct);

        await world.ImportAsync("Tuesday", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromDays(1));

        var runs = await world.App.Get<DigestReports>().ListAsync(10, Ct);
        Assert.Equal(2, runs.Count);
        var (tuesday, monday) = (runs[0], runs[1]);
        Assert.Equal(("2026-11-02", 4L, 4L, 0L, 0L, 0L, 1L, 1L, 1L, 0L), (monday.Period, monday.Planned, monday.Sent, monday.Failed, monday.Unconfirmed, monday.Waiting, monday.SoftBounced, monday.HardBounced, monday.Complained, monday.Unsubscribed));
        // Tuesday's digest went to the two readers still receiving it.
        Assert.Equal(("2026-11-03", 2L, 2L, 0L, 0L), (tuesday.Period, tuesday.Planned, tuesday.Sent, tuesday.SoftBounced, tuesday.HardBounced));
    }
}
