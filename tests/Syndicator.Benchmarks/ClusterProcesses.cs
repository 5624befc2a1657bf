using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Syndicator.Benchmarks;

/// <summary>
/// The repository's test SMTP server (tests/Syndicator.Tests/Fixtures/smtp/smtp_server.py, Debian's python3-aiosmtpd),
/// started the way the tests' SmtpTestServer starts it: plain SMTP on a free loopback port, stopping when its stdin
/// closes, killed if it lingers.
/// </summary>
public sealed class SmtpSink : IAsyncDisposable
{
    public const string DebianPython = "/usr/bin/python3";
    private const int ExitNoAiosmtpd = 3;

    private readonly Process process;
    private readonly StringBuilder log;
    private int disposed;

    private SmtpSink(Process process, StringBuilder log, string directory, string host, int port)
    {
        this.process = process;
        this.log = log;
        Directory = directory;
        Host = host;
        Port = port;
    }

    public string Directory { get; }
    public string MailDirectory => Path.Combine(Directory, "mail");
    public string Host { get; }
    public int Port { get; }
    public int Pid => process.Id;
    public string Log { get { lock (log) return log.ToString(); } }

    public static string ScriptPath => Path.Combine(ClusterBench.RepoRoot, "tests", "Syndicator.Tests", "Fixtures", "smtp", "smtp_server.py");

    public static async Task<SmtpSink> StartAsync(string directory, CancellationToken cancellationToken)
    {
        if (!File.Exists(ScriptPath)) throw new FileNotFoundException($"The test SMTP server is missing: {ScriptPath}.", ScriptPath);
        System.IO.Directory.CreateDirectory(directory);
        var info = new ProcessStartInfo(DebianPython)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = directory,
        };
        // -I: Debian's interpreter with Debian's packages only (a pyenv python3 earlier on PATH has no aiosmtpd).
        foreach (var arg in new[] { "-I", ScriptPath, "--maildir", Path.Combine(directory, "mail"), "--port", "0", "--watch-stdin" })
            info.ArgumentList.Add(arg);
        info.Environment.Remove("PYTHONPATH");
        info.Environment.Remove("PYTHONHOME");
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        info.Environment["PYTHONUNBUFFERED"] = "1";

        var log = new StringBuilder();
        var ready = new TaskCompletionSource<(string, int)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            var parts = e.Data.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts is ["READY", var host, var port] && int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p)) ready.TrySetResult((host, p));
            else lock (log) log.AppendLine(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (log) log.AppendLine(e.Data);
        };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"{DebianPython} could not be started ({e.Message}); install Debian's python3-aiosmtpd.", e);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var exited = process.WaitForExitAsync(timeout.Token);
            if (await Task.WhenAny(ready.Task, exited) == ready.Task)
            {
                var (host, port) = await ready.Task;
                return new SmtpSink(process, log, directory, host, port);
            }
            await exited;
            throw new InvalidOperationException(process.ExitCode == ExitNoAiosmtpd
                ? $"{DebianPython} cannot import aiosmtpd; install Debian's python3-aiosmtpd. {log}"
                : $"smtp_server.py exited with code {process.ExitCode} before it was ready. {log}");
        }
        catch
        {
            Processes.Kill(process);
            process.Dispose();
            throw;
        }
    }

    /// <summary>Messages accepted so far, as stats.json last counted them.</summary>
    public int Messages()
    {
        var path = Path.Combine(MailDirectory, "stats.json");
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
                return doc.RootElement.GetProperty("messages").GetInt32();
            }
            catch (Exception e) when (e is IOException or JsonException && attempt < 5)
            {
                Thread.Sleep(20);
            }
        }
    }

    /// <summary>Envelope recipients of every accepted message (from the .meta.json files).</summary>
    public List<string> Recipients()
    {
        var result = new List<string>();
        foreach (var meta in System.IO.Directory.EnumerateFiles(MailDirectory, "*.meta.json"))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(meta));
            foreach (var rcpt in doc.RootElement.GetProperty("rcpt_tos").EnumerateArray()) result.Add(rcpt.GetString() ?? "");
        }
        return result;
    }

    /// <summary>The raw bytes of one accepted message, or null when none arrived.</summary>
    public byte[]? FirstMessage()
    {
        var first = System.IO.Directory.EnumerateFiles(MailDirectory, "*.eml").Order(StringComparer.Ordinal).FirstOrDefault();
        return first is null ? null : File.ReadAllBytes(first);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        try
        {
            try { process.StandardInput.Close(); } catch (IOException) { } catch (InvalidOperationException) { }
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            try { await process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException) { Processes.Kill(process); }
        }
        finally
        {
            process.Dispose();
        }
    }
}

/// <summary>One real service process (<c>dotnet syndicator.dll</c>), its output in a log file, killed on dispose.</summary>
public sealed class ServiceNode : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };
    private readonly Process process;
    private readonly StreamWriter log;
    private readonly Lock gate = new();
    private int disposed;

    private ServiceNode(int index, int port, Process process, StreamWriter log, string logPath)
    {
        Index = index;
        Port = port;
        this.process = process;
        this.log = log;
        LogPath = logPath;
    }

    public int Index { get; }
    public int Port { get; }
    public int Pid { get; private set; }
    public string LogPath { get; }
    public bool HasExited => process.HasExited;
    public string BaseUrl => $"http://127.0.0.1:{Port}";

    /// <summary>
    /// Starts the app with this process's environment minus anything that would override its configuration
    /// (<c>Section__Key</c> variables, the environment name, ASP.NET Core URLs), plus <paramref name="environment"/>.
    /// </summary>
    public static ServiceNode Start(int index, int port, string appDll, IReadOnlyDictionary<string, string> environment, string workingDirectory, string logPath)
    {
        var info = new ProcessStartInfo(Processes.DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory,
        };
        info.ArgumentList.Add(appDll);
        foreach (var key in info.Environment.Keys.ToList())
            if (OverridesConfiguration(key)) info.Environment.Remove(key);
        foreach (var (key, value) in environment) info.Environment[key] = value;

        var writer = new StreamWriter(logPath, append: false, Encoding.UTF8) { AutoFlush = true };
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var node = new ServiceNode(index, port, process, writer, logPath);
        process.OutputDataReceived += (_, e) => node.Append(e.Data);
        process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        try
        {
            process.Start();
        }
        catch
        {
            writer.Dispose();
            process.Dispose();
            throw;
        }
        node.Pid = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return node;
    }

    /// <summary>Polls /health until it answers 200; fails at once when the process exits first.</summary>
    public async Task WaitHealthyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        var last = "no answer yet";
        while (sw.Elapsed < timeout)
        {
            if (process.HasExited) throw new InvalidOperationException($"node {Index} (pid {Pid}) exited with code {process.ExitCode} before /health answered; log: {LogPath}{Environment.NewLine}{Tail()}");
            try
            {
                using var response = await Http.GetAsync(BaseUrl + "/health", cancellationToken);
                if (response.IsSuccessStatusCode) return;
                last = $"HTTP {(int)response.StatusCode}";
            }
            catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = e.Message;
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new TimeoutException($"node {Index} (pid {Pid}): {BaseUrl}/health did not answer 200 within {timeout.TotalSeconds:0} s (last: {last}); log: {LogPath}{Environment.NewLine}{Tail()}");
    }

    public string Tail(int lines = 30)
    {
        lock (gate) log.Flush();
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return string.Join(Environment.NewLine, reader.ReadToEnd().Split('\n').TakeLast(lines));
        }
        catch (IOException e)
        {
            return $"(log unreadable: {e.Message})";
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (gate)
        {
            try { log.WriteLine(line); } catch (ObjectDisposedException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        Processes.Kill(process);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(cts.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
        {
        }
        process.Dispose();
        lock (gate) log.Dispose();
    }

    private static bool OverridesConfiguration(string key) =>
        key.Contains("__", StringComparison.Ordinal) && !key.StartsWith("DOTNET_", StringComparison.OrdinalIgnoreCase) && !key.StartsWith("COMPlus_", StringComparison.OrdinalIgnoreCase)
        || key.Equals("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)
        || key.Equals("ASPNETCORE_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)
        || key.Equals("ASPNETCORE_URLS", StringComparison.OrdinalIgnoreCase)
        || key.Equals("ASPNETCORE_HTTP_PORTS", StringComparison.OrdinalIgnoreCase)
        || key.Equals("SYNDICATOR_CONFIG", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Process helpers: finding dotnet, killing a tree, CPU time from /proc.</summary>
public static class Processes
{
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
        }
    }

    /// <summary>The <c>dotnet</c> host that runs this benchmark, so the nodes use the same runtime.</summary>
    public static string DotnetHost()
    {
        var exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath)) return hostPath;
        if (Environment.ProcessPath is { } self && Path.GetFileName(self).Equals(exe, StringComparison.OrdinalIgnoreCase)) return self;
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && File.Exists(Path.Combine(root, exe))) return Path.Combine(root, exe);
        return exe;
    }

    /// <summary>User + system CPU seconds of one process (0 when it is gone or /proc is unreadable).</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicks;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return 0;
        }
    }

    /// <summary>CPU seconds of each process whose command name is <paramref name="name"/> (e.g. every PostgreSQL backend), by pid.</summary>
    public static Dictionary<int, double> CpuSecondsByPid(string name)
    {
        var result = new Dictionary<int, double>();
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
                try
                {
                    if (File.ReadAllText(Path.Combine(dir, "comm")).Trim() == name) result[pid] = CpuSeconds(pid);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return result;
    }

    /// <summary>
    /// CPU used between two snapshots by the processes alive at the second (a process started in between counts whole).
    /// A process that exited in between is lost, so this is a lower bound.
    /// </summary>
    public static double CpuDelta(Dictionary<int, double> before, Dictionary<int, double> after) =>
        after.Sum(p => Math.Max(0, p.Value - before.GetValueOrDefault(p.Key)));

    /// <summary>Busy and total CPU seconds of the whole machine (all cores) from /proc/stat.</summary>
    public static (double Busy, double Total) MachineCpu()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var v = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            var total = v.Sum();
            var idle = v[3] + v[4];
            return ((total - idle) / ClockTicks, total / ClockTicks);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return (0, 0);
        }
    }

    /// <summary>USER_HZ, 100 on every Linux build that matters here.</summary>
    private const double ClockTicks = 100.0;
}
