using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Announcements.Mastodon;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements;

/// <summary>The whole announcement path: import creates deliveries, the announcer drains them to a loopback Mastodon.</summary>
public sealed class AnnouncementTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private sealed record Setup(TestApp App, FakeTimeProvider Time, FakeMastodonServer Mastodon, string TokenVariable) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Environment.SetEnvironmentVariable(TokenVariable, null);
            await App.DisposeAsync();
            await Mastodon.DisposeAsync();
        }
    }

    private static async Task<Setup> StartAsync(StorageProvider provider = StorageProvider.Sqlite, Dictionary<string, string?>? extra = null)
    {
        var mastodon = await FakeMastodonServer.StartAsync();
        var variable = "SYN_TEST_MASTODON_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, mastodon.Token);
        var time = new FakeTimeProvider(Now);
        var settings = new Dictionary<string, string?>
        {
            ["Announcements:Accounts:0:Name"] = "magazine-mastodon",
            ["Announcements:Accounts:0:Network"] = "Mastodon",
            ["Announcements:Accounts:0:BaseUrl"] = mastodon.BaseUrl,
            ["Announcements:Accounts:0:Credentials:AccessToken"] = "env:" + variable,
            ["Announcements:Accounts:0:MaxPerRun"] = "2",
            ["Announcements:Accounts:1:Name"] = "hassan-mastodon",
            ["Announcements:Accounts:1:Network"] = "Mastodon",
            ["Announcements:Accounts:1:Author"] = "Hassan Mahmoudi",
            ["Announcements:Accounts:1:BaseUrl"] = mastodon.BaseUrl,
            ["Announcements:Accounts:1:Credentials:AccessToken"] = "env:" + variable,
            ["Announcements:Accounts:1:Visibility"] = "unlisted",
            ["Announcements:Accounts:2:Name"] = "hassan-x",
            ["Announcements:Accounts:2:Network"] = "X",
            ["Announcements:Accounts:2:Author"] = "hassan_mahmou1",
            ["Announcements:Accounts:2:Enabled"] = "false",
            ["Announcements:Accounts:2:Credentials:ConsumerKey"] = "env:UNSET_1",
            ["Announcements:Accounts:2:Credentials:ConsumerSecret"] = "env:UNSET_2",
            ["Announcements:Accounts:2:Credentials:AccessToken"] = "env:UNSET_3",
            ["Announcements:Accounts:2:Credentials:AccessTokenSecret"] = "env:UNSET_4",
            ["Announcements:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates"),
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        var app = await TestApp.CreateAsync(provider, settings, s => s.AddSingleton<TimeProvider>(time));
        return new Setup(app, time, mastodon, variable);
    }

    private static async Task<Article> ImportAsync(TestApp app, string name, string author, DateTimeOffset published)
    {
        var path = app.Dir.File($"a/{name}.md", $"---\ntitle: {name}\nauthor: {author}\ndate: {published:O}\n---\nBody of {name}.\n");
        var result = await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);
        return await app.Get<ArticleStore>().StoredAsync(result.Files[0].Articles[0], Ct);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task The_sample_article_is_announced_once_on_the_publications_and_its_authors_account(StorageProvider provider)
    {
        await using var s = await StartAsync(provider);
        var sample = app(s).Dir.File("s/sample.txt", File.ReadAllText(Repo.SampleArticle));
        await s.App.Get<ArticleFiles>().ImportPathsAsync([sample], null, Ct);

        var reports = await s.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Equal(2, s.Mastodon.Posts.Count);
        Assert.Equal(["public", "unlisted"], s.Mastodon.Posts.Select(p => p.Visibility).Order());
        Assert.All(s.Mastodon.Posts, p => Assert.StartsWith("The Iranian regime is losing its regional mystique", p.Status));
        Assert.All(s.Mastodon.Posts, p => Assert.Equal("en", p.Language));
        var sent = await s.App.Get<DeliveryStore>().ListAsync(DeliveryState.Sent, null, 10, Ct);
        Assert.Equal(2, sent.Count);
        Assert.All(sent, d => Assert.StartsWith(s.Mastodon.BaseUrl + "/@magazine/", d.RemoteUrl));

        // Re-importing an edited article and running again announces nothing more.
        File.AppendAllText(sample, "\n\nAn added paragraph.\n");
        await s.App.Get<ArticleFiles>().ImportPathsAsync([sample], null, Ct);
        await s.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Equal(2, s.Mastodon.Posts.Count);
        Assert.Equal(2, (await s.App.Get<DeliveryStore>().ListAsync(null, null, 10, Ct)).Count);
        static TestApp app(Setup s) => s.App;
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_sample_article_binds_to_the_authors_X_account_through_the_handle_in_the_bio()
    {
        await using var s = await StartAsync();
        var sample = await s.App.Get<ArticleStore>().StoredAsync((await s.App.Get<ArticleFiles>().ImportPathsAsync([Repo.SampleArticle], null, Ct)).Files[0].Articles[0], Ct);

        var accounts = s.App.Get<AnnouncementPlanner>().AccountsFor(sample).Select(a => a.Name).ToList();
        Assert.Equal(["magazine-mastodon", "hassan-mastodon"], accounts); // hassan-x is disabled

        var other = new Article("o", Syndicator.Shared.Slug.Parse("o"), "t", "s", "b", sample.Author with { Name = "Someone Else", Handles = SocialHandles.None }, [], null, Syndicator.Shared.WebUrl.Parse("https://m.example/o"), null, Now, Now, "h");
        Assert.Equal(["magazine-mastodon"], s.App.Get<AnnouncementPlanner>().AccountsFor(other).Select(a => a.Name));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_backlog_goes_out_oldest_first_at_most_MaxPerRun_per_account_per_run()
    {
        await using var s = await StartAsync();
        for (var i = 4; i >= 0; i--) await ImportAsync(s.App, $"piece-{i}", "Jane Doe", Now.AddHours(-10 + i));

        await s.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Equal(["piece-0", "piece-1"], s.Mastodon.Posts.Select(p => p.Status.Split('\n')[0]));
        await s.App.Get<Announcer>().SendDueAsync(null, Ct);
        await s.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Equal(["piece-0", "piece-1", "piece-2", "piece-3", "piece-4"], s.Mastodon.Posts.Select(p => p.Status.Split('\n')[0]));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_article_imported_long_after_its_publication_is_not_announced()
    {
        await using var s = await StartAsync();
        await ImportAsync(s.App, "archive-piece", "Jane Doe", Now.AddDays(-30));

        await s.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Empty(s.Mastodon.Posts);
        Assert.Empty(await s.App.Get<DeliveryStore>().ListAsync(null, null, 10, Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_crash_after_the_network_accepted_the_post_does_not_produce_a_second_post()
    {
        await using var s = await StartAsync();
        await ImportAsync(s.App, "crash-piece", "Jane Doe", Now.AddMinutes(-1));
        var store = s.App.Get<DeliveryStore>();

        // A node claims the delivery and the post reaches Mastodon, then the node dies before recording it.
        var claimed = Assert.Single(await store.ClaimDueAsync("mastodon", "dead-node", TimeSpan.FromMinutes(5), 10, Ct));
        var post = s.App.Get<PostComposer>().Compose((await s.App.Get<ArticleStore>().FindByIdAsync(claimed.Subject.Id, Ct))!,
            new SocialAccount { Name = "magazine-mastodon", Network = Network.Mastodon }, $"syndicator-{claimed.Key}");
        var mastodon = s.App.Get<Syndicator.Announcements.Mastodon.MastodonClient>();
        var account = new SocialAccount { Name = "magazine-mastodon", Network = Network.Mastodon, BaseUrl = s.Mastodon.BaseUrl, Credentials = { ["AccessToken"] = "env:" + s.TokenVariable } };
        await mastodon.PostAsync(account, post, isRetry: false, Ct);
        Assert.Single(s.Mastodon.Posts);

        // The lease runs out; a survivor reclaims the delivery and sends again with the same Idempotency-Key.
        s.Time.Advance(TimeSpan.FromMinutes(6));
        await s.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Single(s.Mastodon.Posts);
        var delivery = await store.GetAsync(claimed.Id, Ct);
        Assert.Equal(DeliveryState.Sent, delivery!.State);
        Assert.Equal(2, delivery.Attempts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_429_pauses_the_account_until_the_networks_reset_time_without_using_up_an_attempt_and_a_401_fails_at_once_with_the_networks_words()
    {
        await using var s = await StartAsync();
        var reset = Now.AddMinutes(15);
        var calls = 0;
        s.Mastodon.Fail = n => (calls = n) == 1 ? new RateLimited(reset) : null;
        await ImportAsync(s.App, "limited", "Jane Doe", Now.AddMinutes(-1));

        await s.App.Get<Announcer>().SendDueAsync(null, Ct);
        var waiting = Assert.Single(await s.App.Get<DeliveryStore>().ListAsync(DeliveryState.Pending, null, 10, Ct));
        Assert.Equal(0, waiting.Attempts); // the account's rate, not the delivery's fault
        Assert.StartsWith("mastodon: ", waiting.LastError);
        var pause = Assert.Single(await s.App.Get<DeliveryStore>().ListPausesAsync(Ct));
        Assert.Equal(("mastodon", "magazine-mastodon", reset), (pause.Channel, pause.Recipient, pause.PausedUntil));
        s.Time.Advance(TimeSpan.FromMinutes(14));
        await s.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Equal(1, calls); // nothing reaches a paused account before its reset

        Environment.SetEnvironmentVariable(s.TokenVariable, "a-revoked-token");
        s.Time.Advance(TimeSpan.FromMinutes(2));
        await s.App.Get<Announcer>().SendDueAsync(null, Ct);
        var failed = Assert.Single(await s.App.Get<DeliveryStore>().ListAsync(DeliveryState.Failed, null, 10, Ct));
        Assert.Contains("401", failed.LastError);
        Assert.Contains("The access token is invalid", failed.LastError);
    }

    private sealed class RateLimited(DateTimeOffset reset) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = 429;
            context.Response.Headers["X-RateLimit-Reset"] = reset.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'");
            return context.Response.WriteAsync("{\"error\":\"Too many requests\"}");
        }
    }
}
