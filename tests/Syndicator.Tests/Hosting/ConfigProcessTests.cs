using System.Text.Json.Nodes;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

/// <summary>Wrong configurations given to the real executable: <c>config check</c> and the service both exit 2 naming the key, file or line and the fix.</summary>
public sealed class ConfigProcessTests
{
    private const int TestTimeout = CliProcessTests.TestTimeout;

    /// <summary>Each mistake, the key its problem starts with, and a part of the fix the problem must give.</summary>
    public static TheoryData<string, string, string> Mistakes => new()
    {
        { "network", "Announcements:Accounts:0:Network", "is not one of X, Mastodon, Bluesky" },
        { "misfire", "Jobs:DropFolderImport:Misfire", "is not one of FireNow, Skip" },
        { "port", "Digests:Smtp:Port", "is not a whole number from 1 to 65535" },
        { "postgres-password", "Storage:ConnectionString", "PGPASSWORD" },
        { "unwritable", "Feeds:OutputPath", "write access" },
        { "example-site", "Site:BaseUrl", "Set it to the address readers reach" },
        { "loopback-links", "Digests:PublicUrl", "Set it to the address readers reach" },
    };

    private static void Make(SyndicatorSandbox sandbox, string mistake)
    {
        switch (mistake)
        {
            case "network":
                sandbox.Set("Announcements:Accounts", new JsonArray(new JsonObject { ["Name"] = "magazine", ["Network"] = "Mastodn", ["Enabled"] = false }));
                break;
            case "misfire":
                sandbox.Set("Jobs:DropFolderImport:Misfire", "Later");
                break;
            case "port":
                sandbox.Set("Digests:Smtp:Port", "abc");
                break;
            case "postgres-password":
                sandbox.Set("Storage:Provider", "PostgreSql").Set("Storage:ConnectionString", "Host=db.internal;Database=syndicator;Username=syndicator;Password=hunter2");
                break;
            case "unwritable":
                sandbox.Set("Feeds:OutputPath", Path.Combine(sandbox.File("not-a-folder", "x"), "feeds"));
                break;
            case "example-site":
                sandbox.Set("Digests:Smtp:Host", "smtp.relay-provider.net").Set("Digests:PublicUrl", "https://syndicator.opinion-weekly.net");
                break;
            case "loopback-links":
                sandbox.Set("Digests:Smtp:Host", "smtp.relay-provider.net").Set("Site:BaseUrl", "https://www.opinion-weekly.net");
                break;
        }
    }

    [Theory(Timeout = TestTimeout)]
    [MemberData(nameof(Mistakes))]
    public async Task Config_check_exits_2_on_a_configuration_that_used_to_pass_naming_the_key_and_the_fix(string mistake, string key, string fix)
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        Make(sandbox, mistake);

        var result = await sandbox.RunAsync("config", "check");

        Assert.True(result.ExitCode == 2, result.ToString());
        var problem = Assert.Single(CliProcessTests.Problems(result), p => p.StartsWith(key + " ", StringComparison.Ordinal));
        Assert.Contains(fix, problem);
        Assert.DoesNotContain("hunter2", result.Output);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("network")]
    [InlineData("postgres-password")]
    [InlineData("loopback-links")]
    public async Task The_service_refuses_to_start_on_the_same_configurations_with_exit_code_2(string mistake)
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        Make(sandbox, mistake);

        await using var service = sandbox.Start([]);
        var result = await service.WaitForExitAsync(TimeSpan.FromSeconds(45), TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("Syndicator did not start", result.Flat);
        Assert.False(File.Exists(sandbox.DatabasePath), "nothing may be started on a refused configuration");
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_production_configuration_with_a_relay_and_https_addresses_still_starts()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Set("Site:BaseUrl", "https://www.opinion-weekly.net")
            .Set("Digests:PublicUrl", "https://syndicator.opinion-weekly.net")
            .Set("Digests:Smtp:Host", "smtp.relay-provider.net");

        await using var service = sandbox.Start([]);

        Assert.Equal("alive", (await service.WaitForHttpAsync($"{sandbox.BaseUrl}/health", TimeSpan.FromSeconds(45), TestContext.Current.CancellationToken)).Trim());
    }

    // ------------------------------------------------------------------ JSON files

    private const string MissingComma = "{\n  \"Site\": {\n    \"Title\": \"The Opinion Magazine\"\n    \"BaseUrl\": \"https://magazine.example\"\n  }\n}\n";

    [Fact(Timeout = TestTimeout)]
    public async Task Config_check_names_the_file_line_and_column_of_a_JSON_syntax_error()
    {
        using var dir = new TempDir();
        var path = dir.File("appsettings.json", MissingComma);

        await using var process = SyndicatorProcess.Start(["config", "check"], new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = path }, dir.Path);
        var result = await process.WaitForExitAsync(SyndicatorSandbox.CliTimeout, TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        var problem = Assert.Single(CliProcessTests.Problems(result));
        Assert.StartsWith(CliProcessTests.Squash($"{path}, line 4, column 5:"), CliProcessTests.Squash(problem));
        Assert.DoesNotContain("Unhandled exception", result.Output);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_misspelt_or_unknown_section_is_named_with_its_line_and_the_section_meant_and_other_problems_still_show()
    {
        using var dir = new TempDir();
        // "Storag" would otherwise be ignored without a word, and the service would run on the default SQLite file.
        var path = dir.File("appsettings.json",
            "{\n  \"Site\": { \"Title\": \"مجله\" },\n  \"Storag\": { \"Provider\": \"PostgreSql\" },\n  \"Zzyzx\": {},\n  \"Jobs\": { \"FeedBuild\": { \"Misfire\": \"Later\" } }\n}\n");

        await using var process = SyndicatorProcess.Start(["config", "check"], new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = path }, dir.Path);
        var result = await process.WaitForExitAsync(SyndicatorSandbox.CliTimeout, TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        var problems = CliProcessTests.Problems(result).Select(CliProcessTests.Squash).ToList();
        Assert.Contains(problems, p => p.StartsWith(CliProcessTests.Squash($"{path}, line 3, column 3:"), StringComparison.Ordinal) && p.Contains(CliProcessTests.Squash("did you mean Storage?")));
        Assert.Contains(problems, p => p.StartsWith(CliProcessTests.Squash($"{path}, line 4, column 3:"), StringComparison.Ordinal) && p.Contains(CliProcessTests.Squash("\"Zzyzx\" is not a section")));
        Assert.Contains(problems, p => p.Contains(CliProcessTests.Squash("Jobs:FeedBuild:Misfire 'Later' is not one of FireNow, Skip")));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task The_service_refuses_a_JSON_syntax_error_in_the_environment_file_naming_that_file()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var broken = sandbox.File("appsettings.Staging.json", MissingComma);
        sandbox.WriteConfig();

        await using var service = SyndicatorProcess.Start([], new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = sandbox.ConfigPath, ["DOTNET_ENVIRONMENT"] = "Staging" }, sandbox.Root);
        var result = await service.WaitForExitAsync(TimeSpan.FromSeconds(45), TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(CliProcessTests.Squash($"{broken}, line 4, column 5:"), CliProcessTests.Squash(result.Output));
        Assert.Contains("Syndicator did not start", result.Flat);
    }

    // ------------------------------------------------------------------ where appsettings.json is found

    [Fact(Timeout = TestTimeout)]
    public async Task Without_SYNDICATOR_CONFIG_the_appsettings_json_in_the_working_directory_is_read_first()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.WriteConfig();

        await using var process = SyndicatorProcess.Start(["config", "check"], new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = null }, sandbox.Root);
        var result = await process.WaitForExitAsync(SyndicatorSandbox.CliTimeout, TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(CliProcessTests.Squash($"({sandbox.ConfigPath})"), CliProcessTests.Squash(result.Output));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task SYNDICATOR_CONFIG_wins_over_a_file_in_the_working_directory()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.WriteConfig();
        using var elsewhere = new TempDir();
        elsewhere.File("appsettings.json", MissingComma);

        await using var process = SyndicatorProcess.Start(["config", "check"], new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = sandbox.ConfigPath }, elsewhere.Path);
        var result = await process.WaitForExitAsync(SyndicatorSandbox.CliTimeout, TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(CliProcessTests.Squash($"({sandbox.ConfigPath})"), CliProcessTests.Squash(result.Output));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task SYNDICATOR_CONFIG_naming_a_folder_exits_2_and_names_the_file_to_point_at()
    {
        using var dir = new TempDir();

        await using var process = SyndicatorProcess.Start(["config", "check"], new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = dir.Path }, dir.Path);
        var result = await process.WaitForExitAsync(SyndicatorSandbox.CliTimeout, TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(CliProcessTests.Squash(Path.Combine(dir.Path, "appsettings.json")), CliProcessTests.Squash(result.Output));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Each_problem_says_where_its_key_was_set_the_file_line_and_column_or_the_environment_variable()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Set("Feeds:MaxItemz", 5);
        sandbox.Set("Announcements:Accounts", new JsonArray(
            new JsonObject { ["Name"] = "magazine", ["Network"] = "Mastodon", ["Enabled"] = false },
            new JsonObject { ["Name"] = "رسانه 📰", ["Network"] = "Mastodn", ["Enabled"] = false }));
        sandbox.WriteConfig();
        var lines = File.ReadAllLines(sandbox.ConfigPath);
        string At(string text)
        {
            var line = Array.FindIndex(lines, l => l.Contains(text, StringComparison.Ordinal));
            Assert.True(line >= 0, text);
            return $"(set in {sandbox.ConfigPath}, line {line + 1}, column {lines[line].IndexOf('"', StringComparison.Ordinal) + 1})";
        }

        await using var service = SyndicatorProcess.Start(["config", "check"],
            new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = sandbox.ConfigPath, ["Digests__Smtp__Port"] = "abc" }, sandbox.Root);
        var result = await service.WaitForExitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        var problems = CliProcessTests.Problems(result);
        Assert.Contains(problems, p => p.StartsWith("Feeds:MaxItemz ", StringComparison.Ordinal) && CliProcessTests.Squash(p).EndsWith(CliProcessTests.Squash(At("\"MaxItemz\"")), StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Announcements:Accounts:1:Network ", StringComparison.Ordinal) && CliProcessTests.Squash(p).EndsWith(CliProcessTests.Squash(At("\"Mastodn\"")), StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Digests:Smtp:Port ", StringComparison.Ordinal) && CliProcessTests.Squash(p).EndsWith(CliProcessTests.Squash("(set in the environment variable Digests__Smtp__Port)"), StringComparison.Ordinal));
    }

    // ------------------------------------------------------------------ ASP.NET Core's own listen settings

    [Theory(Timeout = TestTimeout)]
    [InlineData("ASPNETCORE_URLS", "http://127.0.0.1:5999")]
    [InlineData("DOTNET_URLS", "http://+:5999")]
    [InlineData("ASPNETCORE_HTTP_PORTS", "8080")]
    public async Task The_service_refuses_ASP_NET_Cores_listen_variables_and_names_Http_Urls(string variable, string value)
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.WriteConfig();

        await using var service = SyndicatorProcess.Start([], new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = sandbox.ConfigPath, [variable] = value }, sandbox.Root);
        var result = await service.WaitForExitAsync(TimeSpan.FromSeconds(45), TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        var problem = Assert.Single(CliProcessTests.Problems(result));
        Assert.StartsWith($"the environment variable {variable} is set ('{value}'), but Syndicator listens where Http:Urls says ({sandbox.BaseUrl})", problem);
        Assert.Contains($"unset {variable} and set Http:Urls", problem);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("--urls", "http://0.0.0.0:5999")]
    [InlineData("--urls=http://0.0.0.0:5999")]
    [InlineData("run", "--URLS", "http://0.0.0.0:5999")]
    public async Task The_urls_option_is_refused_naming_Http_Urls(params string[] args)
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);

        var result = await sandbox.RunAsync(args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--urls is given on the command line, but Syndicator listens where Http:Urls says and nowhere else; drop --urls and set Http:Urls", result.Flat);
    }
}
