using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MimeKit;

namespace Syndicator.Tests.Support;

/// <summary>How <see cref="SmtpTestServer"/> is started. The default is plain SMTP, no AUTH.</summary>
public sealed record SmtpTestServerOptions
{
    /// <summary>Offer STARTTLS with a self-signed certificate (for localhost and 127.0.0.1). AUTH is then offered only after STARTTLS.</summary>
    public bool StartTls { get; init; }

    /// <summary>With <see cref="StartTls"/>: refuse MAIL/RCPT/DATA/AUTH before STARTTLS ("530 Must issue a STARTTLS command first").</summary>
    public bool RequireStartTls { get; init; }

    /// <summary>Implicit TLS ("SMTPS", MailKit's <c>SecureSocketOptions.SslOnConnect</c>) with a self-signed certificate.</summary>
    public bool ImplicitTls { get; init; }

    /// <summary>Offer AUTH PLAIN and LOGIN for these credentials and require it before MAIL (530 otherwise); wrong ones get 535.</summary>
    public (string User, string Password)? Auth { get; init; }

    /// <summary>With <see cref="Auth"/>: offer AUTH but accept mail without it too.</summary>
    public bool AuthOptional { get; init; }

    /// <summary>Upper bound for the server to start (Python start-up and certificate generation on a busy 2-core machine).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Log the whole SMTP conversation into <see cref="SmtpTestServer.ServerLog"/>.</summary>
    public bool Verbose { get; init; }
}

/// <summary>
/// One message the server accepted: the SMTP envelope as the client sent it, and the DATA bytes exactly as received
/// (CRLF line ends, dot-unstuffed) together with MimeKit's parse of them.
/// </summary>
public sealed record ReceivedMessage(
    int Id,
    string MailFrom,
    IReadOnlyList<string> Recipients,
    int Connection,
    int MessageInConnection,
    bool Tls,
    string? AuthenticatedUser,
    string? Helo,
    DateTimeOffset ReceivedAt,
    byte[] Raw,
    MimeMessage Message,
    IReadOnlyList<string>? MailOptions = null)
{
    /// <summary>The raw message as text (UTF-8; headers are ASCII unless the client used SMTPUTF8).</summary>
    public string RawText => Encoding.UTF8.GetString(Raw);

    public override string ToString() =>
        $"#{Id} on connection {Connection}: MAIL FROM:<{MailFrom}> RCPT TO:<{string.Join(">, <", Recipients)}> subject '{Message.Subject}'";
}

/// <summary>One TCP connection the server saw (STARTTLS keeps the connection, and sets <see cref="Tls"/>).</summary>
public sealed record SmtpConnectionInfo(
    int Id,
    IReadOnlyList<JsonElement>? Peer,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ClosedAt,
    bool Tls,
    string? Helo,
    string? AuthenticatedUser,
    int Messages);

/// <summary>A recipient or message the server refused because of a rule (<see cref="SmtpTestServer.FailRecipient"/>).</summary>
/// <param name="Kind"><c>rcpt</c> (refused at RCPT TO) or <c>data</c> (refused after DATA).</param>
/// <param name="Reply">The reply line sent, e.g. <c>451 4.7.1 try later</c>.</param>
public sealed record SmtpRejection(int Connection, string Kind, string Address, string Reply, DateTimeOffset At);

/// <summary>What the server counted so far.</summary>
public sealed record SmtpServerStats(
    int Connections,
    int Messages,
    IReadOnlyDictionary<int, int> MessagesPerConnection,
    IReadOnlyList<SmtpConnectionInfo> ConnectionDetails,
    IReadOnlyList<SmtpRejection> Rejections,
    int AuthSuccesses,
    int AuthFailures)
{
    public static SmtpServerStats Empty { get; } = new(0, 0, new Dictionary<int, int>(), [], [], 0, 0);
}

/// <summary>
/// A real SMTP server on 127.0.0.1 for tests: Debian's <c>python3-aiosmtpd</c> running
/// <c>Fixtures/smtp/smtp_server.py</c> as a child process with Debian's <c>/usr/bin/python3</c> (a pyenv
/// <c>python3</c> earlier on PATH has no aiosmtpd). Each instance has its own free port, its own mail directory and
/// its own rules, so tests can run in parallel.
/// <para>
/// When <c>/usr/bin/python3</c> or aiosmtpd is missing the test is skipped, or fails under CI=true
/// (.ci/run installs python3-aiosmtpd).
/// </para>
/// </summary>
public sealed class SmtpTestServer : IAsyncDisposable
{
    public const string DebianPython = "/usr/bin/python3";
    public const string Package = "python3-aiosmtpd";

    private const int ExitNoAiosmtpd = 3;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString,
    };

    private readonly Process process;
    private readonly StringBuilder log;
    private readonly string directory;
    private readonly string rulesPath;
    private readonly Lock rulesLock = new();
    private readonly Dictionary<string, (int Code, string Text, int? Times, string Id)> rcptRules = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (int Code, string Text, int? Times, string Id)> dataRules = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (int Times, string Id)> dropRules = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (int Times, string Id)> rcptDropRules = new(StringComparer.OrdinalIgnoreCase);
    private TimeSpan replyDelay;
    private int disposed;

    private SmtpTestServer(Process process, StringBuilder log, string directory, string rulesPath, string host, int port,
        SmtpTestServerOptions options, string? certificatePath)
    {
        this.process = process;
        this.log = log;
        this.directory = directory;
        this.rulesPath = rulesPath;
        Host = host;
        Port = port;
        Options = options;
        CertificatePath = certificatePath;
        Certificate = certificatePath is null ? null : X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
    }

    public static string ScriptPath => Path.Combine(AppContext.BaseDirectory, "Fixtures", "smtp", "smtp_server.py");

    /// <summary>Always <c>127.0.0.1</c>.</summary>
    public string Host { get; }

    public int Port { get; }

    public SmtpTestServerOptions Options { get; }

    /// <summary>Where the server keeps <c>NNNNNN.eml</c>, <c>NNNNNN.meta.json</c> and <c>stats.json</c>.</summary>
    public string MailDirectory => Path.Combine(directory, "mail");

    /// <summary>The server's self-signed certificate (PEM), when it speaks TLS; tests can pin it.</summary>
    public string? CertificatePath { get; }

    /// <summary>The server's self-signed certificate, when it speaks TLS.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>What the server printed on stderr (and, with <see cref="SmtpTestServerOptions.Verbose"/>, its SMTP conversation).</summary>
    public string ServerLog
    {
        get { lock (log) return log.ToString(); }
    }

    /// <summary>The counters as the server last wrote them.</summary>
    public SmtpServerStats Stats => ReadStats();

    public static async Task<SmtpTestServer> StartAsync(SmtpTestServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SmtpTestServerOptions();
        if (options.StartTls && options.ImplicitTls)
            throw new ArgumentException("StartTls and ImplicitTls exclude each other.", nameof(options));
        if (options.RequireStartTls && !options.StartTls)
            throw new ArgumentException("RequireStartTls needs StartTls.", nameof(options));
        if (options.AuthOptional && options.Auth is null)
            throw new ArgumentException("AuthOptional needs Auth.", nameof(options));
        if (options.Auth is { } auth && (auth.User.Contains(':') || auth.User.Length == 0))
            throw new ArgumentException("Auth.User must be non-empty and must not contain ':'.", nameof(options));

        if (!File.Exists(DebianPython))
            ToolMissing($"{DebianPython} does not exist");
        if (!File.Exists(ScriptPath))
            throw new FileNotFoundException($"{ScriptPath} is missing from the test output (Fixtures/** is copied there).", ScriptPath);

        var directory = Path.Combine(Path.GetTempPath(), "syndicator-smtp-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var mailDirectory = Path.Combine(directory, "mail");
        var rulesPath = Path.Combine(directory, "rules.json");
        var certificatePath = options.StartTls || options.ImplicitTls ? Path.Combine(directory, "cert.pem") : null;

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
        // -I: Debian's interpreter with Debian's packages only, nothing from PYTHONPATH or ~/.local.
        string[] args = ["-I", ScriptPath, "--maildir", mailDirectory, "--rules", rulesPath, "--port", "0", "--watch-stdin"];
        foreach (var arg in args) info.ArgumentList.Add(arg);
        if (options.StartTls) info.ArgumentList.Add("--starttls");
        if (options.RequireStartTls) info.ArgumentList.Add("--require-starttls");
        if (options.ImplicitTls) info.ArgumentList.Add("--tls");
        if (certificatePath is not null)
        {
            // Inside our directory, so that it goes with it even when the server has to be killed.
            info.ArgumentList.Add("--cert-dir");
            info.ArgumentList.Add(Path.Combine(directory, "tls"));
            info.ArgumentList.Add("--cert-out");
            info.ArgumentList.Add(certificatePath);
        }
        if (options.Auth is { } credentials)
        {
            info.ArgumentList.Add("--auth");
            info.ArgumentList.Add($"{credentials.User}:{credentials.Password}");
            if (options.AuthOptional) info.ArgumentList.Add("--auth-optional");
        }
        if (options.Verbose) info.ArgumentList.Add("--verbose");
        info.Environment.Remove("PYTHONPATH");
        info.Environment.Remove("PYTHONHOME");
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        info.Environment["PYTHONIOENCODING"] = "utf-8";
        info.Environment["PYTHONUNBUFFERED"] = "1";

        var log = new StringBuilder();
        var ready = new TaskCompletionSource<(string Host, int Port)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            var parts = e.Data.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts is ["READY", var host, var port] && int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p))
                ready.TrySetResult((host, p));
            else
                lock (log) log.AppendLine("[stdout] " + e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (log) log.AppendLine(e.Data);
        };

        try
        {
            if (!process.Start()) ToolMissing($"{DebianPython} could not be started");
        }
        catch (Win32Exception e)
        {
            DeleteDirectory(directory);
            ToolMissing($"{DebianPython} could not be started ({e.Message})");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        string Log() { lock (log) return log.ToString(); }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.StartTimeout);
            var exited = process.WaitForExitAsync(timeout.Token);
            var first = await Task.WhenAny(ready.Task, exited);
            if (first == ready.Task)
            {
                var (host, port) = await ready.Task;
                return new SmtpTestServer(process, log, directory, rulesPath, host, port, options, certificatePath);
            }

            try
            {
                await exited;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"smtp_server.py did not print READY within {options.StartTimeout.TotalSeconds:0} s.{Environment.NewLine}{Log()}");
            }
            process.WaitForExit(TimeSpan.FromSeconds(5)); // lets the stdout/stderr readers finish
            if (process.ExitCode == ExitNoAiosmtpd)
                ToolMissing($"{DebianPython} cannot import aiosmtpd: {Log().Trim()}");
            Assert.Fail($"smtp_server.py exited with code {process.ExitCode} before it was ready.{Environment.NewLine}{Log()}");
            throw new UnreachableException();
        }
        catch
        {
            Kill(process);
            process.Dispose();
            DeleteDirectory(directory);
            throw;
        }
    }

    // ------------------------------------------------------------------ messages

    /// <summary>Every message accepted so far, in the order they were accepted.</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> MessagesAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<ReceivedMessage>();
        if (!Directory.Exists(MailDirectory)) return result;
        // A .meta.json is written after its .eml is complete (both by rename), so it marks a finished message.
        foreach (var metaPath in Directory.EnumerateFiles(MailDirectory, "*.meta.json").Order(StringComparer.Ordinal))
        {
            var meta = JsonSerializer.Deserialize<MessageMeta>(await File.ReadAllBytesAsync(metaPath, cancellationToken), Json)
                ?? throw new InvalidDataException($"{metaPath} holds null.");
            var raw = await File.ReadAllBytesAsync(Path.Combine(MailDirectory, meta.File), cancellationToken);
            MimeMessage message;
            using (var stream = new MemoryStream(raw, writable: false))
                message = await MimeMessage.LoadAsync(stream, cancellationToken);
            result.Add(new ReceivedMessage(
                meta.Id, meta.MailFrom ?? "", meta.RcptTos, meta.Connection, meta.MessageInConnection,
                meta.Session?.Tls ?? false, meta.Session?.AuthenticatedUser, meta.Session?.Helo, meta.ReceivedAt, raw, message, meta.MailOptions ?? []));
        }
        return result;
    }

    /// <summary>Waits until at least <paramref name="count"/> messages were accepted, and returns all of them.</summary>
    /// <exception cref="TimeoutException">Fewer arrived within <paramref name="timeout"/>; the message lists what did arrive.</exception>
    public async Task<IReadOnlyList<ReceivedMessage>> WaitForMessagesAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            var messages = await MessagesAsync(cancellationToken);
            if (messages.Count >= count) return messages;
            if (stopwatch.Elapsed >= timeout)
            {
                throw new TimeoutException(
                    $"Expected at least {count} message(s) on the test SMTP server within {timeout.TotalSeconds:0.#} s, got {messages.Count}:" +
                    $"{Environment.NewLine}{string.Join(Environment.NewLine, messages)}{Environment.NewLine}" +
                    $"rejections: {string.Join("; ", Stats.Rejections.Select(r => $"{r.Address} {r.Reply}"))}{Environment.NewLine}{ServerLog}");
            }
            if (process.HasExited)
                throw new InvalidOperationException($"The test SMTP server exited with code {process.ExitCode}.{Environment.NewLine}{ServerLog}");
            await Task.Delay(25, cancellationToken);
        }
    }

    // ------------------------------------------------------------------ rules

    /// <summary>
    /// Makes the server refuse <c>RCPT TO:&lt;address&gt;</c> with <paramref name="code"/> and <paramref name="text"/>
    /// (e.g. <c>451, "4.7.1 try later"</c>): <paramref name="times"/> times and then accept it, or every time when null.
    /// Calling it again for the same address replaces the rule and restarts its count. Takes effect at the next RCPT.
    /// </summary>
    public void FailRecipient(string address, int code, string text, int? times = null) =>
        SetRule(rcptRules, address, code, text, times);

    /// <summary>Like <see cref="FailRecipient"/>, but refuses the whole message after DATA when it is addressed to <paramref name="address"/>.</summary>
    public void FailData(string address, int code, string text, int? times = null) =>
        SetRule(dataRules, address, code, text, times);

    /// <summary>
    /// Makes the server store the next <paramref name="times"/> messages to <paramref name="address"/> and then drop
    /// the connection instead of answering 250: the relay has the message, the client never hears so.
    /// </summary>
    public void DropAfterData(string address, int times = 1)
    {
        lock (rulesLock)
        {
            dropRules[address] = (times, Guid.NewGuid().ToString("N"));
            WriteRules();
        }
    }

    /// <summary>
    /// Makes the server accept MAIL FROM and then drop the connection, answering nothing and storing nothing, at the next
    /// <paramref name="times"/> <c>RCPT TO:&lt;address&gt;</c>: a relay that goes away in the middle of the envelope.
    /// </summary>
    public void DropAtRecipient(string address, int times = 1)
    {
        lock (rulesLock)
        {
            rcptDropRules[address] = (times, Guid.NewGuid().ToString("N"));
            WriteRules();
        }
    }

    /// <summary>Makes the server wait this long before answering each DATA (a slow relay).</summary>
    public void DelayReplies(TimeSpan delay)
    {
        lock (rulesLock)
        {
            replyDelay = delay;
            WriteRules();
        }
    }

    /// <summary>Removes every rule: all recipients are accepted again.</summary>
    public void ClearRules()
    {
        lock (rulesLock)
        {
            rcptRules.Clear();
            dataRules.Clear();
            dropRules.Clear();
            rcptDropRules.Clear();
            replyDelay = TimeSpan.Zero;
            WriteRules();
        }
    }

    private void SetRule(Dictionary<string, (int, string, int?, string)> rules, string address, int code, string text, int? times)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        ArgumentOutOfRangeException.ThrowIfLessThan(code, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(code, 599);
        if (times is < 0) throw new ArgumentOutOfRangeException(nameof(times), times, "times must be >= 0 (or null for every time).");
        lock (rulesLock)
        {
            rules[address] = (code, text, times, Guid.NewGuid().ToString("N"));
            WriteRules();
        }
    }

    private void WriteRules()
    {
        var failRcpt = new JsonObject();
        var failData = new JsonObject();
        var failTimes = new JsonObject();
        var ruleIds = new JsonObject();
        foreach (var (table, rules) in new[] { (failRcpt, rcptRules), (failData, dataRules) })
        {
            foreach (var (address, (code, text, times, id)) in rules)
            {
                var key = address.ToLowerInvariant();
                table[key] = new JsonArray(code, text);
                // fail_times and rule_ids are per address in the file, shared by its RCPT and DATA rules.
                if (times is { } n) failTimes[key] = n;
                ruleIds[key] = ruleIds[key] is JsonValue existing ? existing.GetValue<string>() + id : id;
            }
        }
        var drop = new JsonObject();
        var rcptDrop = new JsonObject();
        foreach (var (table, rules) in new[] { (drop, dropRules), (rcptDrop, rcptDropRules) })
        {
            foreach (var (address, (times, id)) in rules)
            {
                var key = address.ToLowerInvariant();
                table[key] = times;
                ruleIds[key] = ruleIds[key] is JsonValue existing ? existing.GetValue<string>() + id : id;
            }
        }
        var document = new JsonObject
        {
            ["fail_rcpt"] = failRcpt,
            ["fail_data"] = failData,
            ["fail_times"] = failTimes,
            ["rule_ids"] = ruleIds,
            ["drop_after_data"] = drop,
            ["drop_at_rcpt"] = rcptDrop,
            ["reply_delay_ms"] = (int)replyDelay.TotalMilliseconds,
        };
        var tmp = rulesPath + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        File.WriteAllText(tmp, document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, rulesPath, overwrite: true); // a rename: the server never reads half a file
    }

    // ------------------------------------------------------------------ stats

    /// <summary>The counters as the server last wrote them (<see cref="Stats"/>).</summary>
    public async Task<SmtpServerStats> GetStatsAsync(CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(MailDirectory, "stats.json");
        if (!File.Exists(path)) return SmtpServerStats.Empty;
        return Parse(await File.ReadAllBytesAsync(path, cancellationToken));
    }

    private SmtpServerStats ReadStats()
    {
        var path = Path.Combine(MailDirectory, "stats.json");
        return File.Exists(path) ? Parse(File.ReadAllBytes(path)) : SmtpServerStats.Empty;
    }

    private static SmtpServerStats Parse(byte[] json)
    {
        var raw = JsonSerializer.Deserialize<StatsFile>(json, Json) ?? throw new InvalidDataException("stats.json holds null.");
        return new SmtpServerStats(
            raw.Connections,
            raw.Messages,
            raw.MessagesPerConnection.ToDictionary(kv => int.Parse(kv.Key, CultureInfo.InvariantCulture), kv => kv.Value),
            raw.ConnectionDetails,
            raw.Rejections,
            raw.AuthSuccesses,
            raw.AuthFailures);
    }

    // ------------------------------------------------------------------ shutdown

    /// <summary>Stops the server (stdin closed, then killed if it lingers) and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        try
        {
            try { process.StandardInput.Close(); } catch (IOException) { } catch (InvalidOperationException) { }
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            try { await process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException) { Kill(process); }
        }
        finally
        {
            process.Dispose();
            Certificate?.Dispose();
            DeleteDirectory(directory);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { }
        catch (Win32Exception) { }
    }

    private static void DeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    [DoesNotReturn]
    private static void ToolMissing(string detail)
    {
        if (IsCi)
            Assert.Fail($"CI=true but {detail}. Install Debian's {Package} (apt-get install {Package}); .ci/run's SMTP test server step does this.");
        Assert.Skip($"Test SMTP server unavailable: {detail}. Install {Package}, or run bash .ci/run.");
        throw new UnreachableException();
    }

    // ------------------------------------------------------------------ file formats (smtp_server.py)

    private sealed record MessageMeta(
        int Id,
        string File,
        string? MailFrom,
        List<string> RcptTos,
        int Connection,
        int MessageInConnection,
        SessionMeta? Session,
        DateTimeOffset ReceivedAt,
        List<string>? MailOptions = null);

    private sealed record SessionMeta(string? Helo, bool Tls, string? AuthenticatedUser);

    private sealed record StatsFile(
        int Connections,
        int Messages,
        Dictionary<string, int> MessagesPerConnection,
        List<SmtpConnectionInfo> ConnectionDetails,
        List<SmtpRejection> Rejections,
        int AuthSuccesses,
        int AuthFailures);
}
