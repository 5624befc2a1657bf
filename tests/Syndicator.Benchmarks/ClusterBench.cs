using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Configuration;
using MimeKit;
using Npgsql;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Hosting;
using Syndicator.Scheduling;
using Syndicator.Storage;

namespace Syndicator.Benchmarks;

public sealed record ClusterSeed(int Articles, double ArticlesMs, int ServiceSubscribers, double ServiceMs, int SqlSubscribers, double SqlMs, double PlanMs, int Planned);

public sealed record NodeShare(int Node, int Pid, long Sent);

public sealed record SinkCalibration(int Messages, int Connections, int MessageBytes, double Seconds, double SinkCpuPercent)
{
    public double PerSecond => Messages / Seconds;
}

public sealed class ClusterRun
{
    public int Nodes { get; set; }
    public int Due { get; set; }
    public long Sent { get; set; }
    public long Failed { get; set; }
    public long Unfinished { get; set; }
    public double Seconds { get; set; }
    public double StartSeconds { get; set; }
    public List<NodeShare> Shares { get; set; } = [];
    public string ShareSource { get; set; } = "";
    public int SinkMessages { get; set; }
    public int SinkDuplicates { get; set; }
    public double NodesCpuPercent { get; set; }
    public double PostgresCpuPercent { get; set; }
    public double SinkCpuPercent { get; set; }
    public double MachineBusyPercent { get; set; }
    public long Transactions { get; set; }
    public long JobSent { get; set; }
    public int JobRuns { get; set; }
    public ClusterSeed? Seed { get; set; }
    public string? Error { get; set; }
    public double PerSecond => Seconds > 0 ? Sent / Seconds : 0;
}

/// <summary>
/// The <c>cluster</c> verb: e-mail delivery throughput of 1, 2, 3... real service processes sharing one PostgreSQL
/// database (Storage:Clustered=true) and sending to the repository's test SMTP server. Per node count: a fresh database
/// seeded through the composition root, the due e-mails held back while the nodes start, released once every node
/// answers /health, and timed until none is pending, in flight or waiting for a retry.
/// </summary>
public static class ClusterBench
{
    private const string SigningKeyVariable = "SYN_BENCH_SIGNING_KEY";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The jobs that have nothing to do with sending e-mail; disabled on the nodes so they do not compete for the cores.</summary>
    private static readonly string[] QuietJobs =
        [JobCatalog.DropFolderImport, JobCatalog.FeedBuild, JobCatalog.WebSubPing, JobCatalog.Announcements, JobCatalog.DailyDigest, JobCatalog.WeeklyDigest, JobCatalog.Retention];

    public static string RepoRoot { get; } = FindRoot();

    private static void Log(string message) => Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} [cluster] {message}");

    public static async Task<int> MainAsync(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(ClusterOptions.Usage);
            return 0;
        }
        ClusterOptions o;
        try
        {
            o = ClusterOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(ClusterOptions.Usage);
            return 2;
        }
        var admin = Environment.GetEnvironmentVariable(Bench.PostgresVariable);
        if (string.IsNullOrWhiteSpace(admin))
        {
            Console.Error.WriteLine($"The cluster benchmark needs PostgreSQL: set {Bench.PostgresVariable} to an admin connection string, e.g. " +
                                    "\"Host=127.0.0.1;Port=5432;Username=postgres;Password=...;Database=postgres\".");
            return 2;
        }

        // Ctrl+C or SIGTERM: stop waiting, and let every finally below kill the nodes and drop the databases.
        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        var ct = stop.Token;

        var command = ("dotnet run -c Release --project tests/Syndicator.Benchmarks -- cluster " + string.Join(' ', args)).TrimEnd();
        var appDll = typeof(SyndicatorHost).Assembly.Location;
        Log(command);
        Log($"{o.Messages:N0} e-mails per node count, node counts {string.Join(", ", o.Nodes)}; {Environment.ProcessorCount} cores; app {appDll}; every node's own sender (Deliveries:PollSeconds=1)");

        var root = Path.Combine(Path.GetTempPath(), $"syndicator-cluster-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        var started = Stopwatch.StartNew();
        var loadBefore = LoadAverage();
        var runs = new List<ClusterRun>();
        var calibrations = new List<SinkCalibration>();
        string? calibrationError = null;
        byte[]? sample = null;
        try
        {
            foreach (var n in o.Nodes)
            {
                ct.ThrowIfCancellationRequested();
                var (run, message) = await RunAsync(o, n, admin, Path.Combine(root, $"n{n}"), appDll, ct);
                runs.Add(run);
                sample ??= message;
            }
            if (o.Calibrate && sample is not null)
            {
                try
                {
                    calibrations.Add(await CalibrateAsync(Math.Min(o.Messages, 1_000), o.Connections * o.Nodes.Max(), sample, Path.Combine(root, "calibration"), ct));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    calibrationError = $"{e.GetType().Name}: {e.Message}";
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Log("stopped (signal); printing what was measured");
        }
        finally
        {
            if (!o.Keep) TryDelete(root);
            else Log($"kept {root}");
        }

        Print(o, command, runs, calibrations, calibrationError, started.Elapsed, $"load average (1/5/15 min) at start {loadBefore}, at end {LoadAverage()}");
        if (o.JsonOut is not null)
        {
            await File.WriteAllTextAsync(o.JsonOut, JsonSerializer.Serialize(new { command, options = o, cores = Environment.ProcessorCount, runs, calibrations },
                new JsonSerializerOptions { WriteIndented = true }), CancellationToken.None);
            Log($"results written to {o.JsonOut}");
        }
        return runs.Count == o.Nodes.Count && runs.All(r => r.Error is null) ? 0 : 1;
    }

    // ---------------------------------------------------------------- one node count
    private static async Task<(ClusterRun Run, byte[]? Sample)> RunAsync(ClusterOptions o, int n, string admin, string work, string appDll, CancellationToken ct)
    {
        var run = new ClusterRun { Nodes = n, Due = o.Messages };
        byte[]? sample = null;
        Directory.CreateDirectory(work);
        var database = $"syn_cluster_{n}_{Guid.NewGuid():N}"[..28];
        await using (var c = new NpgsqlConnection(admin))
        {
            await c.OpenAsync(ct);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", c);
            await create.ExecuteNonQueryAsync(ct);
        }
        var connection = new NpgsqlConnectionStringBuilder(admin) { Database = database, Pooling = true }.ConnectionString;
        Log($"{n} node(s): created database {database}");

        var signingKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        Environment.SetEnvironmentVariable(SigningKeyVariable, signingKey);
        SmtpSink? sink = null;
        var nodes = new List<ServiceNode>();
        try
        {
            run.Seed = await SeedAsync(o, connection, work, ct);
            Log($"{n} node(s): seeded {o.Messages:N0} subscribers and planned {run.Seed.Planned:N0} digests " +
                $"(subscribers: {Ms(run.Seed.ServiceMs / Math.Max(1, run.Seed.ServiceSubscribers))} ms each through SubscriberStore.SaveAsync, " +
                $"{Ms(run.Seed.SqlMs / Math.Max(1, run.Seed.SqlSubscribers))} ms each by one SQL insert; planning {run.Seed.PlanMs / 1000:N1} s)");

            // The seeding app's idle connections would end mid-run and take their backends' CPU time with them.
            NpgsqlConnection.ClearAllPools();
            sink = await SmtpSink.StartAsync(Path.Combine(work, "smtp"), ct);
            Log($"{n} node(s): SMTP sink listening on {sink.Host}:{sink.Port} (pid {sink.Pid})");

            var config = Path.Combine(work, "appsettings.json");
            File.Copy(Path.Combine(RepoRoot, "appsettings.json"), config, overwrite: true);
            var ports = FreePorts(n);
            var startWatch = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                var env = NodeEnvironment(o, i, ports[i], connection, config, work, sink, signingKey);
                nodes.Add(ServiceNode.Start(i + 1, ports[i], appDll, env, work, Path.Combine(work, $"node{i + 1}.log")));
                // The first node alone first: it creates the Quartz tables; the others then join an existing cluster.
                if (i == 0 && !o.StartTogether) await nodes[0].WaitHealthyAsync(TimeSpan.FromMinutes(2), ct);
            }
            await Task.WhenAll(nodes.Skip(o.StartTogether ? 0 : 1).Select(node => node.WaitHealthyAsync(TimeSpan.FromMinutes(2), ct)));
            run.StartSeconds = startWatch.Elapsed.TotalSeconds;
            Log($"{n} node(s): all healthy after {run.StartSeconds:N1} s (pids {string.Join(", ", nodes.Select(x => x.Pid))}); releasing the e-mails");

            // CPU counters at the release and at the end: who used the two cores while the e-mails went out.
            var cpuNodes = nodes.Sum(x => Processes.CpuSeconds(x.Pid));
            var cpuSink = Processes.CpuSeconds(sink.Pid);
            var cpuPg = Processes.CpuSecondsByPid("postgres");
            var transactions = await TransactionsAsync(connection, ct);
            var machine = Processes.MachineCpu();
            var released = await ReleaseAsync(connection, ct);
            var wall = Stopwatch.StartNew();

            var deadline = TimeSpan.FromMinutes(o.TimeoutMinutes);
            var lastLog = Stopwatch.StartNew();
            Dictionary<string, long> states;
            while (true)
            {
                states = await StatesAsync(connection, ct);
                var open = Open(states);
                if (open == 0) break;
                if (nodes.FirstOrDefault(x => x.HasExited) is { } dead)
                    throw new InvalidOperationException($"node {dead.Index} (pid {dead.Pid}) exited while sending; log {dead.LogPath}{Environment.NewLine}{dead.Tail()}");
                if (wall.Elapsed > deadline)
                {
                    run.Error = $"stopped after {o.TimeoutMinutes:0.#} min with {open:N0} e-mails not yet sent";
                    break;
                }
                if (lastLog.Elapsed.TotalSeconds >= 10)
                {
                    Log($"{n} node(s): {string.Join(", ", states.Select(s => $"{s.Key} {s.Value:N0}"))} after {wall.Elapsed.TotalSeconds:N0} s");
                    lastLog.Restart();
                }
                await Task.Delay(100, ct);
            }
            var wallSeconds = wall.Elapsed.TotalSeconds;
            var cpuSeconds = wallSeconds;
            run.NodesCpuPercent = 100 * (nodes.Sum(x => Processes.CpuSeconds(x.Pid)) - cpuNodes) / cpuSeconds;
            run.SinkCpuPercent = 100 * (Processes.CpuSeconds(sink.Pid) - cpuSink) / cpuSeconds;
            run.PostgresCpuPercent = 100 * Processes.CpuDelta(cpuPg, Processes.CpuSecondsByPid("postgres")) / cpuSeconds;
            var machineEnd = Processes.MachineCpu();
            run.MachineBusyPercent = machineEnd.Total > machine.Total ? 100 * (machineEnd.Busy - machine.Busy) / (machineEnd.Total - machine.Total) : 0;

            run.Sent = states.GetValueOrDefault("sent");
            run.Failed = states.GetValueOrDefault("failed");
            run.Unfinished = Open(states);
            // The last delivery's own finishing time (the nodes' clock, which is this machine's): not rounded up to the poll interval.
            var finished = await LastFinishedAsync(connection, ct);
            run.Seconds = finished is { } f && run.Unfinished == 0 ? Math.Max(0.001, (f - released).TotalSeconds) : wallSeconds;
            (run.Shares, run.ShareSource) = await SharesAsync(connection, nodes, ct);
            (run.JobRuns, run.JobSent) = await EmailJobAsync(connection, released, ct);
            // A busy backend reports its counters to pg_stat_database late (PostgreSQL 15: up to a minute); one that
            // exits reports them at once. So the nodes are stopped (their disposal below is then a no-op) before reading.
            foreach (var node in nodes) await node.DisposeAsync();
            await Task.Delay(TimeSpan.FromSeconds(1.5), ct);
            run.Transactions = await TransactionsAsync(connection, ct) - transactions;

            // What the SMTP server got: a message per delivery, none twice.
            run.SinkMessages = sink.Messages();
            var recipients = sink.Recipients();
            run.SinkDuplicates = recipients.Count - recipients.Distinct(StringComparer.OrdinalIgnoreCase).Count();
            sample = sink.FirstMessage();
            Log($"{n} node(s): {run.Sent:N0} sent, {run.Failed:N0} failed in {run.Seconds:N2} s = {run.PerSecond:N0}/s; " +
                $"SMTP server received {run.SinkMessages:N0} ({run.SinkDuplicates:N0} duplicates); shares {string.Join(" / ", run.Shares.Select(s => s.Sent.ToString("N0", Inv)))} ({run.ShareSource})");
            if (run.Failed > 0)
                run.Error ??= $"{run.Failed:N0} deliveries failed: {await FirstErrorAsync(connection, ct)}";
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            run.Error = $"{e.GetType().Name}: {e.Message}";
            Log($"{n} node(s): {run.Error}");
        }
        finally
        {
            // Whatever happened: every node and the SMTP server killed, the database dropped.
            foreach (var node in nodes) await node.DisposeAsync();
            if (sink is not null) await sink.DisposeAsync();
            NpgsqlConnection.ClearAllPools();
            if (!o.Keep)
            {
                await using var c = new NpgsqlConnection(admin);
                await c.OpenAsync(CancellationToken.None);
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", c);
                await drop.ExecuteNonQueryAsync(CancellationToken.None);
                Log($"{n} node(s): dropped database {database}");
            }
            else Log($"{n} node(s): kept database {database}");
        }
        return (run, sample);
    }

    private static Dictionary<string, string> NodeEnvironment(ClusterOptions o, int i, int port, string connection, string config, string work, SmtpSink sink, string signingKey)
    {
        var templates = Path.Combine(RepoRoot, "config", "templates");
        var env = new Dictionary<string, string>
        {
            [ConfigLocator.EnvironmentVariable] = config,
            ["Storage__Provider"] = nameof(StorageProvider.PostgreSql),
            // The service refuses a password written into the connection string; Npgsql reads PGPASSWORD instead.
            ["Storage__ConnectionString"] = new Npgsql.NpgsqlConnectionStringBuilder(connection) { Password = null }.ConnectionString,
            ["PGPASSWORD"] = new Npgsql.NpgsqlConnectionStringBuilder(connection).Password ?? "",
            ["Storage__Clustered"] = "true",
            ["Storage__MigrateOnStart"] = "true",
            // The relay is a loopback sink, and the links it receives point at the shipped example site.
            ["Site__AllowLocalUrls"] = "true",
            ["Import__SamplesPath"] = "",
            ["Import__InboxPath"] = Path.Combine(work, $"inbox{i + 1}"),
            ["Feeds__OutputPath"] = Path.Combine(work, $"feeds{i + 1}"),
            ["Http__Urls"] = $"http://127.0.0.1:{port}",
            ["Digests__TemplatesPath"] = templates,
            ["Announcements__TemplatesPath"] = templates,
            ["Digests__SigningKey"] = "env:" + SigningKeyVariable,
            [SigningKeyVariable] = signingKey,
            ["Digests__PickupPath"] = Path.Combine(work, $"pickup{i + 1}"),
            ["Digests__Smtp__Host"] = sink.Host,
            ["Digests__Smtp__Port"] = sink.Port.ToString(Inv),
            ["Digests__Smtp__Security"] = nameof(SmtpSecurity.None),
            ["Digests__Smtp__MessagesPerSecond"] = "10000",
            ["Digests__Smtp__Connections"] = o.Connections.ToString(Inv),
            ["Deliveries__RetryBaseSeconds"] = "1",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        if (o.BatchSize is { } batch) env["Deliveries__BatchSize"] = batch.ToString(Inv);
        // Only once the product has it: an unknown key stops the app at start.
        env["Deliveries__PollSeconds"] = "1";
        env["Jobs__EmailSend__IntervalSeconds"] = EmailJobSeconds(o).ToString(Inv);
        foreach (var job in QuietJobs) env[$"Jobs__{job}__Enabled"] = "false";
        return env;
    }

    /// <summary>
    /// Before the per-node sender, the EmailSend job is the only sender: every second. With it, the job fires once at
    /// start (nothing is due yet) and then only after an hour: fired at some point of a run (every 60 s by default), it
    /// would add a second sender to one node for the rest of the run, by chance. --email-job-seconds 60 measures that.
    /// </summary>
    private static int EmailJobSeconds(ClusterOptions o) => o.EmailJobSeconds ?? 3600;

    // ---------------------------------------------------------------- seeding
    /// <summary>
    /// Through the composition root (not started): migrations, a few articles through the importer, the subscribers,
    /// and one daily digest each through the planner. The first 100 subscribers go through SubscriberStore.SaveAsync
    /// and the rest through one SQL insert; both are timed, so every run shows what the shortcut saves.
    /// </summary>
    private static async Task<ClusterSeed> SeedAsync(ClusterOptions o, string connection, string work, CancellationToken ct)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = nameof(StorageProvider.PostgreSql),
            ["Storage:ConnectionString"] = connection,
            ["Storage:Clustered"] = "true",
            ["Import:SamplesPath"] = "",
            ["Import:InboxPath"] = Path.Combine(work, "inbox"),
            ["Feeds:OutputPath"] = Path.Combine(work, "feeds"),
            ["Digests:SigningKey"] = "env:" + SigningKeyVariable,
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Syndicator"] = "Warning",
        };
        await using var app = SyndicatorHost.Build([], config => config.AddInMemoryCollection(settings));
        await app.Get<SchemaMigrator>().MigrateAsync(ct);
        var database = app.Get<Database>();

        var sw = Stopwatch.StartNew();
        var corpus = new Corpus(new BenchOptions { Articles = o.ArticlesPerDigest, Authors = 3, Tags = 10 });
        var rng = new Random(20_250_630);
        var now = DateTimeOffset.UtcNow;
        var drafts = Enumerable.Range(0, o.ArticlesPerDigest).Select(i => corpus.Draft(rng, corpus.Authors[i % corpus.Authors.Count].Name,
            [corpus.Tags[i % corpus.Tags.Count]], now.AddHours(-i - 1), $"cluster-bench-{i}.md")).ToList();
        var imported = await app.Get<ArticleImporter>().ImportDraftsAsync(drafts, ct);
        var articlesMs = sw.Elapsed.TotalMilliseconds;
        var importedAt = Stopwatch.StartNew();
        if (imported.Count(a => a.Change == ImportChange.Created) != o.ArticlesPerDigest)
            throw new InvalidOperationException($"The importer created {imported.Count(a => a.Change == ImportChange.Created)} of {o.ArticlesPerDigest} articles.");

        var planner = app.Get<DigestPlanner>();
        var coveredUntil = planner.FirstWatermark(DigestFrequency.Daily);
        var store = app.Get<SubscriberStore>();
        var viaService = Math.Min(100, o.Messages);
        sw.Restart();
        for (var i = 0; i < viaService; i++)
            await store.SaveAsync(Email(i), $"Reader {i}", DigestFrequency.Daily, "UTC", SubscriberState.Confirmed, [], [], coveredUntil, ct);
        var serviceMs = sw.Elapsed.TotalMilliseconds;

        // The same rows SaveAsync writes (no follows: every subscriber gets every article), in one statement.
        sw.Restart();
        var rest = Enumerable.Range(viaService, o.Messages - viaService).ToList();
        if (rest.Count > 0)
        {
            var stamp = DateTimeOffset.UtcNow.ToStoredPrecision();
            await using var c = await database.OpenAsync(ct);
            await c.ExecuteAsync(new CommandDefinition("""
                INSERT INTO subscribers (id, email, name, frequency, time_zone, state, hard_bounces, covered_until, created_at, confirmed_at)
                SELECT t.id, t.email, t.name, @frequency, 'UTC', @state, 0, @coveredUntil, @stamp, @stamp
                FROM unnest(@ids, @emails, @names) AS t(id, email, name)
                """, new
            {
                ids = rest.Select(_ => Guid.CreateVersion7(stamp).ToString()).ToArray(),
                emails = rest.Select(Email).ToArray(),
                names = rest.Select(i => $"Reader {i}").ToArray(),
                frequency = SubscriberStore.Column(DigestFrequency.Daily),
                state = SubscriberStore.Column(SubscriberState.Confirmed),
                coveredUntil = coveredUntil.ToStoredPrecision(),
                stamp,
            }, cancellationToken: ct));
        }
        var sqlMs = sw.Elapsed.TotalMilliseconds;

        // The planner takes articles imported at least five seconds ago (an import may still be committing).
        var settle = TimeSpan.FromSeconds(6) - importedAt.Elapsed;
        if (settle > TimeSpan.Zero) await Task.Delay(settle, ct);
        sw.Restart();
        var plan = await planner.PlanAsync(DigestFrequency.Daily, manual: false, ct);
        var planMs = sw.Elapsed.TotalMilliseconds;
        if (plan.Planned != o.Messages)
            throw new InvalidOperationException($"The planner planned {plan} for {o.Messages:N0} subscribers.");

        // Held back until every node is up, so the timing starts with all of them ready.
        await using (var c = await database.OpenAsync(ct))
            await c.ExecuteAsync(new CommandDefinition("UPDATE deliveries SET next_attempt_at = @later WHERE channel = @channel",
                new { later = DateTimeOffset.UtcNow.AddYears(1), channel = EmailChannel.ChannelName }, cancellationToken: ct));
        return new ClusterSeed(o.ArticlesPerDigest, articlesMs, viaService, serviceMs, rest.Count, sqlMs, planMs, plan.Planned);
    }

    private static string Email(int i) => $"reader{i:D6}@bench.example";

    private static async Task<DateTimeOffset> ReleaseAsync(string connection, CancellationToken ct)
    {
        var released = DateTimeOffset.UtcNow.ToStoredPrecision();
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("UPDATE deliveries SET next_attempt_at = @released WHERE channel = @channel",
            new { released, channel = EmailChannel.ChannelName }, cancellationToken: ct));
        return released;
    }

    private static async Task<Dictionary<string, long>> StatesAsync(string connection, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync(ct);
        var rows = await c.QueryAsync<(string State, long Count)>(new CommandDefinition(
            "SELECT state, COUNT(*) FROM deliveries WHERE channel = @channel GROUP BY state ORDER BY state", new { channel = EmailChannel.ChannelName }, cancellationToken: ct));
        return rows.ToDictionary(r => r.State, r => r.Count, StringComparer.Ordinal);
    }

    private static long Open(Dictionary<string, long> states) =>
        states.GetValueOrDefault("pending") + states.GetValueOrDefault("in-flight") + states.GetValueOrDefault("retry-wait");

    private static async Task<DateTimeOffset?> LastFinishedAsync(string connection, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync(ct);
        var value = await c.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
            "SELECT MAX(updated_at) FROM deliveries WHERE channel = @channel AND state IN ('sent', 'failed')", new { channel = EmailChannel.ChannelName }, cancellationToken: ct));
        return value is { } v ? BenchHost.ReadTime(v) : null;
    }

    /// <summary>Committed transactions in the database so far (pg_stat_database; its counters lag by up to half a second).</summary>
    private static async Task<long> TransactionsAsync(string connection, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("SELECT pg_stat_clear_snapshot()", cancellationToken: ct));
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()", cancellationToken: ct));
    }

    private static async Task<string> FirstErrorAsync(string connection, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync(ct);
        return await c.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT last_error FROM deliveries WHERE state = 'failed' ORDER BY id LIMIT 1", cancellationToken: ct)) ?? "(no error recorded)";
    }

    /// <summary>
    /// Who sent what: <c>deliveries.claimed_by</c> of the sent rows when the product keeps it; otherwise the "sent"
    /// counts the EmailSend job recorded per node in job_runs.
    /// </summary>
    private static async Task<(List<NodeShare>, string)> SharesAsync(string connection, List<ServiceNode> nodes, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync(ct);
        var byClaim = (await c.QueryAsync<(string? Node, long Count)>(new CommandDefinition(
            "SELECT claimed_by, COUNT(*) FROM deliveries WHERE channel = @channel AND state = 'sent' GROUP BY claimed_by",
            new { channel = EmailChannel.ChannelName }, cancellationToken: ct))).ToList();
        return (Attribute(byClaim.Select(r => (r.Node ?? "", r.Count)), nodes), "deliveries.claimed_by");
    }

    /// <summary>EmailSend job runs since the release that sent something, and how much they sent (the job's "sent" metric).</summary>
    private static async Task<(int Runs, long Sent)> EmailJobAsync(string connection, DateTimeOffset released, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync(ct);
        var metrics = await c.QueryAsync<string?>(new CommandDefinition(
            "SELECT metrics_json FROM job_runs WHERE job_name = @job AND started_at >= @released", new { job = JobCatalog.EmailSend, released }, cancellationToken: ct));
        int runs = 0;
        long sent = 0;
        foreach (var json in metrics)
        {
            if (string.IsNullOrEmpty(json)) continue;
            try
            {
                using var doc = JsonDocument.Parse(json);
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("sent", out var v) && v.TryGetInt64(out var n) && n > 0)
                {
                    runs++;
                    sent += n;
                }
            }
            catch (JsonException)
            {
            }
        }
        return (runs, sent);
    }

    /// <summary>Node names end in the process id (<c>host:pid</c> for claims, <c>host-pid</c> for Quartz instances).</summary>
    private static List<NodeShare> Attribute(IEnumerable<(string Node, long Count)> rows, List<ServiceNode> nodes)
    {
        var counts = nodes.ToDictionary(x => x.Pid, _ => 0L);
        foreach (var (node, count) in rows)
        {
            var tail = node[(node.LastIndexOfAny([':', '-']) + 1)..];
            if (int.TryParse(tail, NumberStyles.None, Inv, out var pid) && counts.ContainsKey(pid)) counts[pid] += count;
        }
        return nodes.Select(x => new NodeShare(x.Index, x.Pid, counts[x.Pid])).ToList();
    }

    // ---------------------------------------------------------------- the SMTP server alone
    /// <summary>
    /// The SMTP server's own ceiling: a real digest (the first one received) sent <paramref name="messages"/> times
    /// over <paramref name="connections"/> MailKit connections from this process, nothing else running, on sockets with
    /// TCP_NODELAY as the product opens them.
    /// </summary>
    private static async Task<SinkCalibration> CalibrateAsync(int messages, int connections, byte[] raw, string work, CancellationToken ct)
    {
        MimeMessage message;
        using (var stream = new MemoryStream(raw, writable: false)) message = await MimeMessage.LoadAsync(stream, ct);
        await using var sink = await SmtpSink.StartAsync(work, ct);
        Log($"calibration: {messages:N0} copies of a {raw.Length / 1024.0:N1} KB digest over {connections} connections straight to the SMTP server");
        var clients = new List<SmtpClient>();
        try
        {
            for (var i = 0; i < connections; i++)
            {
                var client = new SmtpClient();
                clients.Add(client);
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(IPAddress.Parse(sink.Host), sink.Port, ct);
                await client.ConnectAsync(socket, sink.Host, sink.Port, SecureSocketOptions.None, ct);
            }
            // A few messages first, so JIT and the server's first file writes are not in the timing.
            foreach (var client in clients) await client.SendAsync(message, ct);
            var cpu = Processes.CpuSeconds(sink.Pid);
            var next = -1;
            var sw = Stopwatch.StartNew();
            await Task.WhenAll(clients.Select(async client =>
            {
                while (Interlocked.Increment(ref next) < messages) await client.SendAsync(message, ct);
            }));
            var seconds = sw.Elapsed.TotalSeconds;
            var sinkCpu = 100 * (Processes.CpuSeconds(sink.Pid) - cpu) / seconds;
            foreach (var client in clients) await client.DisconnectAsync(true, ct);
            var result = new SinkCalibration(messages, connections, raw.Length, seconds, sinkCpu);
            Log($"calibration: {result.PerSecond:N0} messages/s, SMTP server at {sinkCpu:N0}% of one core");
            return result;
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    // ---------------------------------------------------------------- report
    private static void Print(ClusterOptions o, string command, List<ClusterRun> runs, List<SinkCalibration> calibrations, string? calibrationError, TimeSpan elapsed, string machine)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine($"## E-mail delivery with 1-{o.Nodes.Max()} nodes: {o.Messages:N0} digests");
        sb.AppendLine();
        sb.AppendLine($"`{command}` ({Environment.ProcessorCount} cores, .NET {Environment.Version}, {elapsed.TotalMinutes:N1} min in all; {machine})");
        sb.AppendLine();
        var baseline = runs.FirstOrDefault(r => r.Nodes == 1 && r.Error is null && r.Sent > 0);
        var rows = new List<string[]>
        {
            new[] { "nodes", "messages", "seconds", "messages/s", "speed-up vs 1 node", "per-node efficiency", "per-node share (sent)", "CPU % of one core: nodes / PostgreSQL / SMTP server; machine busy", "DB transactions per message" },
        };
        foreach (var r in runs)
        {
            var speedUp = baseline is null || r.Sent == 0 ? (double?)null : r.PerSecond / baseline.PerSecond;
            rows.Add([
                r.Nodes.ToString(Inv),
                r.Sent.ToString("N0", Inv) + (r.Failed > 0 ? $" (+{r.Failed:N0} failed)" : "") + (r.Unfinished > 0 ? $" ({r.Unfinished:N0} unsent)" : ""),
                r.Sent == 0 ? "-" : r.Seconds.ToString("N2", Inv),
                r.Sent == 0 ? "-" : r.PerSecond.ToString("N0", Inv),
                speedUp is { } s ? s.ToString("0.00x", Inv) : "-",
                speedUp is { } e ? (e / r.Nodes).ToString("P0", Inv) : "-",
                r.Sent == 0 || r.Shares.Sum(x => x.Sent) == 0 ? "-" : string.Join(" / ", r.Shares.Select(x => (x.Sent / (double)r.Shares.Sum(y => y.Sent)).ToString("P0", Inv))),
                r.Sent == 0 ? "-" : $"{r.NodesCpuPercent:N0} / {r.PostgresCpuPercent:N0} / {r.SinkCpuPercent:N0}; {r.MachineBusyPercent:N0}% of {Environment.ProcessorCount} cores",
                r.Sent == 0 ? "-" : (r.Transactions / (double)(r.Sent + r.Failed)).ToString("N1", Inv),
            ]);
        }
        Report.Table(sb, rows);
        sb.AppendLine();
        sb.AppendLine($"This machine has {Environment.ProcessorCount} cores, and PostgreSQL, the SMTP server and all N nodes share them: " +
                      "a second or third node gets no core of its own here, so these figures show what extra nodes add on one small machine, " +
                      "not how a cluster of separate machines scales.");
        sb.AppendLine();
        sb.AppendLine("Messages = deliveries sent; seconds = from releasing the due e-mails (every node answering /health) to the last delivery " +
                      "finishing (its updated_at); speed-up = messages/s over the 1-node run of this same invocation; efficiency = speed-up / nodes; " +
                      "share = each node's part of the sent e-mails, node 1 first; " +
                      "CPU = user+system time over the same interval (PostgreSQL: backends alive at the end, so a lower bound); " +
                      "DB transactions per message = committed and rolled back transactions in the run's database (pg_stat_database, read after the nodes " +
                      "stopped; including their idle polling and Quartz) divided by the deliveries finished.");
        sb.AppendLine();
        sb.AppendLine($"Sender: every node's own sender (Deliveries:PollSeconds=1), {o.Connections} SMTP connection(s) per node, Deliveries:BatchSize {(o.BatchSize?.ToString(Inv) ?? "default")}; " +
              $"the EmailSend job every {EmailJobSeconds(o)} s (a firing on a node whose own sender is busy steps aside; the product's default is 60 s, --email-job-seconds 60 measures that).");
        sb.AppendLine().AppendLine("EmailSend job runs that sent e-mail during the timing (beside the per-node senders): " +
                string.Join("; ", runs.Select(r => $"{r.Nodes} node(s): {r.JobRuns} run(s), {r.JobSent:N0} messages")) + ".");
        var shareSources = runs.Select(r => r.ShareSource).Where(s => s.Length > 0).Distinct().ToList();
        if (shareSources.Count > 0) sb.AppendLine().AppendLine("Per-node shares from: " + string.Join("; ", shareSources) + ".");

        if (calibrations.Count > 0)
        {
            sb.AppendLine();
            var fastest = runs.Where(r => r.Sent > 0).Select(r => r.PerSecond).DefaultIfEmpty(0).Max();
            var sink = calibrations[0];
            sb.AppendLine($"SMTP server alone (smtp_server.py, one Python process): {sink.Messages:N0} copies of a {sink.MessageBytes / 1024.0:N1} KB digest " +
                          $"over {sink.Connections} MailKit connections from this process, sockets opened as the product opens them (TCP_NODELAY): " +
                          $"{sink.PerSecond:N0} messages/s, {1000.0 * sink.Connections / sink.PerSecond:N1} ms per message per connection, the server at {sink.SinkCpuPercent:N0}% of one core.");
            if (sink.SinkCpuPercent > 0)
            {
                var ceiling = sink.PerSecond / (sink.SinkCpuPercent / 100);
                sb.AppendLine();
                sb.AppendLine($"The server costs about {1000.0 / ceiling:N2} ms of CPU per message, a ceiling near {ceiling:N0} messages/s on a free core; the fastest cluster run " +
                              $"reached {fastest / ceiling:P0} of that, so the server's per-message cost " + (fastest >= 0.7 * ceiling ? "dominates." : "does not dominate."));
            }
        }
        else if (calibrationError is not null) sb.AppendLine().AppendLine($"SMTP server calibration failed: {calibrationError}");

        var seeds = runs.Select(r => r.Seed).OfType<ClusterSeed>().ToList();
        if (seeds.Count > 0)
        {
            double PerSub(Func<ClusterSeed, double> ms, Func<ClusterSeed, int> count) => seeds.Sum(ms) / Math.Max(1, seeds.Sum(count));
            sb.AppendLine();
            sb.AppendLine($"Seeding (untimed for the table): subscribers through SubscriberStore.SaveAsync {PerSub(s => s.ServiceMs, s => s.ServiceSubscribers):N2} ms each " +
                          $"(the first {seeds[0].ServiceSubscribers:N0}), the rest by one SQL insert {PerSub(s => s.SqlMs, s => s.SqlSubscribers):N3} ms each; " +
                          $"DigestPlanner.PlanAsync {PerSub(s => s.PlanMs, s => s.Planned):N2} ms per digest ({seeds.Average(s => s.PlanMs) / 1000:N1} s for {seeds[0].Planned:N0}); " +
                          $"{seeds[0].Articles} articles per digest.");
        }
        foreach (var r in runs.Where(r => r.Error is not null || r.SinkDuplicates > 0 || (r.SinkMessages != r.Sent && r.Sent > 0)))
        {
            sb.AppendLine();
            if (r.Error is not null) sb.AppendLine($"{r.Nodes} node(s): ERROR: {r.Error}");
            if (r.SinkMessages != r.Sent) sb.AppendLine($"{r.Nodes} node(s): the SMTP server received {r.SinkMessages:N0} messages for {r.Sent:N0} sent deliveries.");
            if (r.SinkDuplicates > 0) sb.AppendLine($"{r.Nodes} node(s): {r.SinkDuplicates:N0} recipients got the digest more than once.");
        }
        Console.Out.Write(sb.ToString());
        Console.Out.Flush();
    }

    // ---------------------------------------------------------------- helpers
    private static string Ms(double ms) => ms.ToString(ms < 1 ? "N3" : "N2", Inv);

    private static List<int> FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            foreach (var l in listeners) l.Start();
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToList();
        }
        finally
        {
            foreach (var l in listeners) l.Stop();
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Syndicator.sln"))) return dir.FullName;
        throw new InvalidOperationException("Syndicator.sln not found above " + AppContext.BaseDirectory + "; run the benchmark from the repository.");
    }

    private static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "n/a"; }
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log($"could not delete {path}: {e.Message}");
        }
    }
}
