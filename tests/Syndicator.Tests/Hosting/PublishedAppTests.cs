using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

/// <summary>
/// No Docker engine runs here, so this runs what the Dockerfile runs: the same publish command, the same files
/// copied beside the executable, the Dockerfile's own ENV lines (with /data pointed at a temporary folder), the
/// entrypoint, and the HEALTHCHECK command.
/// </summary>
public sealed partial class PublishedAppTests
{
    [Fact(Timeout = 300_000)]
    public async Task The_published_app_starts_like_the_container_keeps_all_state_in_the_data_folder_and_passes_its_healthcheck()
    {
        var Ct = TestContext.Current.CancellationToken;
        using var dir = new TempDir();
        var app = Path.Combine(dir.Path, "app");
        var data = Path.Combine(dir.Path, "data");
        Directory.CreateDirectory(data);
        var dockerfile = File.ReadAllText(Path.Combine(Repo.Root, "Dockerfile"));
        Assert.Contains("dotnet publish src/Syndicator/Syndicator.csproj -c Release --use-current-runtime --self-contained false -p:PublishReadyToRun=true -o /app", dockerfile);

        // With intermediate folders of its own (--artifacts-path): another test's publish of the project may be restoring at the same time.
        var publish = Process.Start(new ProcessStartInfo("dotnet", ["publish", "src/Syndicator/Syndicator.csproj", "-c", "Release", "--use-current-runtime", "--self-contained", "false",
            "-p:PublishReadyToRun=true", "-o", app, "--artifacts-path", Path.Combine(dir.Path, "artifacts")])
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        // Both streams are read: one left unread blocks the publish once its pipe is full.
        var publishOutput = publish.StandardOutput.ReadToEndAsync(Ct);
        var publishErrors = publish.StandardError.ReadToEndAsync(Ct);
        await publish.WaitForExitAsync(Ct);
        Assert.True(publish.ExitCode == 0, await publishOutput + await publishErrors);
        // The code is compiled ahead of time, for this machine.
        Assert.True(ReadyToRun(Path.Combine(app, "syndicator.dll")), "syndicator.dll carries no ReadyToRun code");
        // The publish output itself carries the default configuration, the templates and the sample.
        Assert.Equal(File.ReadAllText(Path.Combine(Repo.Root, "appsettings.json")), File.ReadAllText(Path.Combine(app, "appsettings.json")));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Repo.Root, "config", "templates")).Concat(Directory.EnumerateFiles(Path.Combine(Repo.Root, "config", "samples", "articles"))))
            Assert.True(File.Exists(Path.Combine(app, Path.GetRelativePath(Repo.Root, file))), $"{Path.GetRelativePath(Repo.Root, file)} is missing from the publish output");

        var (port, operatorPort) = (FreePort(), FreePort());
        var environment = DockerfileEnvironment(dockerfile, data);
        // The container's two listeners: readers' on 5080 (the one EXPOSEd), operators' on 5081.
        Assert.Equal(("http://0.0.0.0:5080", "http://0.0.0.0:5081"), (environment["Http__Urls"], environment["Http__OperatorUrls"]));
        Assert.Matches(@"(?m)^EXPOSE 5080\s*$", dockerfile);
        environment["Http__Urls"] = $"http://127.0.0.1:{port}";
        environment["Http__OperatorUrls"] = $"http://127.0.0.1:{operatorPort}";
        environment["Dashboard__ApiKey"] = "env:SYN_TEST_DASHBOARD_KEY";
        environment["SYN_TEST_DASHBOARD_KEY"] = "a-dashboard-key-long-enough";
        environment["SYNDICATOR_CONFIG"] = null;
        var entrypoint = Path.Combine(app, "syndicator");

        await using var service = SyndicatorProcess.Start([], environment, dir.Path, entrypoint);
        Assert.Equal("alive", (await service.WaitForHttpAsync($"http://127.0.0.1:{operatorPort}/health", TimeSpan.FromSeconds(60), Ct)).Trim());

        await using var health = SyndicatorProcess.Start(["health"], environment, dir.Path, entrypoint);
        var check = await health.WaitForExitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("200 alive", check.Stdout);

        await service.WaitUntilAsync(() => File.Exists(Path.Combine(data, "feeds", "site", "rss.xml")), "the site feeds in the data folder", TimeSpan.FromSeconds(60), Ct);
        Assert.True(File.Exists(Path.Combine(data, "syndicator.db")));
        Assert.False(Directory.Exists(Path.Combine(app, "data")), "the app folder must stay read-only: nothing may be written under it");

        // An appsettings.json in the working directory comes before the one beside the executable.
        using var site = new TempDir();
        site.File("appsettings.json", "{ \"Site\": { \"Title\": \"Elsewhere\", \"BaseUrl\": \"https://www.opinion-weekly.net\" }, \"Storage\": { \"ConnectionString\": \"Data Source=data/s.db\" } }");
        var ownEnvironment = new Dictionary<string, string?>(environment)
        {
            ["Storage__ConnectionString"] = null,
            ["SYNDICATOR_CONFIG"] = null,
            // Relative paths follow the configuration file; this one uses the templates the app carries.
            ["Digests__TemplatesPath"] = Path.Combine(app, "config", "templates"),
            ["Announcements__TemplatesPath"] = Path.Combine(app, "config", "templates"),
        };
        await using var fromWorkingDirectory = SyndicatorProcess.Start(["config", "check"], ownEnvironment, site.Path, entrypoint);
        var local = await fromWorkingDirectory.WaitForExitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(local.ExitCode == 0, local.ToString());
        Assert.Contains(Path.Combine(site.Path, "appsettings.json"), local.Stdout.Replace("\n", "", StringComparison.Ordinal));

        // And the Dockerfile clears the base image's ASPNETCORE_HTTP_PORTS, which the service refuses.
        Assert.Equal("", environment["ASPNETCORE_HTTP_PORTS"]);
    }

    /// <summary>Whether the assembly carries native code compiled ahead of time (a ReadyToRun header), not only IL.</summary>
    internal static bool ReadyToRun(string assembly)
    {
        using var reader = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(assembly));
        return reader.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The Dockerfile's ENV instruction, as key/value pairs, with /data replaced by <paramref name="data"/>.</summary>
    private static Dictionary<string, string?> DockerfileEnvironment(string dockerfile, string data)
    {
        var block = EnvBlock().Match(dockerfile.Replace("\\\r\n", " ").Replace("\\\n", " "));
        Assert.True(block.Success, "the Dockerfile has no ENV instruction");
        var result = new Dictionary<string, string?>();
        foreach (Match pair in EnvPair().Matches(block.Groups[1].Value))
            result[pair.Groups[1].Value] = pair.Groups[2].Value.Trim('"').Replace("/data", data);
        Assert.Contains("Storage__ConnectionString", result.Keys);
        return result;
    }

    [GeneratedRegex(@"^ENV\s+(.+)$", RegexOptions.Multiline)]
    private static partial Regex EnvBlock();

    [GeneratedRegex(@"(\w+)=(""[^""]*""|\S+)")]
    private static partial Regex EnvPair();
}
