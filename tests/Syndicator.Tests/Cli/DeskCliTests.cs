using System.Text.Json;
using System.Text.Json.Nodes;
using Syndicator.Tests.Announcements.Mastodon;
using Syndicator.Tests.Hosting;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Cli;

/// <summary>
/// The publisher's verbs, run as the real executable against the loopback Mastodon: announce now, again on purpose,
/// hold, the articles that missed accounts, and <c>deliveries list</c> by article, account, channel, state and time.
/// </summary>
public sealed class DeskCliTests
{
    /// <summary>A dozen runs of the executable, each a few seconds on a loaded machine.</summary>
    private const int TestTimeout = 240_000;

    private static JsonObject Account(string name, FakeMastodonServer mastodon, string tokenFile) => new()
    {
        ["Name"] = name,
        ["Network"] = "Mastodon",
        ["BaseUrl"] = mastodon.BaseUrl,
        ["Credentials"] = new JsonObject { ["AccessToken"] = "file:" + tokenFile },
    };

    private static SyndicatorSandbox WithAccounts(SyndicatorSandbox sandbox, params JsonObject[] accounts)
    {
        sandbox.Set("Site:AllowLocalUrls", true);
        sandbox.Set("Announcements:Accounts", new JsonArray(accounts.Select(a => (JsonNode)a.DeepClone()).ToArray()));
        return sandbox;
    }

    private static async Task ImportAsync(SyndicatorSandbox sandbox, string slug, string title, DateTimeOffset published)
    {
        var path = sandbox.File($"articles/{slug}.md", $"---\ntitle: \"{title}\"\nslug: {slug}\nauthor: Jane Doe\ndate: {published:O}\n---\nBody of {slug}.\n");
        var import = await sandbox.RunAsync("import", path);
        Assert.True(import.ExitCode == 0, import.ToString());
    }

    private static JsonElement[] Json(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        return json.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Announce_again_makes_one_new_recorded_post_and_deliveries_list_names_it_by_title_and_account()
    {
        await using var mastodon = await FakeMastodonServer.StartAsync();
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var token = sandbox.File("secrets/mastodon", mastodon.Token);
        WithAccounts(sandbox, Account("magazine-mastodon", mastodon, token));
        await ImportAsync(sandbox, "water-wars", "Water wars 🌊 آب", DateTimeOffset.UtcNow.AddHours(-1));

        var first = await sandbox.RunAsync("announce", "--article", "water-wars");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Single(mastodon.Posts);
        // Announcing now a second time finds it sent and creates nothing: only --again posts again.
        var repeat = await sandbox.RunAsync("announce", "--article", "water-wars");
        Assert.True(repeat.ExitCode == 0, repeat.ToString());
        Assert.Contains("No new announcement", repeat.Flat);
        Assert.Single(mastodon.Posts);

        var again = await sandbox.RunAsync("announce", "--article", "water-wars", "--again", "--account", "magazine-mastodon");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("on magazine-mastodon", again.Flat);
        Assert.Equal(2, mastodon.Posts.Count);

        var listed = Json(await sandbox.RunAsync("deliveries", "list", "--article", "water-wars", "--json"));
        Assert.Equal(2, listed.Length);
        Assert.All(listed, d => Assert.Equal(("sent", "magazine-mastodon"), (d.GetProperty("state").GetString(), d.GetProperty("recipient").GetString())));
        Assert.All(listed, d => Assert.Contains("Water wars 🌊 آب", d.GetProperty("subject").GetString()));
        Assert.Equal(["", "again-1"], listed.Select(d => d.GetProperty("subjectVersion").GetString()).Order());
        Assert.Equal(2, listed.Select(d => d.GetProperty("remoteUrl").GetString()).Distinct().Count());

        // Filters: by account, channel, state and time; an unknown name is an error that names it.
        Assert.Equal(2, Json(await sandbox.RunAsync("deliveries", "list", "--account", "magazine-mastodon", "--channel", "mastodon", "--state", "sent", "--since", "1h", "--json")).Length);
        Assert.Empty(Json(await sandbox.RunAsync("deliveries", "list", "--channel", "x", "--json")));
        Assert.Empty(Json(await sandbox.RunAsync("deliveries", "list", "--since", DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), "--json")));
        var unknownAccount = await sandbox.RunAsync("deliveries", "list", "--account", "nobody");
        Assert.Equal(1, unknownAccount.ExitCode);
        Assert.Contains("No account is named 'nobody'", unknownAccount.Flat);
        Assert.Contains("magazine-mastodon", unknownAccount.Flat);
        var badSince = await sandbox.RunAsync("deliveries", "list", "--since", "yesterday");
        Assert.Equal(1, badSince.ExitCode);
        Assert.Contains("--since 'yesterday'", badSince.Flat);
        var unknownArticle = await sandbox.RunAsync("announce", "--article", "no-such-slug", "--again");
        Assert.Equal(1, unknownArticle.ExitCode);
        Assert.Contains("'no-such-slug'", unknownArticle.Flat);
        var wrongAccount = await sandbox.RunAsync("announce", "--article", "water-wars", "--again", "--account", "nobody");
        Assert.Equal(1, wrongAccount.ExitCode);
        Assert.Contains("Account nobody does not announce", wrongAccount.Flat);
        var noArticle = await sandbox.RunAsync("announce", "--again");
        Assert.NotEqual(0, noArticle.ExitCode);
        Assert.Contains("--again needs --article", noArticle.Flat);
        Assert.Equal(2, mastodon.Posts.Count);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Missed_accounts_are_listed_with_the_right_reason_announced_with_one_command_and_a_held_article_is_refused()
    {
        await using var mastodon = await FakeMastodonServer.StartAsync();
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var token = sandbox.File("secrets/mastodon", mastodon.Token);
        WithAccounts(sandbox, Account("magazine-mastodon", mastodon, token));
        await ImportAsync(sandbox, "old-news", "Old news", DateTimeOffset.UtcNow.AddDays(-10));
        await ImportAsync(sandbox, "fresh", "Fresh", DateTimeOffset.UtcNow.AddHours(-1));
        // An account configured after both were imported.
        WithAccounts(sandbox, Account("magazine-mastodon", mastodon, token), Account("second-mastodon", mastodon, token));

        var missed = await sandbox.RunAsync("announce", "--missed");

        Assert.True(missed.ExitCode == 0, missed.ToString());
        var flat = missed.Flat;
        Assert.Contains("3 missed announcement(s)", flat);
        Assert.Contains("more than Announcements:MaxAgeHours (72 h)", flat);
        Assert.Contains("the account was not configured (or not enabled) when the article was imported", flat);
        Assert.DoesNotContain("no account matched it", flat);

        var hold = await sandbox.RunAsync("announce", "--article", "old-news", "--hold");
        Assert.True(hold.ExitCode == 0, hold.ToString());
        var refused = await sandbox.RunAsync("announce", "--article", "old-news");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("is held", refused.Flat);
        Assert.Empty(mastodon.Posts);
        Assert.True((await sandbox.RunAsync("announce", "--article", "old-news", "--unhold")).ExitCode == 0);

        var announced = await sandbox.RunAsync("announce", "--article", "old-news");
        Assert.True(announced.ExitCode == 0, announced.ToString());
        Assert.Equal(2, mastodon.Posts.Count);
        var after = await sandbox.RunAsync("announce", "--missed");
        Assert.Contains("1 missed announcement(s)", after.Flat);
        Assert.Contains("second-mastodon", after.Flat);
    }
}
