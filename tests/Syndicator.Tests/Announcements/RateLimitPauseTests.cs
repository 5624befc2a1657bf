using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Announcements;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Announcements.Mastodon;
using Syndicator.Tests.Announcements.X;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements;

/// <summary>
/// A network's rate limit pauses the account for every delivery and every node until the network's reset, and the
/// backlog then goes out oldest first. Two service instances (two nodes, each its own name) share one store, and
/// post to loopback X and Mastodon servers that count their windows as the real ones do and send their headers.
/// </summary>
public sealed class RateLimitPauseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    // On a five-minute boundary, so Mastodon's epoch-aligned windows reset at 12:05, 12:10...
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    public static TheoryData<StorageProvider, string> Cases => new()
    {
        { StorageProvider.Sqlite, "Mastodon" },
        { StorageProvider.PostgreSql, "Mastodon" },
        { StorageProvider.Sqlite, "X" },
        { StorageProvider.PostgreSql, "X" },
    };

    /// <summary>One network's loopback server, limited to two posts per five minutes, and the account settings that point at it.</summary>
    private sealed class Network : IAsyncDisposable
    {
        private readonly FakeMastodonServer? mastodon;
        private readonly FakeXServer? x;
        private readonly XTestAccount? xAccount;
        private readonly string? tokenVariable;

        private Network(FakeMastodonServer? mastodon, FakeXServer? x, XTestAccount? xAccount, string? tokenVariable)
            => (this.mastodon, this.x, this.xAccount, this.tokenVariable) = (mastodon, x, xAccount, tokenVariable);

        public static async Task<Network> StartAsync(string name, TimeProvider time)
        {
            if (name == "Mastodon")
            {
                var server = await FakeMastodonServer.StartAsync();
                server.Time = time;
                server.LimitRate(2, TimeSpan.FromMinutes(5));
                var variable = "SYN_TEST_MASTODON_" + Guid.NewGuid().ToString("N");
                Environment.SetEnvironmentVariable(variable, server.Token);
                return new Network(server, null, null, variable);
            }
            var fake = await FakeXServer.StartAsync();
            fake.Time = time; // also the clock its OAuth timestamp check runs on
            fake.LimitRate(2, TimeSpan.FromMinutes(5));
            return new Network(null, fake, new XTestAccount(fake), null);
        }

        public Dictionary<string, string?> Settings()
        {
            var settings = new Dictionary<string, string?>
            {
                ["Announcements:Accounts:0:Name"] = "magazine",
                ["Announcements:Accounts:0:MaxPerRun"] = "10",
                ["Announcements:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates"),
                ["Site:BaseUrl"] = "https://www.magazine.com",
            };
            if (mastodon is not null)
            {
                settings["Announcements:Accounts:0:Network"] = "Mastodon";
                settings["Announcements:Accounts:0:BaseUrl"] = mastodon.BaseUrl;
                settings["Announcements:Accounts:0:Credentials:AccessToken"] = "env:" + tokenVariable;
            }
            else
            {
                settings["Announcements:Accounts:0:Network"] = "X";
                settings["Announcements:Accounts:0:BaseUrl"] = x!.BaseUrl;
                foreach (var (key, value) in xAccount!.Account.Credentials) settings[$"Announcements:Accounts:0:Credentials:{key}"] = value;
            }
            return settings;
        }

        /// <summary>Statuses created, in the order the server took them.</summary>
        public IReadOnlyList<string> Posted => mastodon is not null ? mastodon.Posts.Select(p => p.Status).ToList() : x!.PostedTexts;

        /// <summary>Requests the server answered 429: each is a request that reached a paused account.</summary>
        public int RateLimited => mastodon?.RateLimited ?? x!.RateLimited;

        public async ValueTask DisposeAsync()
        {
            if (tokenVariable is not null) Environment.SetEnvironmentVariable(tokenVariable, null);
            xAccount?.Dispose();
            if (mastodon is not null) await mastodon.DisposeAsync();
            if (x is not null) await x.DisposeAsync();
        }
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Cases))]
    public async Task After_the_window_is_used_up_no_request_reaches_the_account_from_either_node_until_the_reset_and_the_backlog_goes_out_oldest_first(StorageProvider provider, string network)
    {
        var time = new FakeTimeProvider(Now);
        await using var server = await Network.StartAsync(network, time);
        var settings = server.Settings();
        await using var nodeA = await TestApp.CreateAsync(provider, settings, s =>
        {
            s.AddSingleton<TimeProvider>(time);
            s.AddSingleton(new DeliveryNode("node-a:1"));
        });
        var shared = new Dictionary<string, string?>(settings);
        foreach (var (key, value) in nodeA.Store.Settings()) shared[key] = value; // node B on node A's database
        await using var nodeB = await TestApp.CreateAsync(provider, shared, s =>
        {
            s.AddSingleton<TimeProvider>(time);
            s.AddSingleton(new DeliveryNode("node-b:2"));
        });

        // Five articles, imported newest first, so the order of the posts can only come from the publication times.
        string[] titles = ["First piece", "Second piece", "Third piece", "Fourth piece", "Fifth piece"];
        for (var i = titles.Length - 1; i >= 0; i--)
        {
            var path = nodeA.Dir.File($"a/piece-{i}.md", $"---\ntitle: {titles[i]}\nauthor: Jane Doe\ndate: {Now.AddMinutes(-50 + 10 * i):O}\n---\nBody {i}.\n");
            await nodeA.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);
        }

        async Task BothNodesRunAsync() =>
            await Task.WhenAll(nodeA.Get<Announcer>().SendDueAsync(null, Ct), nodeB.Get<Announcer>().SendDueAsync(null, Ct));

        await BothNodesRunAsync();
        // The second answer said no requests remain: the account paused before any request could be refused.
        Assert.Equal(2, server.Posted.Count);
        var pause = Assert.Single(await nodeB.Get<DeliveryStore>().ListPausesAsync(Ct));
        Assert.Equal(("magazine", true), (pause.Recipient, pause.PausedUntil > time.GetUtcNow()));

        time.Advance(TimeSpan.FromMinutes(4));
        await BothNodesRunAsync();
        await BothNodesRunAsync();
        Assert.Equal(2, server.Posted.Count);
        Assert.Equal(0, server.RateLimited);

        // The window resets: two more, the oldest waiting, then the account pauses again; then the last.
        time.Advance(pause.PausedUntil - time.GetUtcNow() + TimeSpan.FromSeconds(1));
        await BothNodesRunAsync();
        Assert.Equal(4, server.Posted.Count);
        var second = (await nodeA.Get<DeliveryStore>().ListPausesAsync(Ct)).Single().PausedUntil;
        time.Advance(second - time.GetUtcNow() + TimeSpan.FromSeconds(1));
        await BothNodesRunAsync();

        Assert.Equal(titles, server.Posted.Select(text => titles.Single(t => text.Contains(t, StringComparison.Ordinal))));
        Assert.Equal(0, server.RateLimited);
        var rows = await nodeA.Get<DeliveryStore>().ListAsync(null, null, null, 10, Ct);
        Assert.All(rows, d => Assert.Equal((DeliveryState.Sent, 1), (d.State, d.Attempts)));
    }
}
