using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Cluster;

/// <summary>What the relay holds of one accepted message: its envelope recipients and its Message-ID header.</summary>
public sealed record RelayedMessage(int Id, IReadOnlyList<string> Recipients, string? MessageId);

/// <summary>
/// Reads the test SMTP server's mail directory without parsing whole messages: the envelope from each
/// <c>NNNNNN.meta.json</c> (written after its .eml is complete) and the Message-ID from the .eml's header block.
/// Cheap enough for tens of thousands of messages, which <see cref="SmtpTestServer.MessagesAsync"/> (MimeKit on
/// every body) is not.
/// </summary>
public static class RelayMailbox
{
    public static async Task<IReadOnlyList<RelayedMessage>> ReadAsync(string mailDirectory, CancellationToken cancellationToken)
    {
        var result = new List<RelayedMessage>();
        if (!Directory.Exists(mailDirectory)) return result;
        foreach (var metaPath in Directory.EnumerateFiles(mailDirectory, "*.meta.json").Order(StringComparer.Ordinal))
        {
            using var meta = JsonDocument.Parse(await File.ReadAllBytesAsync(metaPath, cancellationToken));
            var root = meta.RootElement;
            var recipients = root.GetProperty("rcpt_tos").EnumerateArray().Select(r => r.GetString()!.ToLowerInvariant()).ToList();
            var file = Path.Combine(mailDirectory, root.GetProperty("file").GetString()!);
            result.Add(new RelayedMessage(root.GetProperty("id").GetInt32(), recipients, await MessageIdAsync(file, cancellationToken)));
        }
        return result;
    }

    /// <summary>The Message-ID header's value without angle brackets (unfolded), or null when the header block has none.</summary>
    private static async Task<string?> MessageIdAsync(string path, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(path, Encoding.UTF8);
        string? current = null;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0) break; // end of the header block
            if (line[0] is ' ' or '\t')
            {
                if (current is not null) current += line.Trim();
                continue;
            }
            if (current is not null) break;
            if (line.StartsWith("Message-ID:", StringComparison.OrdinalIgnoreCase)) current = line["Message-ID:".Length..].Trim();
        }
        return current?.Trim().TrimStart('<').TrimEnd('>');
    }
}

/// <summary>Sets process environment variables for the test and its children, and removes them again.</summary>
public sealed class EnvironmentScope : IDisposable
{
    private readonly List<string> names = [];

    public string Set(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        names.Add(name);
        return "env:" + name;
    }

    public void Dispose()
    {
        foreach (var name in names) Environment.SetEnvironmentVariable(name, null);
    }
}

/// <summary>One service process of the cluster: its own folder, config file and HTTP port, and its node name in <c>deliveries.claimed_by</c>.</summary>
public sealed class ClusterNode(string label, SyndicatorProcess process, string baseUrl) : IAsyncDisposable
{
    public string Label { get; } = label;
    public SyndicatorProcess Process { get; } = process;
    public string BaseUrl { get; } = baseUrl;
    public int Pid => Process.Id;

    /// <summary>As <c>DeliveryWorker.Node</c> computes it in the child: <c>{machine}:{pid}</c>.</summary>
    public string NodeName { get; } = $"{Environment.MachineName}:{process.Id}";

    /// <summary>
    /// Starts <c>dotnet syndicator.dll</c> with a config file of its own (the repository's, samples off) under
    /// <paramref name="root"/> and everything cluster-specific as <c>Section__Key</c> environment variables.
    /// </summary>
    public static ClusterNode Start(string label, string root, int port, IReadOnlyDictionary<string, string?> environment)
    {
        Directory.CreateDirectory(root);
        var config = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(Repo.Root, "appsettings.json")), null,
            new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        // No sample article: the test's 50 are the only ones, so every count is exact.
        ((JsonObject)config["Import"]!)["SamplesPath"] = "";
        var configPath = Path.Combine(root, "appsettings.json");
        File.WriteAllText(configPath, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        var baseUrl = $"http://127.0.0.1:{port}";
        var all = new Dictionary<string, string?>(environment)
        {
            ["SYNDICATOR_CONFIG"] = configPath,
            ["Http__Urls"] = baseUrl,
        };
        return new ClusterNode(label, SyndicatorProcess.Start([], all, root), baseUrl);
    }

    /// <summary>SIGKILL, as the OOM killer or a pulled plug would: no shutdown code runs. Returns once the process is gone.</summary>
    public void KillHard()
    {
        using var process = System.Diagnostics.Process.GetProcessById(Pid);
        process.Kill(entireProcessTree: false); // SIGKILL on Unix
        if (!process.WaitForExit(10_000)) throw new TimeoutException($"{Label} (pid {Pid}) still runs 10 s after SIGKILL.");
    }

    /// <summary>True while a process with this pid exists (a zombie counts as gone).</summary>
    public bool PidAlive()
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(Pid);
            if (process.HasExited) return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        var status = $"/proc/{Pid}/status";
        if (OperatingSystem.IsLinux() && File.Exists(status))
            return !File.ReadLines(status).Any(l => l.StartsWith("State:", StringComparison.Ordinal) && l.Contains('Z'));
        return true;
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}

/// <summary>A stopwatch for named phases, for the report.</summary>
public sealed class Phases
{
    private readonly Stopwatch total = Stopwatch.StartNew();
    private readonly List<(string Name, TimeSpan Took)> done = [];

    public TimeSpan Total => total.Elapsed;
    public IReadOnlyList<(string Name, TimeSpan Took)> Done => done;

    public async Task<T> TimeAsync<T>(string name, Func<Task<T>> phase)
    {
        var watch = Stopwatch.StartNew();
        var result = await phase();
        done.Add((name, watch.Elapsed));
        return result;
    }

    public async Task TimeAsync(string name, Func<Task> phase)
    {
        var watch = Stopwatch.StartNew();
        await phase();
        done.Add((name, watch.Elapsed));
    }

    public TimeSpan this[string name] => done.Where(d => d.Name == name).Aggregate(TimeSpan.Zero, (sum, d) => sum + d.Took);
}

/// <summary>The started nodes; disposing kills whichever still run.</summary>
public sealed class ClusterNodes : IAsyncDisposable
{
    private readonly List<ClusterNode> nodes = [];
    public IReadOnlyList<ClusterNode> All => nodes;
    public ClusterNode? Killed { get; set; }

    public void Add(ClusterNode node) => nodes.Add(node);

    /// <summary>A node that died on its own (not the one the test killed) fails the test with its output.</summary>
    public void ThrowIfAnyExited()
    {
        foreach (var node in nodes)
            if (node != Killed && node.Process.HasExited)
                Assert.Fail($"{node.Label} (pid {node.Pid}) exited on its own.{Environment.NewLine}{node.Process.Describe()}");
    }

    /// <summary>The last log lines of every node, for a failure message.</summary>
    public string Tails()
    {
        var text = new StringBuilder();
        foreach (var node in nodes)
        {
            var stderr = node.Process.Stderr.Split('\n');
            text.AppendLine($"--- {node.Label} pid {node.Pid} {(node.Process.HasExited ? "exited" : "running")}, last log lines ---");
            foreach (var line in stderr.TakeLast(25)) text.AppendLine(line);
        }
        return text.ToString();
    }

    public static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try { return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port; }
        finally { listener.Stop(); }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in nodes) await node.DisposeAsync();
    }
}

/// <summary>Queries the cluster's PostgreSQL database from the test, on a connection of their own.</summary>
public static class ClusterDatabase
{
    public static async Task<T> QueryAsync<T>(string connectionString, Func<Npgsql.NpgsqlConnection, Task<T>> query)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        return await query(connection);
    }

    public static async Task<List<T>> RowsAsync<T>(string connectionString, Func<Npgsql.NpgsqlConnection, Task<IEnumerable<T>>> query) =>
        (await QueryAsync(connectionString, query)).ToList();

    public static Task<long> ScalarAsync(string connectionString, string sql, object? parameters = null) =>
        QueryAsync(connectionString, c => Dapper.SqlMapper.ExecuteScalarAsync<long>(c, new Dapper.CommandDefinition(sql, parameters, cancellationToken: TestContext.Current.CancellationToken)));
}
