using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Syndicator.Hosting;
using Syndicator.Tests.Hosting;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles.Intake;

/// <summary><c>syndicator apikeys</c> run as the real executable, and the Intake section checked at start-up.</summary>
public sealed partial class IntakeCliAndConfigTests
{
    private const int TestTimeout = CliProcessTests.TestTimeout * 4;

    [Fact(Timeout = TestTimeout)]
    public async Task Apikeys_are_made_once_printed_once_listed_without_the_key_and_revoked()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var made = await sandbox.RunAsync("apikeys", "create", "ghost-cms", "--scope", "write");
        Assert.True(made.ExitCode == 0, made.ToString());
        var key = made.Stdout.Trim();
        Assert.Matches(KeyShape(), key);

        var again = await sandbox.RunAsync("apikeys", "create", "ghost-cms");
        Assert.True(again.ExitCode == 1, again.ToString());
        Assert.Contains("already a key called 'ghost-cms'", again.Flat);
        var badScope = await sandbox.RunAsync("apikeys", "create", "reader", "--scope", "admin");
        Assert.True(badScope.ExitCode == 1, badScope.ToString());
        Assert.Contains("use write or read", badScope.Flat);
        var badName = await sandbox.RunAsync("apikeys", "create", "../etc");
        Assert.True(badName.ExitCode == 1, badName.ToString());
        Assert.True((await sandbox.RunAsync("apikeys", "create", "status-page", "--scope", "read")).ExitCode == 0);

        var revoke = await sandbox.RunAsync("apikeys", "revoke", "ghost-cms");
        Assert.True(revoke.ExitCode == 0, revoke.ToString());
        Assert.True((await sandbox.RunAsync("apikeys", "revoke", "ghost-cms")).ExitCode == 1);

        var list = await sandbox.RunAsync("apikeys", "list", "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.DoesNotContain(key, list.Stdout);
        var keys = JsonDocument.Parse(list.Stdout).RootElement.EnumerateArray().ToList();
        Assert.Equal([("ghost-cms", "write", true), ("status-page", "read", false)],
            keys.Select(k => (k.GetProperty("name").GetString()!, k.GetProperty("scope").GetString()!, k.GetProperty("revokedAt").ValueKind != JsonValueKind.Null)));
        // Only the hash is stored.
        Assert.DoesNotContain(key, File.ReadAllText(sandbox.DatabasePath, System.Text.Encoding.Latin1));
    }

    [Fact]
    public void Bad_intake_sources_and_a_literal_ghost_secret_are_refused_at_start_up_naming_the_key()
    {
        using var dir = new TempDir();
        var settings = new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = $"Data Source={Path.Combine(dir.Path, "c.db")}",
            ["Import:InboxPath"] = Path.Combine(dir.Path, "inbox"),
            ["Feeds:OutputPath"] = Path.Combine(dir.Path, "feeds"),
            ["Digests:PickupPath"] = Path.Combine(dir.Path, "pickup"),
            ["Digests:SigningKey"] = "file:" + Path.Combine(dir.Path, "signing.key"),
            ["Intake:Ghost:Secret"] = "the-secret-itself",
            ["Intake:Sources:0:Name"] = "blog",
            ["Intake:Sources:0:Url"] = "javascript:alert(1)",
            ["Intake:Sources:1:Name"] = "blog",
            ["Intake:Sources:1:Url"] = "https://magazine.example/feed.xml",
            ["Intake:Sources:1:IntervalMinutes"] = "0",
            ["Intake:Sources:2:Name"] = "../wp",
            ["Intake:Sources:2:Kind"] = "WordPress",
            ["Intake:Sources:2:Url"] = "https://blog.example",
        };
        IReadOnlyList<string> problems;
        try
        {
            using var app = ConfigProblems.BuildValidated(() => SyndicatorHost.Build([], c => c.AddInMemoryCollection(settings)));
            problems = [];
        }
        catch (ConfigProblemsException e)
        {
            problems = e.Problems;
        }
        var all = string.Join("\n", problems);
        Assert.Contains("Intake:Ghost:Secret must be a secret reference", all);
        Assert.Contains("Intake:Sources:0:Url is \"javascript:alert(1)\"", all);
        Assert.Contains("Intake:Sources:1:Name 'blog' is used by another source", all);
        Assert.Contains("Intake:Sources:1:IntervalMinutes is 0", all);
        Assert.Contains("Intake:Sources:2:Name is \"../wp\"", all);
    }

    [GeneratedRegex("^syn_[A-Za-z0-9_-]{43}$")]
    private static partial Regex KeyShape();
}
