using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

/// <summary>The command-line verbs, run as the real executable against a configuration file of their own.</summary>
public sealed class CliProcessTests
{
    /// <summary>
    /// No test here may wait longer than this, whatever hangs. Each starts the real executable one to three times; at a
    /// load average of 17 (the suite beside three busy loops) a start took long enough that 30 s failed four of them.
    /// </summary>
    internal const int TestTimeout = 90_000;

    internal const string SampleSlug = "the-iranian-regime-is-losing-its-regional-mystique";
    internal const string FutureMigration = "Syndicator.Storage.Migrations.Sqlite.9999_from_a_newer_syndicator.sql";

    /// <summary>The mistakes a publisher makes in appsettings.json, each under a different key.</summary>
    internal static readonly string[] BadKeys =
        ["Jobs:DropFolderImport:Cron", "Jobs:DropFolderImport:TimeZone", "Storage:ConnectionString", "Storage:Clustered", "Storage:PasswordFile"];

    internal const string UnixStyleCron = "*/5 * * * *";

    internal static void MakeEveryMistake(SyndicatorSandbox sandbox) => sandbox
        .Remove("Jobs:DropFolderImport:IntervalSeconds")
        .Set("Jobs:DropFolderImport:Cron", UnixStyleCron)
        .Set("Jobs:DropFolderImport:TimeZone", "Mars/Olympus_Mons")
        .Set("Storage:ConnectionString", "Data Source=x;Bogus Key=1")
        .Set("Storage:Clustered", true)
        .Set("Storage:PasswordFile", "secrets/db-password.txt");

    [Fact(Timeout = TestTimeout)]
    public async Task Config_check_on_a_valid_config_exits_0_and_names_the_file_it_read()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);

        var result = await sandbox.RunAsync("config", "check");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Configuration OK", result.Flat);
        Assert.Contains(Squash(sandbox.ConfigPath), Squash(result.Output));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Config_check_prints_every_problem_at_once_each_naming_its_key_and_exits_2()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        MakeEveryMistake(sandbox);

        var result = await sandbox.RunAsync("config", "check");

        Assert.True(result.ExitCode == 2, result.ToString());
        var problems = Problems(result);
        Assert.Contains($"The configuration has {problems.Count} problem(s):", result.Flat);
        foreach (var key in BadKeys)
            Assert.True(problems.Count(p => p.StartsWith(key + " ", StringComparison.Ordinal)) == 1,
                $"Expected exactly one problem starting with '{key}'. Problems:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
        Assert.DoesNotContain("Configuration OK", result.Output);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Config_check_names_the_key_the_value_and_the_fix_for_an_invalid_cron_expression()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Remove("Jobs:DropFolderImport:IntervalSeconds").Set("Jobs:DropFolderImport:Cron", UnixStyleCron);

        var result = await sandbox.RunAsync("config", "check");

        Assert.True(result.ExitCode == 2, result.ToString());
        var problem = Assert.Single(Problems(result));
        Assert.StartsWith($"Jobs:DropFolderImport:Cron '{UnixStyleCron}' is not a valid Quartz cron expression", problem);
        Assert.Contains("seconds first", problem); // the fix: Quartz cron is not Unix cron
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Config_check_resolves_a_relative_password_file_against_the_config_folder_when_naming_it()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Set("Storage:PasswordFile", "secrets/db-password.txt");

        var result = await sandbox.RunAsync("config", "check");

        Assert.True(result.ExitCode == 2, result.ToString());
        var problem = Assert.Single(Problems(result));
        Assert.StartsWith("Storage:PasswordFile", problem);
        Assert.Contains(Squash(Path.Combine(sandbox.Root, "secrets", "db-password.txt")), Squash(problem));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Config_check_names_a_misspelt_key_and_says_to_correct_its_spelling()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Set("Storage:ConectionString", "Data Source=other.db");

        var result = await sandbox.RunAsync("config", "check");

        Assert.True(result.ExitCode == 2, result.ToString());
        var problem = Assert.Single(Problems(result));
        Assert.Contains("Storage:ConectionString", problem);
        Assert.Contains("did you mean Storage:ConnectionString", problem);
        Assert.Contains("correct its spelling", problem);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Config_check_reports_a_misspelt_key_together_with_every_other_problem()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        MakeEveryMistake(sandbox);
        sandbox.Set("Storage:ConectionString", "Data Source=other.db");

        var result = await sandbox.RunAsync("config", "check");

        Assert.True(result.ExitCode == 2, result.ToString());
        var problems = Problems(result);
        Assert.Contains(problems, p => p.Contains("ConectionString", StringComparison.Ordinal));
        foreach (var key in BadKeys)
            Assert.Contains(problems, p => p.StartsWith(key + " ", StringComparison.Ordinal));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Config_check_exits_2_and_names_the_missing_file_when_SYNDICATOR_CONFIG_points_nowhere()
    {
        using var dir = new TempDir();
        var missing = Path.Combine(dir.Path, "nowhere", "appsettings.json");

        await using var process = SyndicatorProcess.Start(["config", "check"], new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = missing }, dir.Path);
        var result = await process.WaitForExitAsync(SyndicatorSandbox.CliTimeout, TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("SYNDICATOR_CONFIG", result.Flat);
        Assert.Contains(Squash(missing), Squash(result.Output));
        Assert.DoesNotContain("Unhandled exception", result.Output);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Health_exits_1_and_names_the_address_when_no_service_answers()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);

        var result = await sandbox.RunAsync("health");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"no answer from {sandbox.BaseUrl}", result.Stderr);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Importing_the_same_file_twice_creates_one_article_then_reports_it_unchanged()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);

        var first = await sandbox.RunAsync("import", Repo.SampleArticle);
        var second = await sandbox.RunAsync("import", Repo.SampleArticle);
        var list = await sandbox.RunAsync("articles", "list", "--json");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("1 new, 0 updated, 0 unchanged, 0 rejected", first.Flat);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("0 new, 0 updated, 1 unchanged, 0 rejected", second.Flat);
        Assert.True(list.ExitCode == 0, list.ToString());
        using var json = JsonDocument.Parse(list.Stdout);
        var article = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal(SampleSlug, article.GetProperty("slug").GetString());
        Assert.Equal("Hassan Mahmoudi", article.GetProperty("author").GetProperty("name").GetString());
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Articles_show_as_json_includes_the_authors_X_handle_from_the_bio()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var import = await sandbox.RunAsync("import", Repo.SampleArticle);
        Assert.True(import.ExitCode == 0, import.ToString());

        var show = await sandbox.RunAsync("articles", "show", SampleSlug, "--json");

        Assert.True(show.ExitCode == 0, show.ToString());
        using var json = JsonDocument.Parse(show.Stdout);
        Assert.Equal(SampleSlug, json.RootElement.GetProperty("slug").GetString());
        Assert.Equal("hassan_mahmou1", json.RootElement.GetProperty("author").GetProperty("handles").GetProperty("x").GetString());
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Articles_show_exits_1_and_says_there_is_no_such_article_for_an_unknown_slug()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var migrate = await sandbox.RunAsync("db", "migrate");
        Assert.True(migrate.ExitCode == 0, migrate.ToString());

        var show = await sandbox.RunAsync("articles", "show", "missing-slug");

        Assert.True(show.ExitCode == 1, show.ToString());
        Assert.Contains("No article has the slug or id 'missing-slug'", show.Flat);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Import_of_a_file_that_is_not_UTF8_exits_1_and_copies_it_to_rejected_with_the_line_leaving_the_original()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var original = sandbox.File(Path.Combine("drafts", "latin1.txt"), [.. "A title\n\nCaf"u8, 0xE9, .. " au lait.\n"u8]);

        var result = await sandbox.RunAsync("import", original);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("0 new, 0 updated, 0 unchanged, 1 rejected", result.Flat);
        Assert.True(File.Exists(original), "a file named on the command line must stay where it is");
        var copy = Path.Combine(sandbox.Rejected, "latin1.txt");
        Assert.True(File.Exists(copy), $"expected a copy at {copy}");
        var report = File.ReadAllText(copy + ".error.txt");
        Assert.Contains("problem: line 3: the file is not valid UTF-8", report);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Db_migrate_on_a_fresh_database_applies_every_migration_and_a_second_run_applies_none()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var migrations = KnownSqliteMigrations();
        Assert.NotEmpty(migrations);

        var first = await sandbox.RunAsync("db", "migrate");
        var second = await sandbox.RunAsync("db", "migrate");

        Assert.True(first.ExitCode == 0, first.ToString());
        var applied = Regex.Matches(first.Stdout, @"^applied\s+(\S+)\s*$", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(migrations.Select(m => $"Syndicator.Storage.Migrations.Sqlite.{m}").Order(StringComparer.Ordinal), applied.Order(StringComparer.Ordinal));
        Assert.Contains($"Schema up to date: {migrations.Count} applied now, 0 already applied.", first.Flat);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.DoesNotMatch(new Regex(@"^applied\s", RegexOptions.Multiline), second.Stdout);
        Assert.Contains($"Schema up to date: 0 applied now, {migrations.Count} already applied.", second.Flat);
        Assert.Equal(migrations.Count, await CountSchemaVersionsAsync(sandbox));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Db_migrate_refuses_a_database_whose_schema_is_newer_than_this_build_and_leaves_it_alone()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var migrate = await sandbox.RunAsync("db", "migrate");
        Assert.True(migrate.ExitCode == 0, migrate.ToString());
        await AddFutureMigrationAsync(sandbox);
        var before = await CountSchemaVersionsAsync(sandbox);

        var result = await sandbox.RunAsync("db", "migrate");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("newer", result.Flat);
        Assert.Contains(FutureMigration, Squash(result.Output));
        Assert.DoesNotContain("Schema up to date", result.Flat);
        Assert.Equal(before, await CountSchemaVersionsAsync(sandbox));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Relative_paths_in_the_config_resolve_against_the_config_folder_not_the_working_directory()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Set("Storage:ConnectionString", "Data Source=data/syndicator.db");
        using var elsewhere = new TempDir();

        await using var process = sandbox.Start(["db", "migrate"], workingDirectory: elsewhere.Path);
        var result = await process.WaitForExitAsync(SyndicatorSandbox.CliTimeout, TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(File.Exists(Path.Combine(sandbox.Root, "data", "syndicator.db")), "the database belongs beside the config file");
        Assert.False(Directory.Exists(Path.Combine(elsewhere.Path, "data")), "nothing may be created in the working directory");
    }

    /// <summary>The "  - problem" items of a problem list, each with its wrapped lines joined back together.</summary>
    internal static List<string> Problems(ProcessResult result)
    {
        var problems = new List<string>();
        var inList = false;
        foreach (var line in result.Stdout.Split('\n'))
        {
            if (line.StartsWith("The configuration has ", StringComparison.Ordinal)) inList = true;
            else if (!inList) continue;
            else if (line.StartsWith("  - ", StringComparison.Ordinal)) problems.Add(line[4..]);
            else if (line.StartsWith("Syndicator did not start", StringComparison.Ordinal) || line.Length == 0) inList = false;
            else if (problems.Count > 0) problems[^1] += " " + line;
        }
        return problems.Select(p => SyndicatorProcess.Flatten(p).Trim()).ToList();
    }

    /// <summary>Paths and long names may be broken anywhere by the console's wrapping; compare them without whitespace.</summary>
    internal static string Squash(string text) => Regex.Replace(text, @"\s+", "");

    /// <summary>The SQLite migrations embedded in the build under test, by file name.</summary>
    internal static List<string> KnownSqliteMigrations()
    {
        const string prefix = "Syndicator.Storage.Migrations.Sqlite.";
        return typeof(Syndicator.Cli.SyndicatorCli).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => n[prefix.Length..])
            .ToList();
    }

    internal static async Task AddFutureMigrationAsync(SyndicatorSandbox sandbox)
    {
        await using var connection = new SqliteConnection(sandbox.DatabaseConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO SchemaVersions (ScriptName, Applied) VALUES ($name, $applied)";
        insert.Parameters.AddWithValue("$name", FutureMigration);
        insert.Parameters.AddWithValue("$applied", "2099-01-01 00:00:00");
        Assert.Equal(1, await insert.ExecuteNonQueryAsync(TestContext.Current.CancellationToken));
    }

    internal static async Task<long> CountSchemaVersionsAsync(SyndicatorSandbox sandbox)
    {
        await using var connection = new SqliteConnection(sandbox.DatabaseConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM SchemaVersions";
        return (long)(await count.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }
}
