using System.Net;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Quartz.Extensibility;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Hosting;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Web;

/// <summary>
/// The real app started on a free loopback port over a fresh SQLite file (or PostgreSQL database), for the dashboard, readiness and metrics
/// tests. Every job is scheduled (so the dashboard has next fire times to show) on a cron that first fires in 2099, so
/// nothing runs unless a test fires it.
/// </summary>
internal sealed class StatusServer : IAsyncDisposable
{
    public const string NeverCron = "0 0 3 1 1 ? 2099";

    private readonly TempDir dir;
    private readonly TestStore? store;

    private StatusServer(TempDir dir, TestStore? store, WebApplication app, Uri address)
    {
        this.dir = dir;
        this.store = store;
        App = app;
        Address = address;
        Http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(20) };
    }

    public WebApplication App { get; }
    public Uri Address { get; }
    public HttpClient Http { get; }
    public string DatabasePath => Path.Combine(dir.Path, "t.db");
    public TempDir Dir => dir;

    public T Get<T>() where T : notnull => App.Services.GetRequiredService<T>();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <param name="provider">SQLite (a file in the server's folder) by default; PostgreSQL is a fresh database from <see cref="TestStore"/>.</param>
    public static async Task<StatusServer> StartAsync(CancellationToken cancellationToken, Dictionary<string, string?>? extra = null, StorageProvider provider = StorageProvider.Sqlite)
    {
        var store = provider == StorageProvider.PostgreSql ? await TestStore.CreateAsync(provider) : null;
        var dir = new TempDir();
        var settings = new Dictionary<string, string?>
        {
            ["Http:Urls"] = "http://127.0.0.1:0",
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = $"Data Source={Path.Combine(dir.Path, "t.db")};Pooling=False",
            ["Import:SamplesPath"] = "",
            ["Import:InboxPath"] = Path.Combine(dir.Path, "inbox"),
            ["Import:SettleSeconds"] = "0",
            ["Feeds:OutputPath"] = Path.Combine(dir.Path, "feeds"),
            ["Digests:PickupPath"] = Path.Combine(dir.Path, "mail-pickup"),
            ["Digests:SigningKey"] = "file:" + dir.File("signing.key", "a-signing-key-for-the-tests-only-0123456789"),
        };
        if (store is not null) foreach (var (key, value) in store.Settings()) settings[key] = value;
        foreach (var job in JobCatalog.Names)
        {
            settings[$"Jobs:{job}:Enabled"] = "true";
            settings[$"Jobs:{job}:Cron"] = NeverCron;
            settings[$"Jobs:{job}:IntervalSeconds"] = null;
            settings[$"Jobs:{job}:TimeZone"] = "UTC";
        }
        foreach (var (key, value) in extra ?? []) settings[key] = value;

        var app = SyndicatorHost.Build([], config => config.AddInMemoryCollection(settings));
        try
        {
            await app.StartAsync(cancellationToken);
            // Quartz's hosted service starts the scheduler once the application has started, on a task of its own: until
            // then /ready rightly answers 503, which a test asking at once on a loaded machine would take for a fault.
            var scheduler = await app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler(cancellationToken);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (await scheduler.GetStatus(cancellationToken) != SchedulerStatus.Running)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("the scheduler did not start within 30 s");
                await Task.Delay(20, cancellationToken);
            }
            var address = app.Urls.Select(u => new Uri(u)).Single(u => u.Port != 0);
            return new StatusServer(dir, store, app, address);
        }
        catch
        {
            await app.DisposeAsync();
            dir.Dispose();
            if (store is not null) await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// One article by Jane Doe tagged Water and Climate, announced on Mastodon (sent, with a post URL) and on Bluesky
    /// (failed, with the service's error), and carried by one digest e-mail that was sent.
    /// </summary>
    public async Task<Seeded> SeedAsync()
    {
        var published = DateTimeOffset.UtcNow.AddHours(-2);
        var path = dir.File("articles/water-wars.md",
            $"---\ntitle: \"Water wars\"\nauthor: Jane Doe\ndate: {published:O}\ntags: [Water, Climate]\n---\nWho owns the rivers.\n");
        var summary = await Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);
        Assert.Equal(1, summary.Created);
        var article = (await Get<ArticleStore>().FindBySlugAsync("water-wars", Ct))!;

        var deliveries = Get<DeliveryStore>();
        var node = "test-node";
        await deliveries.EnsureAsync("mastodon", "article", article.Id, "magazine-mastodon", published, Ct);
        await deliveries.EnsureAsync("bluesky", "article", article.Id, "magazine-bluesky", published, Ct);
        var mastodon = Assert.Single(await deliveries.ClaimDueAsync("mastodon", node, TimeSpan.FromMinutes(5), 10, Ct));
        var bluesky = Assert.Single(await deliveries.ClaimDueAsync("bluesky", node, TimeSpan.FromMinutes(5), 10, Ct));
        Assert.True(await deliveries.MarkSentAsync(mastodon.Id, node, "113", PostUrl, Ct));
        Assert.True(await deliveries.MarkFailedAsync(bluesky.Id, node, BlueskyError, Ct));

        // A digest e-mail that carries the article, sent.
        var subscriber = (await Get<SubscriberStore>().SaveAsync("reader@example.com", null, DigestFrequency.Daily, "UTC", SubscriberState.Confirmed, [], [], published.AddDays(-1), Ct)).Subscriber;
        await using (var connection = await Get<Database>().OpenAsync(Ct))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO digest_editions (id, created_at) VALUES ('edition-1', @now)", new { now = DateTimeOffset.UtcNow }, cancellationToken: Ct));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO digest_edition_items (edition_id, article_id, position) VALUES ('edition-1', @articleId, 0)", new { articleId = article.Id }, cancellationToken: Ct));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO digests (id, subscriber_id, frequency, period, edition_id, created_at) VALUES ('digest-1', @id, 'daily', '2026-01-01', 'edition-1', @now)",
                new { id = subscriber.Id, now = DateTimeOffset.UtcNow }, cancellationToken: Ct));
        }
        await deliveries.EnsureAsync(EmailChannel.ChannelName, "digest", "digest-1", subscriber.Id, DateTimeOffset.UtcNow, Ct);
        var email = Assert.Single(await deliveries.ClaimDueAsync(EmailChannel.ChannelName, node, TimeSpan.FromMinutes(5), 10, Ct));
        Assert.True(await deliveries.MarkSentAsync(email.Id, node, null, null, Ct));

        return new Seeded(article, mastodon.Id, bluesky.Id);
    }

    public const string PostUrl = "https://mastodon.example/@magazine/113";
    public const string BlueskyError = "bluesky: 401 Unauthorized: Invalid identifier or password. Check Announcements:Accounts:1:Credentials:AppPassword.";

    /// <summary>Fires a job by hand and waits until the job history has its run.</summary>
    public async Task<JobRunStatus> RunJobAsync(string name)
    {
        var scheduler = await Get<ISchedulerFactory>().GetScheduler(Ct);
        var history = Get<IExecutionHistoryStore>();
        var key = new JobKey(name, JobCatalog.Group);
        var before = (await history.GetJobRunStatus(scheduler.SchedulerName, key, Ct))?.RunCount ?? 0;
        await WaitForAsync(async () => await scheduler.GetStatus(Ct) == SchedulerStatus.Running, "the scheduler to run");
        await Get<JobTrigger>().FireNowAsync(name, Ct);
        JobRunStatus? status = null;
        await WaitForAsync(async () => (status = await history.GetJobRunStatus(scheduler.SchedulerName, key, Ct)) is { } s && s.RunCount > before, $"a run of {name} in the job history");
        return status!;
    }

    public static async Task WaitForAsync(Func<Task<bool>> done, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await done())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Gave up after {seconds} s waiting for {what}.");
            await Task.Delay(100, Ct);
        }
    }

    public async Task<(HttpStatusCode Status, string Body)> GetTextAsync(string path)
    {
        using var response = await Http.GetAsync(path, Ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(Ct));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        dir.Dispose();
        if (store is not null) await store.DisposeAsync();
    }
}

internal sealed record Seeded(Article Article, long SentId, long FailedId);
