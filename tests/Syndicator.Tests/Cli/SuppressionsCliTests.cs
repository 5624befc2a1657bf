using Syndicator.Tests.Hosting;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Cli;

/// <summary><c>syndicator suppressions</c> and the subscriber verbs it guards, run as the real executable.</summary>
public sealed class SuppressionsCliTests
{
    private const int TestTimeout = CliProcessTests.TestTimeout * 2;

    [Fact(Timeout = TestTimeout)]
    public async Task A_suppressed_address_is_refused_by_add_and_import_until_lifted_and_the_list_round_trips_as_csv()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var import = await sandbox.RunAsync("suppressions", "import", sandbox.File("old-tool.csv",
            "email,reason,source,detail\ngone@example.com,bounced,old-tool,550 5.1.1\nangry@example.com,complained,old-tool,FBL\nnot an address,manual,,\n"));
        Assert.True(import.ExitCode == 1, import.ToString());
        Assert.Contains("2 added, 0 already listed, 1 rejected", import.Flat);
        Assert.Contains("old-tool.csv: line 4:", import.Flat);

        var add = await sandbox.RunAsync("subscribers", "add", "Gone@Example.com");
        Assert.True(add.ExitCode == 1, add.ToString());
        Assert.Contains("gone@example.com is on the suppression list (bounced", add.Flat);
        Assert.Contains("syndicator suppressions lift gone@example.com", add.Flat);
        var csv = await sandbox.RunAsync("subscribers", "import", sandbox.File("readers.csv", "email,name\nangry@example.com,Angry\nnew@example.com,New\n"));
        Assert.True(csv.ExitCode == 1, csv.ToString());
        Assert.Contains("line 2:", csv.Flat);
        Assert.Contains("1 added, 0 updated, 1 rejected", csv.Flat);

        var lift = await sandbox.RunAsync("suppressions", "lift", "gone@example.com");
        Assert.True(lift.ExitCode == 0, lift.ToString());
        Assert.True((await sandbox.RunAsync("subscribers", "add", "gone@example.com")).ExitCode == 0);
        Assert.True((await sandbox.RunAsync("suppressions", "lift", "gone@example.com")).ExitCode == 1);

        var export = await sandbox.RunAsync("suppressions", "export", "-");
        Assert.True(export.ExitCode == 0, export.ToString());
        var lines = export.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("email,reason,source,detail,created_at", lines[0]);
        Assert.StartsWith("angry@example.com,complained,old-tool,FBL,", Assert.Single(lines.Skip(1)));
    }
}
