using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Storage;
using Syndicator.Tests.Announcements.Bluesky;
using Syndicator.Tests.Announcements.Mastodon;
using Syndicator.Tests.Announcements.X;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Controls;

/// <summary>
/// The app with a publication account on the loopback X (magazine-x) and Mastodon (magazine-mastodon), both checking
/// auth and media flows as the real APIs do, and an image host that answers well or badly by path.
/// </summary>
public sealed class SocialTestRig : IAsyncDisposable
{
    public static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);
    public static byte[] Png => BlueskyClientPdsTests.Png;

    /// <summary>A PNG signature followed by zeros: an image of <paramref name="size"/> bytes as far as size checks go.</summary>
    public static byte[] LargePng(int size)
    {
        var bytes = new byte[size];
        Png.CopyTo(bytes, 0);
        return bytes;
    }

    private SocialTestRig(TestApp app, FakeTimeProvider time, FakeXServer x, XTestAccount xAccount, FakeMastodonServer mastodon, string mastodonVariable, LoopbackServer images)
    {
        (App, Time, X, XAccount, Mastodon, MastodonVariable, Images) = (app, time, x, xAccount, mastodon, mastodonVariable, images);
    }

    public TestApp App { get; }
    public FakeTimeProvider Time { get; }
    public FakeXServer X { get; }
    public XTestAccount XAccount { get; }
    public FakeMastodonServer Mastodon { get; }
    public string MastodonVariable { get; }
    public LoopbackServer Images { get; }

    public static async Task<SocialTestRig> StartAsync(StorageProvider provider = StorageProvider.Sqlite, Dictionary<string, string?>? extra = null)
    {
        var time = new FakeTimeProvider(Now);
        var x = await FakeXServer.StartAsync();
        x.Time = time;
        var xAccount = new XTestAccount(x);
        var mastodon = await FakeMastodonServer.StartAsync();
        var variable = "SYN_TEST_MASTODON_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, mastodon.Token);
        var images = await LoopbackServer.StartAsync(app =>
        {
            app.MapGet("/cover.png", () => Results.Bytes(Png, "image/png"));
            app.MapGet("/missing.png", () => Results.NotFound());
            app.MapGet("/page.html", () => Results.Content("<html><body>not an image</body></html>", "text/html"));
            app.MapGet("/disguised.png", () => Results.Bytes("<html><body>an error page</body></html>"u8.ToArray(), "image/png"));
            app.MapGet("/huge.png", () => Results.Bytes(LargePng(6 * 1024 * 1024), "image/png"));
            app.MapGet("/slow.png", (Delegate)SlowAsync);
        });

        var settings = new Dictionary<string, string?>
        {
            ["Announcements:Accounts:0:Name"] = "magazine-x",
            ["Announcements:Accounts:0:Network"] = "X",
            ["Announcements:Accounts:0:BaseUrl"] = x.BaseUrl,
            ["Announcements:Accounts:1:Name"] = "magazine-mastodon",
            ["Announcements:Accounts:1:Network"] = "Mastodon",
            ["Announcements:Accounts:1:BaseUrl"] = mastodon.BaseUrl,
            ["Announcements:Accounts:1:Credentials:AccessToken"] = "env:" + variable,
            ["Announcements:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates"),
            ["Announcements:ImageTimeoutSeconds"] = "1",
        };
        foreach (var (name, reference) in xAccount.Account.Credentials) settings[$"Announcements:Accounts:0:Credentials:{name}"] = reference;
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        var app = await TestApp.CreateAsync(provider, settings, s => s.AddSingleton<TimeProvider>(time));
        return new SocialTestRig(app, time, x, xAccount, mastodon, variable, images);
    }

    /// <summary>An image that takes 10 seconds to start arriving (the tests' Announcements:ImageTimeoutSeconds is 1).</summary>
    private static async Task<IResult> SlowAsync(HttpContext context)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            return Results.Empty;
        }
        return Results.Bytes(Png, "image/png");
    }

    /// <summary>Imports one Markdown article whose front matter is <paramref name="frontMatter"/> (title and date are added).</summary>
    public async Task<FileImportResult> ImportAsync(string name, string frontMatter = "", string? body = null)
    {
        var path = App.Dir.File($"in/{name}.md", $"---\ntitle: {name}\ndate: {Now.AddMinutes(-1):O}\n{frontMatter}---\n{body ?? $"Body of {name}."}\n");
        return (await App.Get<ArticleFiles>().ImportPathsAsync([path], null, TestContext.Current.CancellationToken)).Files[0];
    }

    public string ImageUrl(string path) => Images.BaseUrl + path;

    public async ValueTask DisposeAsync()
    {
        Environment.SetEnvironmentVariable(MastodonVariable, null);
        await App.DisposeAsync();
        await Images.DisposeAsync();
        await Mastodon.DisposeAsync();
        await X.DisposeAsync();
        XAccount.Dispose();
    }
}
