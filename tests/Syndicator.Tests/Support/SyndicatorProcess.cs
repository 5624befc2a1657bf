using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Syndicator.Tests.Support;

/// <summary>What a finished run of the executable left behind.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;

    /// <summary>
    /// The output with every run of whitespace made one space. Spectre.Console wraps at 80 columns when its output is
    /// redirected, so a sentence may be broken over lines; assertions on text read this instead.
    /// </summary>
    public string Flat => SyndicatorProcess.Flatten(Output);

    public override string ToString() => $"exit code {ExitCode}{Environment.NewLine}--- stdout ---{Environment.NewLine}{Stdout}--- stderr ---{Environment.NewLine}{Stderr}";
}

/// <summary>
/// The real built executable (<c>dotnet syndicator.dll</c>) as a child process: its output captured as it comes,
/// waits bounded by timeouts, SIGTERM sent the way systemd or docker would, and the process tree killed on dispose
/// whatever happened in the test.
/// </summary>
public sealed partial class SyndicatorProcess : IAsyncDisposable
{
    private const int Sigterm = 15;
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };

    private readonly Process process;
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();
    private readonly Lock gate = new();
    private int disposed;

    private SyndicatorProcess(Process process) => this.process = process;

    public int Id => process.Id;
    public bool HasExited => process.HasExited;

    public string Stdout { get { lock (gate) return stdout.ToString(); } }
    public string Stderr { get { lock (gate) return stderr.ToString(); } }

    /// <summary>
    /// Starts <c>dotnet syndicator.dll ARGS</c>. The child gets this process's environment minus anything that
    /// would override its configuration (<c>Section__Key</c> variables, the hosting environment name), plus
    /// <paramref name="environment"/> (a null value removes the variable).
    /// </summary>
    /// <param name="executable">A published apphost to run instead of <c>dotnet syndicator.dll</c> from the build output.</param>
    public static SyndicatorProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null, string? executable = null)
    {
        var info = new ProcessStartInfo(executable ?? DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        if (executable is null) info.ArgumentList.Add(Repo.AppDll);
        foreach (var arg in args) info.ArgumentList.Add(arg);

        foreach (var key in info.Environment.Keys.ToList())
            if (OverridesConfiguration(key)) info.Environment.Remove(key);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) info.Environment.Remove(key);
            else info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new SyndicatorProcess(process);
        process.OutputDataReceived += (_, e) => child.Append(child.stdout, e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(child.stderr, e.Data);
        if (!process.Start()) throw new InvalidOperationException($"Could not start {info.FileName} {Repo.AppDll}.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return child;
    }

    /// <summary>Waits for the process to exit. On timeout it is killed and the test fails with what it printed.</summary>
    public async Task<ProcessResult> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            // Also waits for the end of both output streams, so the result holds everything the process printed.
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill();
            throw new TimeoutException($"syndicator (pid {Id}) did not exit within {timeout.TotalSeconds:0.#} s.{Environment.NewLine}{Describe()}");
        }
        return new ProcessResult(process.ExitCode, Stdout, Stderr);
    }

    /// <summary>Sends SIGTERM, as <c>systemctl stop</c> and <c>docker stop</c> do.</summary>
    public void Terminate()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
            throw new PlatformNotSupportedException("SIGTERM is a POSIX signal.");
        try
        {
            if (kill(Id, Sigterm) != 0)
                throw new InvalidOperationException($"kill({Id}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            using var killer = Process.Start(new ProcessStartInfo("/bin/kill", ["-TERM", Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
            killer.WaitForExit(5000);
            if (killer.ExitCode != 0) throw new InvalidOperationException($"/bin/kill -TERM {Id} exited with {killer.ExitCode}.");
        }
    }

    /// <summary>
    /// Polls <paramref name="url"/> until it answers with a success status and returns the body. Fails at once,
    /// with the output, if the process exits first.
    /// </summary>
    public async Task<string> WaitForHttpAsync(string url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        string lastError = "no attempt made";
        while (deadline.Elapsed < timeout)
        {
            if (HasExited)
                throw new InvalidOperationException($"syndicator exited before {url} answered.{Environment.NewLine}{await ExitedDescriptionAsync()}");
            try
            {
                using var response = await Http.GetAsync(url, cancellationToken);
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                if (response.IsSuccessStatusCode) return body;
                lastError = $"HTTP {(int)response.StatusCode}: {body}";
            }
            catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                lastError = e.Message;
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new TimeoutException($"{url} did not answer within {timeout.TotalSeconds:0.#} s (last: {lastError}).{Environment.NewLine}{Describe()}");
    }

    /// <summary>GETs <paramref name="url"/> until <paramref name="done"/> holds for the body; returns that body.</summary>
    public async Task<string> PollHttpAsync(string url, Func<string, bool> done, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var body = "";
        while (deadline.Elapsed < timeout)
        {
            body = await WaitForHttpAsync(url, timeout - deadline.Elapsed, cancellationToken);
            if (done(body)) return body;
            await Task.Delay(200, cancellationToken);
        }
        throw new TimeoutException($"{url} did not give the expected answer within {timeout.TotalSeconds:0.#} s. Last body:{Environment.NewLine}{body}{Environment.NewLine}{Describe()}");
    }

    /// <summary>Waits until <paramref name="condition"/> holds, failing with <paramref name="what"/> and the output when it does not in time.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > timeout)
                throw new TimeoutException($"Not true within {timeout.TotalSeconds:0.#} s: {what}.{Environment.NewLine}{Describe()}");
            await Task.Delay(100, cancellationToken);
        }
    }

    public string Describe()
    {
        var state = HasExited ? $"exited with {process.ExitCode}" : "still running";
        return $"syndicator (pid {SafeId()}) {state}.{Environment.NewLine}--- stdout ---{Environment.NewLine}{Stdout}--- stderr ---{Environment.NewLine}{Stderr}";
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        Kill();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(cts.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
        {
        }
        process.Dispose();
    }

    /// <summary>Every run of whitespace made one space, so that text wrapped by the console still matches.</summary>
    public static string Flatten(string text) => Whitespace().Replace(text, " ");

    private void Kill()
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
        }
    }

    private async Task<string> ExitedDescriptionAsync()
    {
        // Let the output streams drain so the description holds the whole story.
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
        return Describe();
    }

    private string SafeId()
    {
        try { return process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture); }
        catch (InvalidOperationException) { return "?"; }
    }

    private void Append(StringBuilder target, string? line)
    {
        if (line is null) return;
        lock (gate) target.Append(line).Append('\n');
    }

    /// <summary><c>Storage__ConnectionString</c> and the like would override the test's config file; the environment name would add a second file.</summary>
    private static bool OverridesConfiguration(string key) =>
        key.Contains("__", StringComparison.Ordinal) && !key.StartsWith("DOTNET_", StringComparison.OrdinalIgnoreCase) && !key.StartsWith("COMPlus_", StringComparison.OrdinalIgnoreCase)
        || key.Equals("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)
        || key.Equals("ASPNETCORE_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)
        || key.Equals("ASPNETCORE_URLS", StringComparison.OrdinalIgnoreCase)
        || key.Equals("ASPNETCORE_HTTP_PORTS", StringComparison.OrdinalIgnoreCase);

    /// <summary>The <c>dotnet</c> that runs these tests, so the child uses the same runtimes.</summary>
    private static string DotnetHost()
    {
        var exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath)) return hostPath;
        if (Environment.ProcessPath is { } self && Path.GetFileName(self).Equals(exe, StringComparison.OrdinalIgnoreCase)) return self;
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && File.Exists(Path.Combine(root, exe))) return Path.Combine(root, exe);
        return exe;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code enabled in the project; one call does not justify that.
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}

/// <summary>
/// A temporary installation for the real executable: a folder holding an <c>appsettings.json</c> derived from the
/// repository's (same sections), with the database, the inbox and the HTTP port of its own. Processes started
/// through it get <c>SYNDICATOR_CONFIG</c> pointing at that file and are killed when it is disposed.
/// </summary>
public sealed class SyndicatorSandbox : IAsyncDisposable
{
    public static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(20);

    private readonly TempDir dir = new();
    private readonly List<SyndicatorProcess> processes = [];
    private readonly CancellationToken cancellationToken;

    /// <param name="cancellationToken">The test's token (<c>TestContext.Current.CancellationToken</c>): every wait stops with it.</param>
    public SyndicatorSandbox(CancellationToken cancellationToken)
    {
        this.cancellationToken = cancellationToken;
        Port = FreePort();
        Config = (JsonObject)JsonNode.Parse(System.IO.File.ReadAllText(Path.Combine(Repo.Root, "appsettings.json")), null,
            new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        Set("Storage:Provider", "Sqlite");
        Set("Storage:ConnectionString", $"Data Source={DatabasePath}");
        Set("Storage:MigrateOnStart", true);
        Set("Storage:Clustered", false);
        Set("Import:InboxPath", Inbox);
        Set("Import:SamplesPath", Path.Combine(Repo.Root, "config", "samples", "articles"));
        Set("Import:SettleSeconds", 0);
        Set("Announcements:TemplatesPath", Path.Combine(Repo.Root, "config", "templates"));
        Set("Digests:TemplatesPath", Path.Combine(Repo.Root, "config", "templates"));
        Set("Http:Urls", BaseUrl);
        Set("Jobs:DropFolderImport", new JsonObject { ["Enabled"] = true, ["IntervalSeconds"] = 1, ["Misfire"] = "Skip" });
    }

    public string Root => dir.Path;
    public string ConfigPath => Path.Combine(Root, "appsettings.json");
    public string DatabasePath => Path.Combine(Root, "syndicator.db");
    public string Inbox => Path.Combine(Root, "inbox");
    public string Processed => Path.Combine(Inbox, "processed");
    public string Rejected => Path.Combine(Inbox, "rejected");
    public int Port { get; }
    public string BaseUrl => $"http://127.0.0.1:{Port}";

    /// <summary>The configuration written before each process starts; edit it with <see cref="Set"/> and <see cref="Remove"/>.</summary>
    public JsonObject Config { get; }

    /// <summary>Connection string for inspecting the database from the test without holding it open.</summary>
    public string DatabaseConnectionString => $"Data Source={DatabasePath};Pooling=False";

    /// <summary>Sets <paramref name="key"/> (colon-separated, like configuration keys), creating sections on the way.</summary>
    public SyndicatorSandbox Set(string key, JsonNode? value)
    {
        var (section, name) = Walk(key, create: true);
        section![name] = value;
        return this;
    }

    public SyndicatorSandbox Remove(string key)
    {
        var (section, name) = Walk(key, create: false);
        section?.Remove(name);
        return this;
    }

    public string File(string relativePath, string content) => dir.File(relativePath, content);

    public string File(string relativePath, byte[] content)
    {
        var path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>
    /// Puts a file into the inbox the way an editor's "save" should: written under a dot-name the drop-folder job
    /// ignores, then renamed, so the job never sees it half-written.
    /// </summary>
    public string Drop(string name, byte[] content)
    {
        Directory.CreateDirectory(Inbox);
        var staging = Path.Combine(Inbox, "." + name + ".part");
        System.IO.File.WriteAllBytes(staging, content);
        var target = Path.Combine(Inbox, name);
        System.IO.File.Move(staging, target);
        return target;
    }

    public void WriteConfig() => System.IO.File.WriteAllText(ConfigPath, Config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>Writes the configuration and starts the executable with <paramref name="args"/> (none: the service).</summary>
    /// <param name="environment">More variables for the child (its culture, zone, ...); a null value removes one.</param>
    public SyndicatorProcess Start(string[] args, string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        WriteConfig();
        var variables = new Dictionary<string, string?> { ["SYNDICATOR_CONFIG"] = ConfigPath };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>()) variables[key] = value;
        var process = SyndicatorProcess.Start(args, variables, workingDirectory ?? Root);
        lock (processes) processes.Add(process);
        return process;
    }

    /// <summary>Runs a verb to completion (at most <see cref="CliTimeout"/>).</summary>
    public async Task<ProcessResult> RunAsync(params string[] args)
    {
        await using var process = Start(args);
        return await process.WaitForExitAsync(CliTimeout, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        List<SyndicatorProcess> started;
        lock (processes) started = [.. processes];
        foreach (var process in started) await process.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        dir.Dispose();
    }

    private (JsonObject? Section, string Name) Walk(string key, bool create)
    {
        var parts = key.Split(':');
        var node = Config;
        foreach (var part in parts[..^1])
        {
            if (node[part] is JsonObject child) node = child;
            else if (create) node = (JsonObject)(node[part] = new JsonObject());
            else return (null, parts[^1]);
        }
        return (node, parts[^1]);
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }
}
