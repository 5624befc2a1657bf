using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.Hosting;
using Syndicator.Storage;

namespace Syndicator.Tests.Support;

/// <summary>The real composition root pointed at a test store and a temporary inbox, not started: tests resolve services from it.</summary>
public sealed class TestApp : IAsyncDisposable
{
    private TestApp(WebApplication app, TestStore store, TempDir dir)
    {
        App = app;
        Store = store;
        Dir = dir;
    }

    public WebApplication App { get; }
    public TestStore Store { get; }
    public TempDir Dir { get; }
    public string Inbox => Path.Combine(Dir.Path, "inbox");

    public T Get<T>() where T : notnull => App.Services.GetRequiredService<T>();

    public static async Task<TestApp> CreateAsync(StorageProvider provider = StorageProvider.Sqlite, Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var store = await TestStore.CreateAsync(provider);
        var dir = new TempDir();
        var all = store.Settings();
        // Relays and networks in tests are loopback servers, and links point at the example site.
        all["Site:AllowLocalUrls"] = "true";
        all["Import:InboxPath"] = Path.Combine(dir.Path, "inbox");
        all["Import:SettleSeconds"] = "0";
        all["Feeds:OutputPath"] = Path.Combine(dir.Path, "feeds");
        all["Digests:PickupPath"] = Path.Combine(dir.Path, "mail-pickup");
        all["Digests:SigningKey"] = "file:" + Path.Combine(dir.Path, "signing.key");
        foreach (var (key, value) in settings ?? []) all[key] = value;
        var app = SyndicatorHost.Build([], config => config.AddInMemoryCollection(all), services);
        await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(TestContext.Current.CancellationToken);
        return new TestApp(app, store, dir);
    }

    public async ValueTask DisposeAsync()
    {
        // A started app keeps its scheduler polling the database until stopped; stopping an app never started is harmless.
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
        await Store.DisposeAsync();
        Dir.Dispose();
    }
}
