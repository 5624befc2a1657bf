using System.Text.RegularExpressions;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

/// <summary>
/// Times an operator reads (the log's timestamps, the times in CLI tables) are ISO 8601 in UTC even on a server whose
/// culture has another calendar and whose zone is not UTC: Persian (fa-IR) counts years from 1404, Tehran is +03:30.
/// </summary>
public sealed partial class LogTimeTests
{
    private static readonly Dictionary<string, string?> PersianServer = new()
    {
        ["LANG"] = "fa_IR.UTF-8",
        ["LC_ALL"] = "fa_IR.UTF-8",
        ["TZ"] = "Asia/Tehran",
    };

    [Fact(Timeout = CliProcessTests.TestTimeout)]
    public async Task Log_lines_and_CLI_tables_carry_ISO_8601_UTC_times_on_a_Persian_server_in_Tehran()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sandbox = new SyndicatorSandbox(ct);
        var before = DateTimeOffset.UtcNow;
        await using var service = sandbox.Start([], environment: PersianServer);
        await service.WaitForHttpAsync($"{sandbox.BaseUrl}/health", TimeSpan.FromSeconds(30), ct);
        await service.WaitUntilAsync(() => service.Stderr.Contains("Imported new article", StringComparison.Ordinal), "the sample article's import logged", TimeSpan.FromSeconds(30), ct);

        var lines = service.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        foreach (var line in lines.Where(l => l.Contains(": ", StringComparison.Ordinal) && LevelPrefix().IsMatch(l)))
        {
            var stamp = LogLine().Match(line);
            Assert.True(stamp.Success, $"not an ISO 8601 UTC timestamp: {line}");
            var at = DateTimeOffset.Parse(stamp.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            // Within the run, in UTC: a Tehran wall-clock time would be 3.5 h ahead, a Persian year 621 behind.
            Assert.InRange(at, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        }

        await using var verb = sandbox.Start(["articles", "list"], environment: PersianServer);
        var list = await verb.WaitForExitAsync(SyndicatorSandbox.CliTimeout, ct);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Matches(@"\b20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\b", list.Stdout);
        Assert.DoesNotMatch(@"\b14\d\d[-/]\d\d[-/]\d\d\b", list.Output);
    }

    /// <summary>A log entry's first line: the timestamp, then the level (the simple console logger's "info:", "warn:", ...).</summary>
    [GeneratedRegex(@"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) (trce|dbug|info|warn|fail|crit): ")]
    private static partial Regex LogLine();

    [GeneratedRegex(@"(trce|dbug|info|warn|fail|crit): ")]
    private static partial Regex LevelPrefix();
}
