using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Feeds;
using Syndicator.Feeds.WebSub;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Feeds;

public sealed class WebSubTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class Hub
    {
        public ConcurrentQueue<(string Mode, string Url)> Received { get; } = new();
        public Func<int, int> Status { get; set; } = _ => 204;
        private int count;

        public async Task<IResult> HandleAsync(HttpRequest request)
        {
            var form = await request.ReadFormAsync();
            Received.Enqueue((form["hub.mode"].ToString(), form["hub.url"].ToString()));
            var status = Status(Interlocked.Increment(ref count));
            return status == 204 ? Results.NoContent() : Results.Text($"status {status}", statusCode: status);
        }
    }

    private static async Task<(TestApp App, FakeTimeProvider Time, LoopbackServer Server, Hub Hub)> StartAsync()
    {
        var hub = new Hub();
        var server = await LoopbackServer.StartAsync(app => app.MapPost("/hub", (HttpRequest r) => hub.HandleAsync(r)));
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
        var app = await TestApp.CreateAsync(settings: new() { ["Feeds:Hubs:0"] = server.BaseUrl + "/hub" }, services: s => s.AddSingleton<TimeProvider>(time));
        await app.Get<ArticleFiles>().ImportPathsAsync([Repo.SampleArticle], null, Ct);
        return (app, time, server, hub);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Each_changed_current_feed_is_pinged_once_per_hub_with_hub_mode_publish()
    {
        var (app, _, server, hub) = await StartAsync();
        await using var _a = app;
        await using var _s = server;

        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);
        var report = await app.Get<WebSubPings>().SendDueAsync(Ct);

        Assert.Equal(6, report.Sent); // site and author feeds, three formats each
        Assert.All(hub.Received, r => Assert.Equal("publish", r.Mode));
        Assert.Contains(hub.Received, r => r.Url == "https://magazine.example/feeds/site/rss.xml");
        Assert.Contains(hub.Received, r => r.Url == "https://magazine.example/feeds/authors/hassan-mahmoudi/feed.json");

        await app.Get<FeedBuilder>().BuildAsync(full: true, null, Ct);
        Assert.Equal(0, (await app.Get<WebSubPings>().SendDueAsync(Ct)).Attempted);
        Assert.Equal(6, hub.Received.Count);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hub_that_fails_with_503_is_retried_after_the_backoff_and_the_outcome_is_recorded()
    {
        var (app, time, server, hub) = await StartAsync();
        await using var _a = app;
        await using var _s = server;
        hub.Status = n => n == 1 ? 503 : 204;

        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);
        var first = await app.Get<WebSubPings>().SendDueAsync(Ct);
        Assert.Equal((5, 1, 0), (first.Sent, first.Retrying, first.Failed));
        var waiting = Assert.Single(await app.Get<DeliveryStore>().ListAsync(DeliveryState.RetryWait, null, 10, Ct));
        Assert.StartsWith("websub: ", waiting.LastError);
        Assert.Contains("503", waiting.LastError);

        Assert.Equal(0, (await app.Get<WebSubPings>().SendDueAsync(Ct)).Attempted);
        time.Advance(TimeSpan.FromMinutes(5));
        var second = await app.Get<WebSubPings>().SendDueAsync(Ct);

        Assert.Equal(1, second.Sent);
        var sent = await app.Get<DeliveryStore>().GetAsync(waiting.Id, Ct);
        Assert.Equal(DeliveryState.Sent, sent!.State);
        Assert.Equal(2, sent.Attempts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hub_that_rejects_the_ping_with_404_fails_at_once_keeping_its_answer()
    {
        var (app, _, server, hub) = await StartAsync();
        await using var _a = app;
        await using var _s = server;
        hub.Status = _ => 404;

        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);
        var report = await app.Get<WebSubPings>().SendDueAsync(Ct);

        Assert.Equal(6, report.Failed);
        var failed = await app.Get<DeliveryStore>().ListAsync(DeliveryState.Failed, null, 10, Ct);
        Assert.All(failed, d => Assert.Contains("404", d.LastError));
        Assert.All(failed, d => Assert.Equal(1, d.Attempts));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_unreachable_hub_is_a_transient_failure()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
        await using var app = await TestApp.CreateAsync(settings: new() { ["Feeds:Hubs:0"] = "http://127.0.0.1:1/hub" }, services: s => s.AddSingleton<TimeProvider>(time));
        await app.Get<ArticleFiles>().ImportPathsAsync([Repo.SampleArticle], null, Ct);
        await app.Get<FeedBuilder>().BuildAsync(full: false, null, Ct);

        var report = await app.Get<WebSubPings>().SendDueAsync(Ct);

        Assert.Equal(6, report.Retrying);
        Assert.All(await app.Get<DeliveryStore>().ListAsync(DeliveryState.RetryWait, null, 10, Ct), d => Assert.Contains("could not be reached", d.LastError));
    }

    // ---------------------------------------------------------------- the client alone, against a loopback hub

    private static readonly DateTimeOffset ClientNow = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static async Task<(LoopbackServer Server, string Hub)> HubAsync(Func<HttpContext, Task> answer)
    {
        var server = await LoopbackServer.StartAsync(app => app.MapPost("/hub", answer));
        return (server, server.BaseUrl + "/hub");
    }

    private static WebSubClient Client(TimeSpan? timeout = null) =>
        new(new HttpClient { Timeout = timeout ?? TimeSpan.FromSeconds(10) }, new FakeTimeProvider(ClientNow));

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hub_answering_429_with_retry_after_is_transient_and_paused_until_then()
    {
        var (server, hub) = await HubAsync(c =>
        {
            c.Response.StatusCode = 429;
            c.Response.Headers.RetryAfter = "600";
            return c.Response.WriteAsync("slow down");
        });
        await using var _ = server;

        var transient = Assert.IsType<DeliveryOutcome.Transient>(await Client().PublishAsync(hub, "https://magazine.example/feeds/site/rss.xml", Ct));

        Assert.Equal(ClientNow.AddMinutes(10), transient.NotBefore);
        Assert.Equal(ClientNow.AddMinutes(10), transient.PauseRecipientUntil);
        Assert.StartsWith($"websub: {hub} answered 429 Too Many Requests: slow down; paused until 2026-11-01T00:10:00Z (Retry-After)", transient.Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hub_answering_503_with_retry_after_as_a_date_is_transient_until_that_date()
    {
        var (server, hub) = await HubAsync(c =>
        {
            c.Response.StatusCode = 503;
            c.Response.Headers.RetryAfter = "Sun, 01 Nov 2026 01:00:00 GMT";
            return c.Response.WriteAsync("maintenance\r\nuntil one");
        });
        await using var _ = server;

        var transient = Assert.IsType<DeliveryOutcome.Transient>(await Client().PublishAsync(hub, "https://magazine.example/feeds/site/rss.xml", Ct));

        Assert.Equal(ClientNow.AddHours(1), transient.NotBefore);
        Assert.Null(transient.PauseRecipientUntil);
        Assert.EndsWith("answered 503 Service Unavailable: maintenance  until one", transient.Error); // CRLF neutralised
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hub_that_drops_the_connection_before_answering_is_transient()
    {
        var (server, hub) = await HubAsync(c =>
        {
            c.Abort();
            return Task.CompletedTask;
        });
        await using var _ = server;

        var transient = Assert.IsType<DeliveryOutcome.Transient>(await Client().PublishAsync(hub, "https://magazine.example/feeds/site/rss.xml", Ct));

        Assert.StartsWith($"websub: {hub} could not be reached: ", transient.Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hub_that_does_not_answer_in_time_is_transient()
    {
        var (server, hub) = await HubAsync(async c =>
        {
            try { await Task.Delay(TimeSpan.FromSeconds(30), c.RequestAborted); } catch (OperationCanceledException) { }
        });
        await using var _ = server;

        var transient = Assert.IsType<DeliveryOutcome.Transient>(await Client(TimeSpan.FromMilliseconds(300)).PublishAsync(hub, "https://magazine.example/feeds/site/rss.xml", Ct));

        Assert.Equal($"websub: {hub} did not answer within 0.3 s", transient.Error);
    }
}
