using Dapper;
using MailKit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MimeKit;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Digests.Feedback;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>
/// Bounces, complaints and mailed unsubscribes read from a real IMAP server (Dovecot on loopback), from a corpus of
/// real-world formats in Fixtures/feedback written from their documented shapes. Placeholders: {{KEY}} (the delivery
/// key of the reader the fixture is about), {{OTHERKEY}} (another reader's), {{EMAIL}}, {{TOKEN}} (the reader's signed
/// unsubscribe token), {{FORGEDTOKEN}}.
/// </summary>
public sealed class FeedbackMailboxTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Expect(string File, FeedbackKind? Kind, string? Status = null);

    /// <summary>Every fixture and what it must come to; null: left alone, never counted.</summary>
    private static readonly Expect[] Corpus =
    [
        new("dsn-postfix-hard", FeedbackKind.HardBounce, "5.1.1"),
        new("dsn-postfix-delayed", FeedbackKind.SoftBounce, "4.4.1"),
        new("dsn-gmail-hard", FeedbackKind.HardBounce, "5.1.1"),
        new("dsn-office365-hard", FeedbackKind.HardBounce, "5.1.10"),
        new("dsn-mailbox-full-soft", FeedbackKind.SoftBounce, "4.2.2"),
        new("dsn-verp-only", FeedbackKind.HardBounce, "5.1.2"),
        new("dsn-exim-multipart", FeedbackKind.HardBounce, "5.0.0"),
        new("dsn-delivered", null),
        new("dsn-not-ours", null),
        new("dsn-conflicting-ties", null),
        new("qmail-hard", FeedbackKind.HardBounce, "5.1.1"),
        new("qmail-local-no-mailbox", FeedbackKind.HardBounce, "5.1.1"),
        new("yahoo-legacy", FeedbackKind.HardBounce, "5.0.0"),
        new("exim-text-hard", FeedbackKind.HardBounce, "5.1.1"),
        new("exim-text-delay", FeedbackKind.SoftBounce, "4.7.1"),
        new("exchange2003-ndr", FeedbackKind.HardBounce, "5.1.1"),
        new("sendmail-legacy", FeedbackKind.HardBounce, "5.1.1"),
        new("arf-yahoo-abuse", FeedbackKind.Complaint),
        new("arf-microsoft-jmrp", FeedbackKind.Complaint),
        new("arf-fraud", FeedbackKind.Complaint),
        new("arf-not-spam", null),
        new("arf-not-ours", null),
        new("vacation-rfc3834", null),
        new("vacation-legacy", null),
        new("vacation-mailer-daemon-lookalike", null),
        new("person-quoting-qmail", null),
        new("unsubscribe-mailto", FeedbackKind.Unsubscribe),
        new("unsubscribe-forged", null),
        new("reader-reply", null),
    ];

    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "feedback", name + ".eml");

    internal static MimeMessage Fixture(string name, Subscriber reader, Delivery delivery, Delivery other, SubscriberTokens tokens)
    {
        var text = File.ReadAllText(FixturePath(name))
            .Replace("{{KEY}}", delivery.Key).Replace("{{OTHERKEY}}", other.Key).Replace("{{EMAIL}}", reader.Email)
            .Replace("{{TOKEN}}", tokens.Unsubscribe(reader.Id)).Replace("{{FORGEDTOKEN}}", reader.Id + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        return MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)));
    }

    private static Dictionary<string, string?> Settings(ImapTestServer imap)
    {
        var settings = imap.Settings();
        settings["Digests:Feedback:ReturnPath"] = "bounces@magazine.example";
        return settings;
    }

    [Fact]
    public void The_corpus_holds_at_least_twenty_formats_and_every_fixture_is_listed()
    {
        var files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "feedback"), "*.eml").Select(Path.GetFileNameWithoutExtension).Order().ToList();
        Assert.Equal(Corpus.Select(c => c.File).Order(), files);
        Assert.True(Corpus.Length >= 20, $"{Corpus.Length} formats");
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Every_format_is_classified_and_tied_to_its_delivery_unrelated_mail_is_untouched_and_a_second_pass_changes_nothing()
    {
        await using var imap = await ImapTestServer.StartAsync(Ct);
        await using var world = await DigestWorld.CreateAsync(settings: Settings(imap));
        var readers = new List<Subscriber>();
        for (var i = 0; i < Corpus.Length; i++) readers.Add(await world.SubscribeAsync($"reader{i:D2}@example.com"));
        await world.ImportAsync("Headline", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));
        var deliveries = (await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Sent, EmailChannel.ChannelName, null, 1000, Ct)).ToDictionary(d => d.Recipient.Id);
        Assert.Equal(Corpus.Length, deliveries.Count);
        var tokens = world.App.Get<SubscriberTokens>();
        var messageIds = new Dictionary<string, string>();
        for (var i = 0; i < Corpus.Length; i++)
        {
            var message = Fixture(Corpus[i].File, readers[i], deliveries[readers[i].Id], deliveries[readers[(i + 1) % readers.Count].Id], tokens);
            messageIds[Corpus[i].File] = message.MessageId ?? message.Subject ?? "";
            await imap.AppendAsync(message, cancellationToken: Ct);
        }

        var mailbox = world.App.Get<FeedbackMailbox>();
        var first = await mailbox.PassOnceAsync(Ct);

        var handled = Corpus.Where(c => c.Kind is not null).ToList();
        Assert.Equal(new MailboxPass(Corpus.Length, handled.Count, 0, Corpus.Length - handled.Count, 0), first);
        var rows = await FeedbackRowsAsync(world);
        for (var i = 0; i < Corpus.Length; i++)
        {
            var (expect, reader, delivery) = (Corpus[i], readers[i], deliveries[readers[i].Id]);
            var mine = rows.Where(r => r.SubscriberId == reader.Id).ToList();
            var state = (await world.App.Get<SubscriberStore>().FindAsync(reader.Id, Ct))!.State;
            var suppressed = await world.App.Get<SuppressionList>().FindAsync(reader.Email, Ct);
            if (expect.Kind is not { } kind)
            {
                Assert.True(mine.Count == 0, $"{expect.File}: expected to be left alone, got {string.Join(", ", mine.Select(r => r.Kind))}");
                Assert.Equal(SubscriberState.Confirmed, state);
                Assert.Null(suppressed);
                continue;
            }
            var row = Assert.Single(mine);
            Assert.True(kind.Column() == row.Kind, $"{expect.File}: expected {kind.Column()}, got {row.Kind} ({row.Detail})");
            Assert.Equal(kind == FeedbackKind.Unsubscribe ? null : delivery.Id, row.DeliveryId);
            if (expect.Status is not null) Assert.True(expect.Status == row.Status, $"{expect.File}: expected status {expect.Status}, got {row.Status}");
            var (expectedState, reason) = kind switch
            {
                FeedbackKind.HardBounce => (SubscriberState.Bounced, (SuppressionReason?)SuppressionReason.Bounced),
                FeedbackKind.Complaint => (SubscriberState.Complained, SuppressionReason.Complained),
                FeedbackKind.Unsubscribe => (SubscriberState.Unsubscribed, SuppressionReason.Unsubscribed),
                _ => (SubscriberState.Confirmed, null),
            };
            Assert.True(expectedState == state, $"{expect.File}: subscriber is {state}, expected {expectedState}");
            Assert.Equal(reason, suppressed?.Reason);
            if (suppressed is not null) Assert.Equal("mailbox", suppressed.Source);
            // The delivery was sent, and stays so: the bounce is recorded beside it.
            Assert.Equal(DeliveryState.Sent, (await world.App.Get<DeliveryStore>().GetAsync(delivery.Id, Ct))!.State);
        }

        var inbox = await imap.ListAsync("INBOX", Ct);
        var moved = await imap.ListAsync("Syndicator-Handled", Ct);
        Assert.Equal(handled.Select(c => messageIds[c.File]).Order(), moved.Select(m => m.Id).Order());
        Assert.Equal(Corpus.Where(c => c.Kind is null).Select(c => messageIds[c.File]).Order(), inbox.Select(m => m.Id).Order());
        // Not ours: not moved, not flagged, not even marked read.
        Assert.All(inbox, m => Assert.Equal(MessageFlags.None, m.Flags & (MessageFlags.Seen | MessageFlags.Deleted | MessageFlags.Flagged)));

        var second = await mailbox.PassOnceAsync(Ct);
        Assert.Equal(new MailboxPass(Corpus.Length - handled.Count, 0, 0, Corpus.Length - handled.Count, 0), second);
        Assert.Equal(rows.Count, (await FeedbackRowsAsync(world)).Count);
        Assert.Equal(inbox, await imap.ListAsync("INBOX", Ct));

        // The same report delivered again (a copy in the inbox) is the same event: moved, not counted twice.
        var again = Fixture("dsn-postfix-delayed", readers[1], deliveries[readers[1].Id], deliveries[readers[2].Id], tokens);
        await imap.AppendAsync(again, cancellationToken: Ct);
        var third = await mailbox.PassOnceAsync(Ct);
        Assert.Equal(1, third.AlreadyRecorded);
        Assert.Equal(rows.Count, (await FeedbackRowsAsync(world)).Count);
        Assert.Equal(1, await SoftBouncesAsync(world, readers[1].Id));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Soft_bounces_of_distinct_digests_up_to_the_limit_mark_the_reader_bounced_and_one_digest_reported_twice_counts_once()
    {
        await using var imap = await ImapTestServer.StartAsync(Ct);
        var settings = Settings(imap);
        settings["Digests:Feedback:SoftBounceLimit"] = "2";
        await using var world = await DigestWorld.CreateAsync(settings: settings);
        var reader = await world.SubscribeAsync("full-mailbox@example.com");
        var tokens = world.App.Get<SubscriberTokens>();
        var mailbox = world.App.Get<FeedbackMailbox>();
        var sent = new List<Delivery>();
        for (var day = 0; day < 2; day++)
        {
            await world.ImportAsync($"Story {day}", "Jane Doe");
            await world.RunDailyAsync(TimeSpan.FromDays(1));
            sent = (await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Sent, EmailChannel.ChannelName, null, 10, Ct)).OrderBy(d => d.Id).ToList();
        }
        Assert.Equal(2, sent.Count);

        // Two reports (different Message-IDs) about the first digest: one soft bounce.
        var report = Fixture("dsn-mailbox-full-soft", reader, sent[0], sent[1], tokens);
        await imap.AppendAsync(report, cancellationToken: Ct);
        report.MessageId = "second-report-of-the-same-delivery@mx.example.net";
        await imap.AppendAsync(report, cancellationToken: Ct);
        await mailbox.PassOnceAsync(Ct);
        Assert.Equal(1, await SoftBouncesAsync(world, reader.Id));
        Assert.Equal(SubscriberState.Confirmed, (await world.App.Get<SubscriberStore>().FindAsync(reader.Id, Ct))!.State);

        await imap.AppendAsync(Fixture("dsn-postfix-delayed", reader, sent[1], sent[0], tokens), cancellationToken: Ct);
        await mailbox.PassOnceAsync(Ct);
        Assert.Equal(2, await SoftBouncesAsync(world, reader.Id));
        Assert.Equal(SubscriberState.Bounced, (await world.App.Get<SubscriberStore>().FindAsync(reader.Id, Ct))!.State);
        Assert.Equal(SuppressionReason.Bounced, (await world.App.Get<SuppressionList>().FindAsync(reader.Email, Ct))!.Reason);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task End_to_end_a_bounce_and_a_complaint_stop_the_next_digest_and_a_mailed_unsubscribe_takes_effect_within_one_poll()
    {
        await using var imap = await ImapTestServer.StartAsync(Ct);
        await using var smtp = await SmtpTestServer.StartAsync(cancellationToken: Ct);
        var settings = Settings(imap);
        settings["Digests:Smtp:Host"] = smtp.Host;
        settings["Digests:Smtp:Port"] = smtp.Port.ToString();
        settings["Digests:Smtp:Security"] = "None";
        settings["Digests:Smtp:MessagesPerSecond"] = "1000";
        settings["Digests:Feedback:UnsubscribeAddress"] = "leave@magazine.example";
        await using var world = await DigestWorld.CreateAsync(settings: settings);
        foreach (var name in new[] { "bounces", "complains", "leaves", "stays" }) await world.SubscribeAsync($"{name}@example.com");
        await world.ImportAsync("First story", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));
        var received = await smtp.WaitForMessagesAsync(4, TimeSpan.FromSeconds(30), Ct);
        var byReader = received.ToDictionary(m => m.Recipients.Single());

        // Each message went out from its own VERP return path, naming the delivery its Message-ID names.
        foreach (var message in received)
        {
            var key = message.Message.MessageId!.Split('@')[0]["syndicator-".Length..];
            Assert.Equal($"bounces+{key}@magazine.example", message.MailFrom);
        }

        // The mailbox is watched by the running service (IDLE on Dovecot).
        var service = world.App.App.Services.GetServices<IHostedService>().OfType<FeedbackMailboxService>().Single();
        await service.StartAsync(Ct);
        try
        {
            // A DSN for one reader, as their server would send it to the VERP address (built from what was received).
            await imap.AppendAsync(BounceFor(byReader["bounces@example.com"]), cancellationToken: Ct);
            // An ARF complaint for another, about the message as it was received.
            await imap.AppendAsync(ComplaintAbout(byReader["complains@example.com"]), cancellationToken: Ct);
            // A third reader's mail program follows the mailto: of List-Unsubscribe.
            await imap.AppendAsync(MailtoUnsubscribe(byReader["leaves@example.com"]), cancellationToken: Ct);

            var store = world.App.Get<SubscriberStore>();
            await WaitUntilAsync(async () => (await store.FindAsync("leaves@example.com", Ct))!.State == SubscriberState.Unsubscribed
                && (await store.FindAsync("bounces@example.com", Ct))!.State == SubscriberState.Bounced
                && (await store.FindAsync("complains@example.com", Ct))!.State == SubscriberState.Complained, imap);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }

        await world.ImportAsync("Second story", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromDays(1));
        var all = await smtp.WaitForMessagesAsync(5, TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(["stays@example.com"], all.Skip(4).Select(m => m.Recipients.Single()));
        Assert.Equal(2, (await world.App.Get<SubscriberStore>().ListAsync(Ct)).Count(s => s.State is SubscriberState.Bounced or SubscriberState.Complained));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_mailbox_that_refuses_the_login_is_reported_with_its_host_and_nothing_is_recorded()
    {
        await using var imap = await ImapTestServer.StartAsync(Ct);
        var settings = Settings(imap);
        var variable = "SYN_TEST_IMAP_WRONG_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "not-the-password");
        settings["Digests:Feedback:Imap:Password"] = "env:" + variable;
        await using var world = await DigestWorld.CreateAsync(settings: settings);
        await Assert.ThrowsAsync<MailKit.Security.AuthenticationException>(() => world.App.Get<FeedbackMailbox>().PassOnceAsync(Ct));
        Assert.Empty(await FeedbackRowsAsync(world));
        Environment.SetEnvironmentVariable(variable, null);
    }

    private static MimeMessage BounceFor(ReceivedMessage original)
    {
        var report = new MultipartReport("delivery-status")
        {
            new TextPart("plain") { Text = "Your message could not be delivered to one or more recipients." },
        };
        var status = new MessageDeliveryStatus();
        var perMessage = new HeaderList { { "Reporting-MTA", "dns; mx.example.com" } };
        var perRecipient = new HeaderList
        {
            { "Final-Recipient", "rfc822; " + original.Recipients.Single() },
            { "Action", "failed" },
            { "Status", "5.1.1" },
            { "Diagnostic-Code", "smtp; 550 5.1.1 User unknown" },
        };
        status.StatusGroups.Add(perMessage);
        status.StatusGroups.Add(perRecipient);
        report.Add(status);
        report.Add(new MessagePart { Message = original.Message });
        var bounce = new MimeMessage { Subject = "Undelivered Mail Returned to Sender", Body = report, MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId("mx.example.com") };
        bounce.From.Add(new MailboxAddress("Mail Delivery System", "MAILER-DAEMON@mx.example.com"));
        bounce.To.Add(MailboxAddress.Parse(original.MailFrom));
        return bounce;
    }

    private static MimeMessage ComplaintAbout(ReceivedMessage original)
    {
        var report = new MultipartReport("feedback-report") { new TextPart("plain") { Text = "This is an email abuse report." } };
        var feedback = new MessageFeedbackReport();
        feedback.Fields.Add("Feedback-Type", "abuse");
        feedback.Fields.Add("User-Agent", "ExampleISP-FBL/1.0");
        feedback.Fields.Add("Version", "1");
        report.Add(feedback);
        report.Add(new MessagePart { Message = original.Message });
        var complaint = new MimeMessage { Subject = "Complaint", Body = report, MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId("fbl.example.com") };
        complaint.From.Add(MailboxAddress.Parse("fbl@fbl.example.com"));
        complaint.To.Add(MailboxAddress.Parse("digest@magazine.example"));
        return complaint;
    }

    /// <summary>What a mail program sends for the <c>mailto:</c> in List-Unsubscribe: to its address, with its subject.</summary>
    private static MimeMessage MailtoUnsubscribe(ReceivedMessage original)
    {
        var header = original.Message.Headers[HeaderId.ListUnsubscribe]!.Replace("\r\n", "");
        var mailto = new Uri(System.Text.RegularExpressions.Regex.Match(header, "<(mailto:[^>]+)>").Groups[1].Value);
        var subject = Uri.UnescapeDataString(mailto.Query.TrimStart('?').Split('&').Single(p => p.StartsWith("subject=", StringComparison.Ordinal))["subject=".Length..]);
        var message = new MimeMessage { Subject = subject, Body = new TextPart("plain") { Text = "" }, MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId("example.com") };
        message.From.Add(MailboxAddress.Parse(original.Recipients.Single()));
        message.To.Add(MailboxAddress.Parse(mailto.AbsoluteUri["mailto:".Length..].Split('?')[0]));
        return message;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, ImapTestServer imap)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"The feedback was not applied within 60 s.{Environment.NewLine}{imap.ServerLog}");
            await Task.Delay(100, Ct);
        }
    }

    private static async Task<List<StoredFeedback>> FeedbackRowsAsync(DigestWorld world) =>
        (await world.App.Get<FeedbackRecorder>().ListAsync(1000, Ct)).ToList();

    private static async Task<int> SoftBouncesAsync(DigestWorld world, string id)
    {
        await using var connection = await world.App.Get<Database>().OpenAsync(Ct);
        return await connection.ExecuteScalarAsync<int>("SELECT soft_bounces FROM subscribers WHERE id = @id", new { id });
    }
}
