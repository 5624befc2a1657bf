using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

/// <summary>
/// The documented install, run for real into temporary folders: the self-contained build (README, "As a systemd
/// service"), config/deploy/install.sh, and the CLI wrapper it installs, with a PATH that holds no dotnet. The tests
/// run as root, so the wrapper switches to the state folder's owner (nobody here, syndicator on a server), and a third
/// user is refused.
/// </summary>
public sealed class InstalledServiceTests
{
    private const int Nobody = 65534;
    private const string DashboardKey = "k$HOME`id`-\"quoted\"-0123456789";

    [Fact(Timeout = 900_000)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task The_self_contained_build_installs_runs_without_dotnet_and_the_wrapper_runs_verbs_as_the_services_user()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() && Environment.UserName == "root", "install.sh and the user switch need Linux and root");
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101); // nobody must reach the state folder inside
        string P(string name) => Path.Combine(dir.Path, name);
        var build = P("build");

        // README's command, with intermediate folders of its own: another test's publish of the project may be restoring at the same time.
        var publish = await RunAsync("dotnet", ["publish", "src/Syndicator/Syndicator.csproj", "-c", "Release", "-r", "linux-x64", "--self-contained", "-p:PublishReadyToRun=true", "-o", build,
            "--artifacts-path", P("artifacts")], Repo.Root, null, ct);
        Assert.True(publish.ExitCode == 0, publish.ToString());
        Assert.True(PublishedAppTests.ReadyToRun(Path.Combine(build, "syndicator.dll")), "syndicator.dll carries no ReadyToRun code");
        // The runtime travels with it: nothing is looked up in a .NET installation.
        Assert.True(File.Exists(Path.Combine(build, "libhostfxr.so")) && File.Exists(Path.Combine(build, "libcoreclr.so")), "the build carries no runtime");
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(build, "config", "templates")));
        Assert.True(File.Exists(Path.Combine(build, "appsettings.json")));

        var install = await RunAsync("sh", [Path.Combine(Repo.Root, "config", "deploy", "install.sh"), build], Repo.Root, new()
        {
            ["SYNDICATOR_PREFIX"] = P("opt"), ["SYNDICATOR_CONFIG_DIR"] = P("etc"), ["SYNDICATOR_STATE_DIR"] = P("state"),
            ["SYNDICATOR_BIN_DIR"] = P("bin"), ["SYNDICATOR_UNIT_DIR"] = P("unit"), ["SYNDICATOR_USER"] = "nobody",
        }, ct);
        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Equal(Nobody, Owner(P("state")));
        Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(P("etc/secrets.env")));
        Assert.Contains("User=syndicator", File.ReadAllText(P("unit/syndicator.service")));
        Assert.Contains("EnvironmentFile=/etc/syndicator/syndicator.env", File.ReadAllText(P("unit/syndicator.service")));

        // The installed environment, pointed at these folders and free ports; a secret with shell metacharacters in it.
        var (readers, operators) = (FreePort(), FreePort());
        File.WriteAllText(P("etc/syndicator.env"), File.ReadAllText(P("etc/syndicator.env"))
            .Replace("/var/lib/syndicator", P("state")).Replace("/etc/syndicator", P("etc"))
            .Replace("127.0.0.1:5080", $"127.0.0.1:{readers}").Replace("127.0.0.1:5081", $"127.0.0.1:{operators}")
            + "Dashboard__ApiKey=env:SYN_DASHBOARD_KEY\n");
        File.AppendAllText(P("etc/secrets.env"), $"SYN_DASHBOARD_KEY={DashboardKey}\n");

        // A PATH with what the wrapper uses (sh, stat, id, setpriv) and no dotnet.
        var path = P("path");
        Directory.CreateDirectory(path);
        foreach (var tool in new[] { "sh", "stat", "id", "setpriv" })
            File.CreateSymbolicLink(Path.Combine(path, tool), Which(tool));
        var environment = new Dictionary<string, string?>
        {
            ["PATH"] = path, ["DOTNET_ROOT"] = null, ["DOTNET_HOST_PATH"] = null, ["SYNDICATOR_CONFIG"] = null,
            ["SYNDICATOR_PREFIX"] = P("opt"), ["SYNDICATOR_CONFIG_DIR"] = P("etc"), ["SYNDICATOR_STATE_DIR"] = P("state"),
        };
        var wrapper = P("bin/syndicator");

        // The service the way the unit starts it (as its user, with both environment files), through the wrapper.
        await using var service = SyndicatorProcess.Start([], environment, dir.Path, wrapper);
        await service.WaitForHttpAsync($"http://127.0.0.1:{operators}/health", TimeSpan.FromSeconds(60), ct);
        using (var http = new HttpClient())
        {
            using var anonymous = await http.GetAsync($"http://127.0.0.1:{operators}/status", ct);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{operators}/status");
            request.Headers.TryAddWithoutValidation("X-Api-Key", DashboardKey);
            using var keyed = await http.SendAsync(request, ct);
            Assert.Equal(HttpStatusCode.OK, keyed.StatusCode); // secrets.env read as written: no $ or ` expanded
        }

        // A verb beside it: same configuration and database, run as the service's user.
        await using (var status = SyndicatorProcess.Start(["status"], environment, dir.Path, wrapper))
        {
            var result = await status.WaitForExitAsync(TimeSpan.FromSeconds(60), ct);
            Assert.True(result.ExitCode == 0, result.ToString());
        }
        Assert.True(File.Exists(P("state/syndicator.db")));
        foreach (var entry in Directory.EnumerateFileSystemEntries(P("state"), "*", SearchOption.AllDirectories))
            Assert.True(Owner(entry) == Nobody, $"{entry} belongs to uid {Owner(entry)}, not the service's user");

        // Another user (not root, not the owner) is refused before anything runs.
        var refused = await RunAsync("setpriv", ["--reuid=12345", "--regid=12345", "--clear-groups", wrapper, "status"], dir.Path, environment, ct);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("belongs to nobody", refused.Stderr);
        Assert.Contains("sudo syndicator status", refused.Stderr);
    }

    private static int Owner(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%u", path]) { RedirectStandardOutput = true })!;
        if (!stat.WaitForExit(TimeSpan.FromSeconds(10))) throw new TimeoutException($"stat -c %u {path} did not end within 10 s.");
        var output = stat.StandardOutput.ReadToEnd();
        return int.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Which(string tool) =>
        new[] { "/usr/bin", "/bin", "/usr/sbin", "/sbin" }.Select(d => Path.Combine(d, tool)).First(File.Exists);

    private static async Task<ProcessResult> RunAsync(string file, string[] args, string workingDirectory, Dictionary<string, string?>? environment, CancellationToken ct)
    {
        var info = new ProcessStartInfo(file, args) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment ?? [])
        {
            if (value is null) info.Environment.Remove(key);
            else info.Environment[key] = value;
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
