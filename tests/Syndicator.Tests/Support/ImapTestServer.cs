using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace Syndicator.Tests.Support;

/// <summary>
/// A real IMAP server on 127.0.0.1 for tests: Debian's Dovecot (<c>dovecot-imapd</c>) started in the foreground with a
/// throwaway configuration under a temporary folder: its own free port, plain IMAP (ssl = no, plaintext login allowed
/// on loopback), one passwd-file user, maildir storage. Dovecot will not run mail processes as root, so when the tests
/// run as root (CI) the mailbox belongs to <c>nobody</c> and Dovecot's own users (dovecot, dovenull) run its internal
/// and login processes; otherwise everything runs as the current user.
/// <para>When <c>/usr/sbin/dovecot</c> is missing the test is skipped, or fails under CI=true (.ci/run installs dovecot-imapd).</para>
/// </summary>
public sealed class ImapTestServer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/dovecot";
    public const string Package = "dovecot-imapd";

    private readonly Process process;
    private readonly StringBuilder log;
    private readonly string directory;
    private int disposed;

    private ImapTestServer(Process process, StringBuilder log, string directory, int port, string password)
    {
        this.process = process;
        this.log = log;
        this.directory = directory;
        Port = port;
        Password = password;
    }

    public string Host => "127.0.0.1";
    public int Port { get; }
    public string User => "feedback";
    public string Password { get; }

    public string ServerLog
    {
        get
        {
            var file = Path.Combine(directory, "dovecot.log");
            lock (log) return log + (File.Exists(file) ? File.ReadAllText(file) : "");
        }
    }

    public static async Task<ImapTestServer> StartAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(Binary)) ToolMissing($"{Binary} does not exist");
        var directory = Path.Combine(Path.GetTempPath(), "syndicator-imap-" + Guid.NewGuid().ToString("N")[..12]);
        var mail = Path.Combine(directory, "mail");
        foreach (var d in new[] { "run", "state", "mail" }) Directory.CreateDirectory(Path.Combine(directory, d));
        var password = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        await File.WriteAllTextAsync(Path.Combine(directory, "passwd"), $"feedback:{{PLAIN}}{password}\n", cancellationToken);
        var root = Environment.UserName == "root";
        string mailUser, internalUser, loginUser, group;
        if (root && !OperatingSystem.IsWindows())
        {
            (mailUser, group, internalUser, loginUser) = ("nobody", "nogroup", "dovecot", "dovenull");
            // The mail processes run as nobody and must write the maildir; the folders above it stay root's.
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            await RunAsync("chown", ["nobody:nogroup", mail], cancellationToken);
        }
        else
        {
            mailUser = internalUser = loginUser = Environment.UserName;
            group = (await RunAsync("id", ["-gn"], cancellationToken)).Trim();
        }
        var port = FreePort();
        var config = Path.Combine(directory, "dovecot.conf");
        await File.WriteAllTextAsync(config, $$"""
            base_dir = {{directory}}/run
            state_dir = {{directory}}/state
            log_path = {{directory}}/dovecot.log
            protocols = imap
            listen = 127.0.0.1
            ssl = no
            disable_plaintext_auth = no
            auth_mechanisms = plain login
            default_internal_user = {{internalUser}}
            default_login_user = {{loginUser}}
            first_valid_uid = 1
            passdb {
              driver = passwd-file
              args = scheme=PLAIN username_format=%u {{directory}}/passwd
            }
            userdb {
              driver = static
              args = uid={{mailUser}} gid={{group}} home={{mail}}/%u
            }
            mail_location = maildir:~/Maildir
            service imap-login {
              inet_listener imap {
                address = 127.0.0.1
                port = {{port}}
              }
              inet_listener imaps {
                port = 0
              }
            }

            """, cancellationToken);

        var info = new ProcessStartInfo(Binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-F", "-c", config }) info.ArgumentList.Add(arg);
        var log = new StringBuilder();
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        try
        {
            if (!process.Start()) ToolMissing($"{Binary} could not be started");
        }
        catch (Win32Exception e)
        {
            ToolMissing($"{Binary} could not be started ({e.Message})");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ImapTestServer(process, log, directory, port, password);
        try
        {
            // Ready when a login works (the greeting comes before the auth process is up).
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                if (process.HasExited) Assert.Fail($"dovecot exited with {process.ExitCode} before it was ready:{Environment.NewLine}{server.ServerLog}");
                try
                {
                    using var client = await server.ConnectAsync(cancellationToken);
                    await client.DisconnectAsync(true, cancellationToken);
                    return server;
                }
                catch (Exception e) when (e is SocketException or IOException or AuthenticationException or ImapProtocolException && deadline.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(100, cancellationToken);
                }
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Settings that point the app's feedback mailbox here (the password through an environment variable).</summary>
    public Dictionary<string, string?> Settings(string? folder = null)
    {
        var variable = "SYN_TEST_IMAP_" + Port;
        Environment.SetEnvironmentVariable(variable, Password);
        var settings = new Dictionary<string, string?>
        {
            ["Digests:Feedback:Imap:Host"] = Host,
            ["Digests:Feedback:Imap:Port"] = Port.ToString(),
            ["Digests:Feedback:Imap:Security"] = "None",
            ["Digests:Feedback:Imap:UserName"] = User,
            ["Digests:Feedback:Imap:Password"] = "env:" + variable,
            ["Digests:Feedback:Imap:PollSeconds"] = "5",
        };
        if (folder is not null) settings["Digests:Feedback:Imap:Folder"] = folder;
        return settings;
    }

    public async Task<ImapClient> ConnectAsync(CancellationToken cancellationToken = default)
    {
        var client = new ImapClient { Timeout = 15_000 };
        try
        {
            await client.ConnectAsync(Host, Port, SecureSocketOptions.None, cancellationToken);
            await client.AuthenticateAsync(User, Password, cancellationToken);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Puts a message into a folder with IMAP APPEND (as a mail server's delivery would), returning its UID.</summary>
    public async Task<UniqueId?> AppendAsync(MimeMessage message, string folder = "INBOX", CancellationToken cancellationToken = default)
    {
        using var client = await ConnectAsync(cancellationToken);
        var target = await client.GetFolderAsync(folder, cancellationToken);
        var uid = await target.AppendAsync(message, MessageFlags.None, cancellationToken);
        await client.DisconnectAsync(true, cancellationToken);
        return uid;
    }

    /// <summary>The messages in a folder (empty when it does not exist), by Message-ID or subject, with their flags.</summary>
    public async Task<IReadOnlyList<(string Id, MessageFlags Flags)>> ListAsync(string folder, CancellationToken cancellationToken = default)
    {
        using var client = await ConnectAsync(cancellationToken);
        IMailFolder target;
        try
        {
            target = await client.GetFolderAsync(folder, cancellationToken);
        }
        catch (FolderNotFoundException)
        {
            return [];
        }
        await target.OpenAsync(FolderAccess.ReadOnly, cancellationToken);
        var list = target.Count == 0 ? [] : (await target.FetchAsync(0, -1, MessageSummaryItems.Envelope | MessageSummaryItems.Flags, cancellationToken))
            .Select(s => (s.Envelope?.MessageId ?? s.Envelope?.Subject ?? "", s.Flags ?? MessageFlags.None)).ToList();
        await client.DisconnectAsync(true, cancellationToken);
        return list;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> RunAsync(string file, string[] args, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        try
        {
            var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await process.StandardError.ReadToEndAsync(cancellationToken)}");
            return output;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        try
        {
            if (!process.HasExited)
            {
                // doveadm stop asks the master to end its children too; a kill of the tree is the fallback.
                using (var asked = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
                {
                    try { await RunAsync("/usr/bin/doveadm", ["-c", Path.Combine(directory, "dovecot.conf"), "stop"], asked.Token); }
                    catch (Exception e) when (e is InvalidOperationException or Win32Exception or OperationCanceledException) { }
                }
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try { await process.WaitForExitAsync(grace.Token); }
                catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
            }
        }
        finally
        {
            process.Dispose();
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    private static void ToolMissing(string detail)
    {
        if (IsCi)
            Assert.Fail($"CI=true but {detail}. Install Debian's {Package} (apt-get install {Package}); .ci/run's IMAP test server step does this.");
        Assert.Skip($"Test IMAP server unavailable: {detail}. Install {Package}, or run bash .ci/run.");
        throw new UnreachableException();
    }
}
