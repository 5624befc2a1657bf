using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MimeKit;
using Syndicator.Articles.Import;
using Syndicator.Digests;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>A real app with a fake clock, for digests: import articles at chosen times, add subscribers, read what was mailed.</summary>
public sealed class DigestWorld : IAsyncDisposable
{
    private DigestWorld(TestApp app, FakeTimeProvider time)
    {
        App = app;
        Time = time;
    }

    public TestApp App { get; }
    public FakeTimeProvider Time { get; }
    public static readonly DateTimeOffset Start = new(2026, 11, 2, 6, 0, 0, TimeSpan.Zero);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<DigestWorld> CreateAsync(StorageProvider provider = StorageProvider.Sqlite, Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var time = new FakeTimeProvider(Start);
        var all = new Dictionary<string, string?> { ["Digests:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates") };
        foreach (var (k, v) in settings ?? []) all[k] = v;
        var app = await TestApp.CreateAsync(provider, all, s =>
        {
            s.AddSingleton<TimeProvider>(time);
            services?.Invoke(s);
        });
        return new DigestWorld(app, time);
    }

    public string PickupPath => App.Get<PickupFolder>().Path;

    public async Task ImportAsync(string title, string author, params string[] tags) =>
        await ImportAsync(title, author, Time.GetUtcNow(), tags);

    public async Task ImportAsync(string title, string author, DateTimeOffset published, params string[] tags)
    {
        var slug = Syndicator.Shared.Slug.FromText(title).Value;
        var path = App.Dir.File($"articles/{slug}.md", $"---\ntitle: \"{title}\"\nauthor: {author}\ndate: {published:O}\ntags: [{string.Join(", ", tags)}]\n---\nBody of {title}.\n");
        var summary = await App.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);
        Assert.Equal(0, summary.Rejected);
    }

    public async Task<Subscriber> SubscribeAsync(string email, DigestFrequency frequency = DigestFrequency.Daily, string[]? authors = null, string[]? tags = null, string tz = "UTC") =>
        (await App.Get<SubscriberStore>().SaveAsync(email, null, frequency, tz, SubscriberState.Confirmed, authors ?? [], tags ?? [], App.Get<DigestPlanner>().FirstWatermark(frequency), Ct)).Subscriber;

    /// <summary>Plans and sends the daily digests as the scheduled job would, a little after the clock moved on.</summary>
    public async Task RunDailyAsync(TimeSpan advance)
    {
        Time.Advance(advance);
        await App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);
        while ((await App.SendEmailAsync(null, Ct)).Attempted > 0) { }
    }

    /// <summary>Every message written to the pickup folder, parsed.</summary>
    public IReadOnlyList<MimeMessage> Mailed() =>
        Directory.Exists(PickupPath) ? Directory.GetFiles(PickupPath, "*.eml").Order().Select(f => MimeMessage.Load(f)).ToList() : [];

    public static IEnumerable<string> Titles(MimeMessage message) =>
        (message.TextBody ?? "").Split('\n').Where(l => l.StartsWith("* ", StringComparison.Ordinal)).Select(l => l[2..].Trim());

    public ValueTask DisposeAsync() => App.DisposeAsync();
}
