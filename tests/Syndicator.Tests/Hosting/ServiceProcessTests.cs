using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

/// <summary>The service (the executable with no verb), run as a real process on a port of its own and stopped with SIGTERM.</summary>
public sealed class ServiceProcessTests
{
    private const int TestTimeout = CliProcessTests.TestTimeout;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

        [Fact(Timeout = TestTimeout)]
    public async Task Service_refuses_to_start_on_a_bad_config_with_exit_code_2_naming_every_key()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        CliProcessTests.MakeEveryMistake(sandbox);

        await using var service = sandbox.Start([]);
        var result = await service.WaitForExitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        var problems = CliProcessTests.Problems(result);
        foreach (var key in CliProcessTests.BadKeys)
            Assert.Contains(problems, p => p.StartsWith(key + " ", StringComparison.Ordinal));
        Assert.Contains("Syndicator did not start", result.Flat);
        Assert.Equal([sandbox.ConfigPath], Directory.GetFileSystemEntries(sandbox.Root)); // no database, no inbox: nothing left behind
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Service_refuses_to_start_with_exit_code_2_when_a_value_cannot_be_converted()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        sandbox.Set("Storage:Provider", "Oracle");

        await using var service = sandbox.Start([]);
        var result = await service.WaitForExitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("Storage:Provider", result.Flat);
        Assert.DoesNotContain("Unhandled exception", result.Output);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Service_answers_health_on_the_configured_port_and_lists_the_sample_article_it_imported_at_start()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        await using var service = sandbox.Start([]);

        var health = await service.WaitForHttpAsync($"{sandbox.BaseUrl}/health", StartTimeout, TestContext.Current.CancellationToken);
        var articles = await service.PollHttpAsync($"{sandbox.BaseUrl}/articles", body => body.Contains("Hassan Mahmoudi"), TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.Equal("alive", health.Trim());
        var verb = await sandbox.RunAsync("health");
        Assert.True(verb.ExitCode == 0, verb.ToString());
        Assert.Equal("200 alive", verb.Stdout.Trim());
        using var json = JsonDocument.Parse(articles);
        var sample = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal(CliProcessTests.SampleSlug, sample.GetProperty("slug").GetString());
        Assert.Equal("Hassan Mahmoudi", sample.GetProperty("author").GetString());
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Service_imports_an_article_dropped_into_the_inbox_without_any_command_and_moves_it_to_processed()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        await using var service = sandbox.Start([]);
        await service.WaitForHttpAsync($"{sandbox.BaseUrl}/health", StartTimeout, TestContext.Current.CancellationToken);

        var dropped = sandbox.Drop("local-papers.txt", Encoding.UTF8.GetBytes(
            "Why local papers still matter\n\nA town without a newspaper is a town that stops noticing itself.\n\n" +
            "*Ada Quillfeather is a columnist. She tweets under @adaquill.\n"));
        var articles = await service.PollHttpAsync($"{sandbox.BaseUrl}/articles", body => body.Contains("Ada Quillfeather"), TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);

        using var json = JsonDocument.Parse(articles);
        var article = Assert.Single(json.RootElement.EnumerateArray(), a => a.GetProperty("author").GetString() == "Ada Quillfeather");
        Assert.Equal("why-local-papers-still-matter", article.GetProperty("slug").GetString());
        var processed = Path.Combine(sandbox.Processed, "local-papers.txt");
        await service.WaitUntilAsync(() => File.Exists(processed) && !File.Exists(dropped), $"{dropped} moved to {processed}", TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.False(Directory.Exists(sandbox.Rejected) && Directory.EnumerateFileSystemEntries(sandbox.Rejected).Any(), "nothing may be rejected");
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Service_sets_bad_dropped_files_aside_in_rejected_with_an_error_report_beside_each()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        await using var service = sandbox.Start([]);
        await service.WaitForHttpAsync($"{sandbox.BaseUrl}/health", StartTimeout, TestContext.Current.CancellationToken);

        var notUtf8 = sandbox.Drop("windows-1252.txt", [.. "A title\n\nCaf"u8, 0xE9, .. " au lait.\n"u8]);
        var empty = sandbox.Drop("empty.txt", []);
        var notUtf8Report = Path.Combine(sandbox.Rejected, "windows-1252.txt.error.txt");
        var emptyReport = Path.Combine(sandbox.Rejected, "empty.txt.error.txt");
        await service.WaitUntilAsync(() => File.Exists(notUtf8Report) && File.Exists(emptyReport), "both error reports written", TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);

        Assert.True(File.Exists(Path.Combine(sandbox.Rejected, "windows-1252.txt")), "the rejected file itself is kept");
        Assert.True(File.Exists(Path.Combine(sandbox.Rejected, "empty.txt")), "the rejected file itself is kept");
        Assert.False(File.Exists(notUtf8), "a rejected file leaves the inbox");
        Assert.False(File.Exists(empty), "a rejected file leaves the inbox");
        Assert.Contains("problem: line 3: the file is not valid UTF-8", File.ReadAllText(notUtf8Report));
        Assert.Contains("problem: line 1: no title", File.ReadAllText(emptyReport));
        Assert.False(Directory.Exists(sandbox.Processed) && Directory.EnumerateFiles(sandbox.Processed).Any(), "nothing rejected may also count as processed");
        Assert.Equal("alive", (await service.WaitForHttpAsync($"{sandbox.BaseUrl}/health", TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken)).Trim());
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Service_exits_with_code_0_within_5_seconds_of_SIGTERM()
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("SIGTERM is a POSIX signal.");
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        await using var service = sandbox.Start([]);
        await service.WaitForHttpAsync($"{sandbox.BaseUrl}/health", StartTimeout, TestContext.Current.CancellationToken);

        var clock = Stopwatch.StartNew();
        service.Terminate();
        var result = await service.WaitForExitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == 0, $"after {clock.Elapsed.TotalSeconds:0.0} s: {result}");
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Service_refuses_to_start_against_a_database_whose_schema_is_newer_than_this_build()
    {
        await using var sandbox = new SyndicatorSandbox(TestContext.Current.CancellationToken);
        var migrate = await sandbox.RunAsync("db", "migrate");
        Assert.True(migrate.ExitCode == 0, migrate.ToString());
        await CliProcessTests.AddFutureMigrationAsync(sandbox);

        await using var service = sandbox.Start([]);
        var result = await service.WaitForExitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("Syndicator did not start", result.Flat);
        Assert.Contains("newer", result.Flat);
        Assert.Contains(CliProcessTests.FutureMigration, CliProcessTests.Squash(result.Output));
    }
}
