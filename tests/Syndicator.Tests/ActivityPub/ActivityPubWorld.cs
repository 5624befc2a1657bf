using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.ActivityPub;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.ActivityPub;

/// <summary>
/// The app started on a loopback port with ActivityPub on: Site:BaseUrl is that port, so the actor URLs it serves
/// are the ones remote servers fetch. Jobs are off; tests drain the channel as the ActivityPub job does.
/// </summary>
public sealed class ActivityPubWorld : IAsyncDisposable
{
    private ActivityPubWorld(TestApp app, string baseUrl)
    {
        App = app;
        BaseUrl = baseUrl;
        Http = new HttpClient { BaseAddress = new Uri(baseUrl) };
    }

    public TestApp App { get; }
    public string BaseUrl { get; }
    public HttpClient Http { get; }
    public string Domain => new Uri(BaseUrl).Authority;
    public string ActorUrl(string username) => $"{BaseUrl}/ap/actors/{username}";
    public string SharedInbox => BaseUrl + "/ap/inbox";

    /// <summary>Every imported article's date: an article imported again with the same text is the same article.</summary>
    public DateTimeOffset PublishedAt { get; } = DateTimeOffset.UtcNow.AddMinutes(-5);

    public T Get<T>() where T : notnull => App.Get<T>();

    public static async Task<ActivityPubWorld> StartAsync(StorageProvider provider = StorageProvider.Sqlite, Dictionary<string, string?>? extra = null,
        Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? services = null)
    {
        var port = FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var settings = new Dictionary<string, string?>
        {
            ["Http:Urls"] = baseUrl,
            ["Site:BaseUrl"] = baseUrl,
            // The sample article would be one more in every count.
            ["Import:SamplesPath"] = "",
            ["ActivityPub:Enabled"] = "true",
            ["ActivityPub:Username"] = "magazine",
            ["ActivityPub:Summary"] = "Long reads on cities. مقاله‌های بلند 🏙️",
            ["ActivityPub:Authors:0:Name"] = "Jane Doe",
            ["ActivityPub:Authors:0:Username"] = "jane",
        };
        foreach (var job in Syndicator.Scheduling.JobCatalog.Names) settings[$"Jobs:{job}:Enabled"] = "false";
        foreach (var (key, value) in extra ?? []) settings[key] = value;
        var app = await TestApp.CreateAsync(provider, settings, services);
        await app.App.StartAsync(TestContext.Current.CancellationToken);
        return new ActivityPubWorld(app, baseUrl);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Writes and imports an article file; returns its id.</summary>
    public async Task<string> ImportAsync(string slug, string title, string body, string author = "Jane Doe", params string[] tags)
    {
        var path = App.Dir.File($"articles/{slug}.md", ArticleText(slug, title, body, author, tags));
        var summary = await App.Get<ArticleFiles>().ImportPathsAsync([path], null, TestContext.Current.CancellationToken);
        Assert.Equal(0, summary.Rejected);
        var article = await App.Get<Syndicator.Articles.ArticleStore>().FindBySlugAsync(slug, TestContext.Current.CancellationToken);
        return article!.Id;
    }

    private string ArticleText(string slug, string title, string body, string author, string[] tags) =>
        $"---\ntitle: \"{title}\"\nslug: {slug}\nauthor: {author}\ndate: {PublishedAt:O}\ntags: [{string.Join(", ", tags)}]\nsummary: \"Summary of {title}\"\n---\n{body}\n";

    /// <summary>Sends the article as a CMS does through the publishing API (which publishes an unpublished one again); returns what it did.</summary>
    public async Task<string> PublishThroughApiAsync(string slug, string title, string body, string author = "Jane Doe", params string[] tags)
    {
        var intake = Get<Syndicator.Articles.Intake.ArticleIntake>();
        var draft = Assert.Single(intake.Parse(ArticleText(slug, title, body, author, tags), $"{slug}.md", ".md"));
        return (await intake.PublishAsync(draft, Syndicator.Articles.Intake.IntakeActor.ApiKey("cms"), Guid.NewGuid().ToString("N"), TestContext.Current.CancellationToken)).Action;
    }

    /// <summary>Unpublishes the article as the publishing API's DELETE does.</summary>
    public async Task UnpublishAsync(string id)
    {
        var article = (await Get<Syndicator.Articles.ArticleStore>().FindByIdAsync(id, TestContext.Current.CancellationToken))!;
        Assert.Equal("unpublished", (await Get<Syndicator.Articles.Intake.ArticleIntake>().UnpublishAsync(article, Syndicator.Articles.Intake.IntakeActor.ApiKey("cms"), TestContext.Current.CancellationToken)).Action);
    }

    /// <summary>Sends every due ActivityPub delivery, as the job does.</summary>
    public async Task<DrainReport> DrainAsync() =>
        await Get<DeliveryWorker>().DrainAsync(Get<ActivityPubChannel>(), DrainFilter.All, untilEmpty: true, TestContext.Current.CancellationToken) ?? DrainReport.None;

    public async Task<IReadOnlyList<Delivery>> DeliveriesAsync() =>
        (await Get<DeliveryStore>().ListAsync(null, ActivityPubPlanner.Channel, null, 1000, TestContext.Current.CancellationToken)).OrderBy(d => d.Id).ToList();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.DisposeAsync();
    }
}
