using Microsoft.Data.Sqlite;
using Syndicator.Tests.Hosting;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Cli;

/// <summary><c>syndicator activitypub</c>, run as the real executable over a store that has followers.</summary>
public sealed class ActivityPubCliTests
{
    private const int TestTimeout = CliProcessTests.TestTimeout * 2;

    [Fact(Timeout = TestTimeout)]
    public async Task Followers_are_listed_a_held_one_approved_with_an_Accept_planned_and_one_removed()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Set("Site:AllowLocalUrls", true).Set("ActivityPub:Enabled", true).Set("ActivityPub:Username", "magazine").Set("ActivityPub:ApproveFollowers", true);
        var empty = await sandbox.RunAsync("activitypub", "followers");
        Assert.True(empty.ExitCode == 0, empty.ToString());
        Assert.Contains("no followers", empty.Flat);

        await using (var connection = new SqliteConnection(sandbox.DatabaseConnectionString))
        {
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            var insert = connection.CreateCommand();
            insert.CommandText = """
                INSERT INTO activitypub_followers (actor, follower, inbox, shared_inbox, follow_activity, state, created_at, updated_at) VALUES
                ('magazine', 'https://social.example/users/مریم', 'https://social.example/users/مریم/inbox', 'https://social.example/inbox', 'https://social.example/f/1', 'pending', '2026-11-20T10:00:00.0000000+00:00', '2026-11-20T10:00:00.0000000+00:00'),
                ('magazine', 'https://other.example/u/kenji', 'https://other.example/u/kenji/inbox', NULL, 'https://other.example/f/2', 'accepted', '2026-11-21T10:00:00.0000000+00:00', '2026-11-21T10:00:00.0000000+00:00')
                """;
            await insert.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        var list = await sandbox.RunAsync("activitypub", "followers");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("@magazine: 1 follower(s), 1 held, 2 inbox(es)", list.Flat);

        Assert.Equal(1, (await sandbox.RunAsync("activitypub", "approve", "2")).ExitCode); // already accepted
        var approve = await sandbox.RunAsync("activitypub", "approve", "1");
        Assert.True(approve.ExitCode == 0, approve.ToString());
        var remove = await sandbox.RunAsync("activitypub", "remove", "2");
        Assert.True(remove.ExitCode == 0, remove.ToString());
        Assert.Equal(1, (await sandbox.RunAsync("activitypub", "remove", "2")).ExitCode);

        var json = await sandbox.RunAsync("activitypub", "followers", "--json");
        Assert.Contains("\"state\": \"accepted\"", json.Stdout);
        Assert.DoesNotContain("kenji", json.Stdout);
        await using (var connection = new SqliteConnection(sandbox.DatabaseConnectionString))
        {
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            var accepts = connection.CreateCommand();
            accepts.CommandText = "SELECT recipient FROM deliveries WHERE channel = 'activitypub' AND subject_kind = 'follow'";
            Assert.Equal("https://social.example/users/مریم/inbox", (string?)await accepts.ExecuteScalarAsync(TestContext.Current.CancellationToken));
        }
    }
}
