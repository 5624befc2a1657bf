using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Data.Sqlite;
using Syndicator.Tests.Hosting;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Cli;

/// <summary>
/// <c>subscribers add/import</c> run as the real executable, next to the same service answering the sign-up form:
/// the CLI and the form are adapters over one Subscriptions service, so they must give the same verdicts.
/// </summary>
public sealed partial class SubscribersCliTests
{
    private const int TestTimeout = CliProcessTests.TestTimeout * 2;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] Hostile =
    [
        new string('a', 300) + "@example.com",
        "a@[127.0.0.1]",
        "a@localhost",
        "a@127.0.0.1",
        new string('b', 65) + "@example.com",
        "Jane <jane@example.com>",
        "jane@-bad-.example",
        // An escape sequence that would clear the publisher's terminal if echoed back raw.
        "jane\u001b[2J\u001b]0;pwned\u0007@example.com",
    ];

    [Fact(Timeout = TestTimeout)]
    public async Task The_cli_and_the_form_refuse_the_same_addresses_with_the_same_reasons_and_start_digests_at_the_same_watermark()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Set("Jobs:DropFolderImport", new System.Text.Json.Nodes.JsonObject { ["Enabled"] = false });
        sandbox.Set("Subscriptions:SignUpsPerClient", 100);
        var csv = "email,name,frequency,tz\n" + string.Join("\n", Hostile.Select(a => $"\"{a}\",,daily,UTC")) + "\n";
        var import = await sandbox.RunAsync("subscribers", "import", sandbox.File("hostile.csv", csv));
        Assert.True(import.ExitCode == 1, import.ToString());
        Assert.DoesNotContain('\u001b', import.Flat);
        Assert.Contains("U+001B at position 5", import.Flat);
        var service = sandbox.Start([]);
        await service.WaitForHttpAsync(sandbox.BaseUrl + "/health", TimeSpan.FromSeconds(30), Ct);
        using var http = new HttpClient { BaseAddress = new Uri(sandbox.BaseUrl) };

        for (var i = 0; i < Hostile.Length; i++)
        {
            var response = await http.PostAsync("/subscribe", new FormUrlEncodedContent([new("email", Hostile[i]), new("frequency", "daily"), new("tz", "UTC")]), Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var reason = WebUtility.HtmlDecode(Regex.Match(await response.Content.ReadAsStringAsync(Ct), "<li>(.*?)</li>").Groups[1].Value);
            Assert.NotEmpty(reason);
            // The CSV's line i + 2 (after the header) carries the same reason, word for word.
            Assert.Contains($"line {i + 2}: {reason}", import.Flat);
        }

        // The publisher vouches for one reader; another signs up on the form and confirms: both start one day back.
        var before = DateTimeOffset.UtcNow;
        var add = await sandbox.RunAsync("subscribers", "add", "vouched@example.com");
        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/subscribe", new FormUrlEncodedContent([new("email", "form@example.com"), new("frequency", "daily"), new("tz", "UTC")]), Ct)).StatusCode);
        var pickup = Path.Combine(sandbox.Root, "data", "mail-pickup");
        await service.WaitUntilAsync(() => Directory.Exists(pickup) && Directory.GetFiles(pickup, "*.eml").Length > 0, "the confirmation e-mail", TimeSpan.FromSeconds(30), Ct);
        var link = Regex.Match((await MimeKit.MimeMessage.LoadAsync(Directory.GetFiles(pickup, "*.eml").Single(), Ct)).TextBody ?? "", @"/subscribe/confirm\?token=\S+").Value;
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync(link, null, Ct)).StatusCode);
        var after = DateTimeOffset.UtcNow;

        await using var connection = new SqliteConnection(sandbox.DatabaseConnectionString);
        var rows = (await connection.QueryAsync<(string Email, string State, string CoveredUntil)>(
            "SELECT email, state, covered_until FROM subscribers ORDER BY email")).ToList();
        Assert.Equal(["form@example.com", "vouched@example.com"], rows.Select(r => r.Email));
        Assert.All(rows, r =>
        {
            Assert.Equal("confirmed", r.State);
            Assert.InRange(DateTimeOffset.Parse(r.CoveredUntil, System.Globalization.CultureInfo.InvariantCulture), before.AddDays(-1).AddSeconds(-1), after.AddDays(-1).AddSeconds(1));
        });
    }
}
