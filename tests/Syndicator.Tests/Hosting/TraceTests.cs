using System.Collections.Concurrent;
using System.Diagnostics;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Shared;
using Syndicator.Tests.Digests;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

/// <summary>
/// The spans of one digest send through a real SMTP server, caught in-process by an <see cref="ActivityListener"/>
/// on Syndicator's source and MailKit's: the worker's drain, batch, attempt and send, and MailKit's SMTP client
/// under them, one trace. Other tests run beside this one, so only the spans under this test's own root count.
/// </summary>
public sealed class TraceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const string TestSourceName = "Syndicator.Tests.Traces";
    private static readonly ActivitySource TestSource = new(TestSourceName);

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task One_digest_send_is_one_trace_drain_then_batch_then_attempt_then_send_then_MailKit_each_the_parent_of_the_next()
    {
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is Telemetry.SourceName or MailKit.Telemetry.SmtpClient.ActivitySourceName or TestSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);

        var smtp = await SmtpTestServer.StartAsync(null, Ct);
        await using var _s = smtp;
        await using var world = await DigestWorld.CreateAsync(settings: new()
        {
            ["Digests:Smtp:Host"] = smtp.Host,
            ["Digests:Smtp:Port"] = smtp.Port.ToString(),
            ["Digests:Smtp:Security"] = "None",
            ["Digests:Smtp:Connections"] = "1",
            ["Digests:Smtp:TimeoutSeconds"] = "10",
        });
        await world.SubscribeAsync("reader@example.com");
        await world.SubscribeAsync("gone@example.com");
        smtp.FailData("gone@example.com", 550, "5.1.1 no such mailbox");

        ActivityTraceId trace;
        using (var root = TestSource.StartActivity("test")!)
        {
            trace = root.TraceId;
            await world.ImportAsync("سرمقاله 📰 Headline", "Jane Doe");
            world.Time.Advance(TimeSpan.FromHours(1));
            await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);
            var report = await world.App.SendAllEmailAsync(Ct);
            Assert.Equal(1, report!.Sent);
            Assert.Equal(1, report.Failed);
        }
        var rootSpan = stopped.Single(a => a.Source == TestSource && a.TraceId == trace);
        var spans = stopped.Where(a => a.TraceId == trace).ToList();
        Activity Parent(Activity a) => spans.Single(p => p.SpanId == a.ParentSpanId);

        var import = Assert.Single(spans, a => a.OperationName == "article import");
        Assert.Equal(rootSpan.SpanId, import.ParentSpanId);
        Assert.EndsWith(".md", (string)import.GetTagItem(Telemetry.File)!);
        Assert.Equal(1, import.GetTagItem(Telemetry.Articles));

        var drain = Assert.Single(spans, a => a.OperationName == "delivery drain");
        Assert.Equal(rootSpan.SpanId, drain.ParentSpanId);
        Assert.Equal(EmailChannel.ChannelName, drain.GetTagItem(Telemetry.Channel));
        var batches = spans.Where(a => a.OperationName == "delivery batch").ToList();
        Assert.NotEmpty(batches);
        Assert.All(batches, b => Assert.Same(drain, Parent(b)));
        Assert.Contains(batches, b => b.GetTagItem(Telemetry.Claimed) is 2);

        var attempts = spans.Where(a => a.OperationName == "delivery attempt").ToList();
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, a =>
        {
            Assert.Equal("delivery batch", Parent(a).OperationName);
            Assert.Equal(EmailChannel.ChannelName, a.GetTagItem(Telemetry.Channel));
            Assert.Equal("digest", a.GetTagItem(Telemetry.SubjectKind));
            Assert.IsType<long>(a.GetTagItem(Telemetry.DeliveryId));
        });
        var states = attempts.Select(a => (string)a.GetTagItem(Telemetry.State)!).Order().ToList();
        Assert.Equal(["failed", "sent"], states);
        Assert.Equal(ActivityStatusCode.Error, attempts.Single(a => (string)a.GetTagItem(Telemetry.State)! == "failed").Status);
        // The delivery ids on the spans are the rows' own.
        var store = world.App.Get<DeliveryStore>();
        foreach (var attempt in attempts)
        {
            var row = await store.GetAsync((long)attempt.GetTagItem(Telemetry.DeliveryId)!, Ct);
            Assert.Equal((string)attempt.GetTagItem(Telemetry.State)!, row!.State.ToColumn());
        }

        var sends = spans.Where(a => a.OperationName == "delivery send").ToList();
        Assert.Equal(2, sends.Count);
        Assert.All(sends, s => Assert.Contains(Parent(s), attempts));

        // MailKit's own spans join the trace under the send that opened the connection and sent each message.
        var mailKit = spans.Where(a => a.Source.Name == MailKit.Telemetry.SmtpClient.ActivitySourceName).ToList();
        Assert.NotEmpty(mailKit);
        Assert.All(sends, s => Assert.Contains(mailKit, m => m.ParentSpanId == s.SpanId));
        Assert.All(mailKit, m =>
        {
            // Every MailKit span descends from the drain (the connection's close comes at the end of the run).
            var a = m;
            while (a != drain && a.ParentSpanId != rootSpan.SpanId) a = Parent(a);
            Assert.Same(drain, a);
        });
        // Each span starts within its parent.
        foreach (var span in spans.Where(a => a != rootSpan))
            Assert.True(span.StartTimeUtc >= Parent(span).StartTimeUtc, $"{span.OperationName} starts before its parent {Parent(span).OperationName}");
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_EmailSend_job_run_by_Quartz_is_the_parent_of_the_drain_and_MailKit_ends_up_under_it()
    {
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is Telemetry.SourceName or MailKit.Telemetry.SmtpClient.ActivitySourceName or Quartz.Diagnostics.QuartzInstrumentation.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);

        var smtp = await SmtpTestServer.StartAsync(null, Ct);
        await using var _s = smtp;
        var off = new[] { "DropFolderImport", "FeedBuild", "WebSubPing", "Announcements", "DailyDigest", "WeeklyDigest", "Retention" };
        var settings = new Dictionary<string, string?>
        {
            ["Digests:Smtp:Host"] = smtp.Host,
            ["Digests:Smtp:Port"] = smtp.Port.ToString(),
            ["Digests:Smtp:Security"] = "None",
            ["Digests:Smtp:TimeoutSeconds"] = "10",
        };
        foreach (var name in off) settings[$"Jobs:{name}:Enabled"] = "false";
        await using var world = await DigestWorld.CreateAsync(settings: settings);
        await world.SubscribeAsync("reader@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);
        await world.App.App.StartAsync(Ct);
        await world.App.Get<Syndicator.Scheduling.JobTrigger>().FireNowAsync(Syndicator.Scheduling.JobCatalog.EmailSend, Ct);
        await smtp.WaitForMessagesAsync(1, TimeSpan.FromSeconds(30), Ct);

        // This test's SMTP spans are the ones that went to this test's server; other tests run beside it.
        Activity? job = null;
        List<Activity> chain = [];
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        patience.CancelAfter(TimeSpan.FromSeconds(30));
        while (job is null && !patience.IsCancellationRequested)
        {
            var mine = stopped.FirstOrDefault(a => a.Source.Name == MailKit.Telemetry.SmtpClient.ActivitySourceName
                                                   && Equals(a.GetTagItem("server.port"), smtp.Port) && a.ParentSpanId != default);
            if (mine is not null)
            {
                chain = [mine];
                var all = stopped.Where(a => a.TraceId == mine.TraceId).ToList();
                while (all.FirstOrDefault(p => p.SpanId == chain[^1].ParentSpanId) is { } parent) chain.Add(parent);
                if (chain[^1].Source.Name == Quartz.Diagnostics.QuartzInstrumentation.ActivitySourceName) job = chain[^1];
            }
            // The job's span stops after the drain returns, a moment after the message arrived.
            if (job is null) await Task.Delay(50, CancellationToken.None);
        }
        Assert.NotNull(job);
        Assert.Equal(["delivery send", "delivery attempt", "delivery batch", "delivery drain"], chain.Skip(1).SkipLast(1).Select(a => a.OperationName));
        Assert.Equal(Syndicator.Scheduling.JobCatalog.EmailSend, job.GetTagItem("quartz.job.name"));
    }
}
