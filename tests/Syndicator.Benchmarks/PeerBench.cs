using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using Quartz;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Feeds;
using Syndicator.Hosting;
using Syndicator.Storage;

namespace Syndicator.Benchmarks;

/// <summary>One figure next to its peer's, measured in the same run: <see cref="Share"/> is Syndicator's rate as a share of the peer's.
/// <paramref name="PairedShare"/>, when given, is the share measured pair by pair (the median of several rounds' shares), which
/// the ratio of the two medians need not equal.</summary>
public sealed record PeerRow(string Area, string Figure, string Peer, double? PeerValue, double? Value, string Unit, bool HigherIsBetter, string Target, string? Note = null, double? PairedShare = null)
{
    public double? Share => PairedShare ?? (PeerValue is > 0 && Value is > 0 ? (HigherIsBetter ? Value / PeerValue : PeerValue / Value) : null);
}

/// <summary>
/// The verbs <c>mail|feeds|serve|latency|import|all</c>: each Syndicator figure beside a peer's on this machine in the
/// same run (Postfix's smtp-sink/smtp-source, Hugo, nginx with wrk, the one-row-per-file insert floor), a Markdown
/// table on stdout and a JSON summary. tests/Syndicator.Benchmarks/setup.sh installs the peers (Debian packages).
/// </summary>
public static class PeerBench
{
    public static readonly string[] Verbs = ["mail", "feeds", "serve", "latency", "import", "all"];
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private const string SigningKeyVariable = "SYN_PEER_BENCH_SIGNING_KEY";
    private const string TokenVariable = "SYN_PEER_BENCH_MASTODON_TOKEN";

    private sealed class Options
    {
        public string Verb = "all";
        public string Store = "sqlite";
        public int Messages = 10_000;
        public int Subscribers = 100_000;
        public int Articles = 20_000;
        public int ImportFiles = 10_000;
        public int Drops = 5;
        public int WrkSeconds = 5;
        public int WrkRounds = 5;
        public int MailRounds = 3;
        public bool ScanOnly = true;
        public bool HeapCheck = true;
        public bool PlanOnly;
        /// <summary>Hidden: run the scale run in this process (the parent starts a child with it).</summary>
        public bool ScaleHere;
        public bool Dkim = true;
        public string Json = Path.Combine(Path.GetTempPath(), "syndicator-bench-results.json");
    }

    private static void Log(string message) => Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} [{current}] {message}");
    private static string current = "bench";

    public static async Task<int> MainAsync(string[] args)
    {
        var o = new Options { Verb = args[0] };
        for (var i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--quick": o.Messages = 2_000; o.Subscribers = 5_000; o.Articles = 3_000; o.ImportFiles = 2_000; o.Drops = 3; o.WrkSeconds = 2; o.MailRounds = 1; break;
                case "--store": o.Store = Next(); break;
                case "--messages": o.Messages = int.Parse(Next(), Inv); break;
                case "--subscribers": o.Subscribers = int.Parse(Next(), Inv); break;
                case "--articles": o.Articles = int.Parse(Next(), Inv); break;
                case "--files": o.ImportFiles = int.Parse(Next(), Inv); break;
                case "--drops": o.Drops = int.Parse(Next(), Inv); break;
                case "--wrk-seconds": o.WrkSeconds = int.Parse(Next(), Inv); break;
                case "--wrk-rounds": o.WrkRounds = int.Parse(Next(), Inv); break;
                case "--mail-rounds": o.MailRounds = Math.Max(1, int.Parse(Next(), Inv)); break;
                case "--no-scan-baseline": o.ScanOnly = false; break;
                case "--no-heap-check": o.HeapCheck = false; break;
                case "--plan-only": o.PlanOnly = true; break;
                case "--scale-here": o.ScaleHere = true; break;
                case "--no-dkim": o.Dkim = false; break;
                case "--json": o.Json = Next(); break;
                default:
                    Console.Error.WriteLine($"Unknown option {args[i]}. Options: --quick --store sqlite|postgres|both --messages N (0: no peer runs) --subscribers N (0: no scale run) --plan-only (the scale run plans, does not send) --no-dkim (mail: skip the DKIM runs) --articles N --files N --drops N --wrk-seconds N --wrk-rounds N --mail-rounds N (mail: paired send runs per figure, default 3) --no-scan-baseline --no-heap-check --json FILE");
                    return 2;
            }
        }
        if (o.Store is not ("sqlite" or "postgres" or "both")) { Console.Error.WriteLine("--store takes sqlite, postgres or both."); return 2; }

        var tools = Tools.Find();
        Log($"peers: {string.Join(", ", tools.Paths.Select(p => $"{p.Key} {(p.Value ?? "MISSING")}"))}");
        if (tools.Missing.Count > 0)
            Log($"missing {string.Join(", ", tools.Missing)}: run tests/Syndicator.Benchmarks/setup.sh (Debian: apt-get install postfix hugo wrk nginx-light; pgbench comes with postgresql-15); their comparisons are skipped");

        var stores = o.Store == "both" ? new[] { StorageProvider.Sqlite, StorageProvider.PostgreSql } : [o.Store == "sqlite" ? StorageProvider.Sqlite : StorageProvider.PostgreSql];
        if (stores.Contains(StorageProvider.PostgreSql) && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Bench.PostgresVariable)))
        {
            Log($"PostgreSQL skipped: {Bench.PostgresVariable} is not set");
            stores = [StorageProvider.Sqlite];
        }
        var root = Path.Combine(Path.GetTempPath(), $"syndicator-peers-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        var rows = new List<PeerRow>();
        var started = Stopwatch.StartNew();
        var load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
        bool Want(string verb) => o.Verb == verb || o.Verb == "all";
        try
        {
            if (Want("latency")) rows.AddRange(await Step("latency", () => LatencyAsync(o, Path.Combine(root, "latency"))));
            if (Want("serve")) rows.AddRange(await Step("serve", () => ServeAsync(o, tools, Path.Combine(root, "serve"))));
            foreach (var store in stores)
            {
                if (Want("mail")) rows.AddRange(await Step("mail", () => MailAsync(o, tools, store, Path.Combine(root, $"mail-{store}"))));
                if (Want("import")) rows.AddRange(await Step("import", () => ImportAsync(o, store, Path.Combine(root, $"import-{store}"))));
                if (Want("feeds")) rows.AddRange(await Step("feeds", () => FeedsAsync(o, tools, store, Path.Combine(root, $"feeds-{store}"))));
            }
            rows.AddRange(StoreAgainstStore(rows));
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }

        var endLoad = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
        var command = "dotnet run -c Release --project tests/Syndicator.Benchmarks -- " + string.Join(' ', args);
        Console.WriteLine(Table(rows, command, $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, {started.Elapsed.TotalMinutes:N1} min; load average at start {load}, at end {endLoad}"));
        await File.WriteAllTextAsync(o.Json, JsonSerializer.Serialize(new
        {
            command,
            cores = Environment.ProcessorCount,
            missing = tools.Missing,
            rows = rows.Select(r => new { r.Area, r.Figure, r.Peer, r.PeerValue, r.Value, r.Unit, r.Share, r.Target, r.Note }),
        }, new JsonSerializerOptions { WriteIndented = true }));
        Log($"JSON summary written to {Path.GetFullPath(o.Json)}");
        return 0;
    }

    /// <summary>PostgreSQL's sending rate as a share of SQLite's (the target: within 80 %), for each figure both stores ran in this process.</summary>
    private static IEnumerable<PeerRow> StoreAgainstStore(IReadOnlyList<PeerRow> rows)
    {
        foreach (var sqlite in rows.Where(r => r.Area == "mail" && r.Peer == "smtp-source" && r.Figure.StartsWith("SQLite, ", StringComparison.Ordinal) && r.Value is not null).ToList())
        {
            var figure = sqlite.Figure["SQLite, ".Length..];
            if (rows.FirstOrDefault(r => r.Area == "mail" && r.Figure == "PostgreSQL, " + figure) is { Value: not null } postgres)
                yield return new PeerRow("mail", $"PostgreSQL against SQLite, {figure}", "SQLite", sqlite.Value, postgres.Value, "msg/s", true, "within 80 %", "each store's figure above");
        }
    }

    /// <summary>One comparison; a failure is a row saying so, never the end of the run.</summary>
    private static async Task<IReadOnlyList<PeerRow>> Step(string name, Func<Task<IReadOnlyList<PeerRow>>> run)
    {
        current = name;
        try { return await run(); }
        catch (Exception e)
        {
            Log($"{name} failed: {e}");
            return [new PeerRow(name, "FAILED", "", null, null, "", true, "", $"{e.GetType().Name}: {e.Message}")];
        }
    }

    public static string Table(IReadOnlyList<PeerRow> rows, string command, string machine)
    {
        var sb = new StringBuilder();
        sb.AppendLine().AppendLine($"## Syndicator against its peers").AppendLine().AppendLine($"`{command}` ({machine})").AppendLine();
        sb.AppendLine("| area | figure | peer | peer | Syndicator | share | target |");
        sb.AppendLine("| --- | --- | --- | ---: | ---: | ---: | --- |");
        foreach (var r in rows)
            sb.AppendLine($"| {r.Area} | {r.Figure} | {r.Peer} | {Fmt(r.PeerValue, r.Unit)} | {Fmt(r.Value, r.Unit)} | {(r.Share is { } s ? s.ToString("P0", Inv) : "-")} | {r.Target}{(r.Note is null ? "" : " (" + r.Note + ")")} |");
        return sb.ToString();
    }

    private static string Fmt(double? value, string unit) => value is { } v ? $"{v.ToString(v < 10 ? "N2" : "N0", Inv)} {unit}" : "-";

    // ---------------------------------------------------------------- the app
    private static WebApplication App(StorageProvider store, string connection, string work, Dictionary<string, string?>? extra = null)
    {
        var templates = Path.Combine(ClusterBench.RepoRoot, "config", "templates");
        if (Environment.GetEnvironmentVariable(SigningKeyVariable) is null)
            Environment.SetEnvironmentVariable(SigningKeyVariable, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = store.ToString(),
            ["Storage:ConnectionString"] = BenchHost.WithoutPassword(connection),
            ["Site:AllowLocalUrls"] = "true",
            ["Import:SamplesPath"] = "",
            ["Import:InboxPath"] = Path.Combine(work, "inbox"),
            ["Feeds:OutputPath"] = Path.Combine(work, "feeds"),
            ["Digests:TemplatesPath"] = templates,
            ["Announcements:TemplatesPath"] = templates,
            ["Digests:SigningKey"] = "env:" + SigningKeyVariable,
            ["Digests:PickupPath"] = Path.Combine(work, "pickup"),
            ["Http:Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Syndicator"] = "Warning",
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        return SyndicatorHost.Build([], config => config.AddInMemoryCollection(settings));
    }

    /// <summary>A fresh database: a SQLite file in <paramref name="work"/>, or a new PostgreSQL database (dropped by the returned callback).</summary>
    private static async Task<(string Connection, Func<Task> Drop)> FreshDatabaseAsync(StorageProvider store, string work)
    {
        Directory.CreateDirectory(work);
        if (store == StorageProvider.Sqlite) return ($"Data Source={Path.Combine(work, "bench.db")}", () => { SqliteConnection.ClearAllPools(); return Task.CompletedTask; });
        var admin = Environment.GetEnvironmentVariable(Bench.PostgresVariable)!;
        var name = $"syn_peer_{Guid.NewGuid():N}"[..24];
        await using (var c = new NpgsqlConnection(admin)) { await c.OpenAsync(); await c.ExecuteAsync($"CREATE DATABASE {name}"); }
        // The service refuses a password inside Storage:ConnectionString; it reaches Npgsql through PGPASSWORD instead.
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        if (builder.Password is { Length: > 0 } password) Environment.SetEnvironmentVariable("PGPASSWORD", password);
        builder.Password = null;
        var connection = builder.ConnectionString;
        return (connection, async () =>
        {
            NpgsqlConnection.ClearAllPools();
            await using var c = new NpgsqlConnection(admin);
            await c.OpenAsync();
            await c.ExecuteAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        });
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task StartedAsync(WebApplication app)
    {
        await app.StartAsync();
        var scheduler = await app.Get<ISchedulerFactory>().GetScheduler();
        for (var i = 0; i < 200 && scheduler.Status != SchedulerStatus.Running; i++) await Task.Delay(50);
    }

    // ---------------------------------------------------------------- latency
    /// <summary>
    /// The service started with its default schedules and a Mastodon account on a loopback server; files dropped one
    /// at a time into the inbox: time until the site feed carries the title, and until the first status request.
    /// </summary>
    private static async Task<IReadOnlyList<PeerRow>> LatencyAsync(Options o, string work)
    {
        var rows = new List<PeerRow>();
        var watched = await DropsAsync(o, Path.Combine(work, "watched"), watcher: true);
        (List<double> Feed, List<double> Post)? scan = o.ScanOnly ? await DropsAsync(o, Path.Combine(work, "scan"), watcher: false) : null;
        rows.Add(new PeerRow("latency", "drop to site feed, median (max)", "scan only (watcher off)", scan is null ? null : Median(scan.Value.Feed), Median(watched.Feed), "s", false,
            "< 2 s", $"max {watched.Feed.Max():N2} s{(scan is null ? "" : $" vs {scan.Value.Feed.Max():N2} s")}"));
        rows.Add(new PeerRow("latency", "drop to first announcement request, median (max)", "scan only (watcher off)", scan is null ? null : Median(scan.Value.Post), Median(watched.Post), "s", false,
            "< 5 s", $"max {watched.Post.Max():N2} s{(scan is null ? "" : $" vs {scan.Value.Post.Max():N2} s")}"));
        return rows;
    }

    private static async Task<(List<double> Feed, List<double> Post)> DropsAsync(Options o, string work, bool watcher)
    {
        var (connection, drop) = await FreshDatabaseAsync(StorageProvider.Sqlite, work);
        var posts = new List<(long At, string Body)>();
        var mastodon = WebApplication.CreateSlimBuilder();
        mastodon.WebHost.UseUrls("http://127.0.0.1:0");
        mastodon.Logging.ClearProviders();
        await using var server = mastodon.Build();
        var id = 0;
        server.MapPost("/api/v1/statuses", async (HttpRequest request) =>
        {
            var body = await new StreamReader(request.Body).ReadToEndAsync();
            lock (posts) posts.Add((Stopwatch.GetTimestamp(), body));
            return Results.Json(new { id = Interlocked.Increment(ref id).ToString(Inv), url = $"https://mastodon.example/@bench/{id}" });
        });
        await server.StartAsync();
        Environment.SetEnvironmentVariable(TokenVariable, "bench-token");
        var extra = new Dictionary<string, string?>
        {
            ["Announcements:Accounts:0:Name"] = "bench",
            ["Announcements:Accounts:0:Network"] = "Mastodon",
            ["Announcements:Accounts:0:BaseUrl"] = server.Urls.First(),
            ["Announcements:Accounts:0:Credentials:AccessToken"] = "env:" + TokenVariable,
        };
        if (!watcher) extra["Import:WatchQuietMilliseconds"] = "0";
        await using var app = App(StorageProvider.Sqlite, connection, work, extra);
        await app.Get<SchemaMigrator>().MigrateAsync(CancellationToken.None);
        await StartedAsync(app);
        var inbox = app.Get<ArticleFiles>().InboxPath;
        Directory.CreateDirectory(inbox);
        var siteFeed = Path.Combine(app.Get<FeedBuilder>().Output.Root, FeedScope.Site.Folder, FeedPaths.Rss);
        await Task.Delay(3000); // the jobs' first runs at start are over
        var feedTimes = new List<double>();
        var postTimes = new List<double>();
        var rng = new Random(7);
        for (var i = 0; i < o.Drops; i++)
        {
            var title = $"Latency probe {i} {Guid.NewGuid():N}"[..40];
            // Dropped at a random point of the scan interval, as a publisher would.
            await Task.Delay(rng.Next(watcher ? 500 : 15_000));
            var t0 = Stopwatch.GetTimestamp();
            await File.WriteAllTextAsync(Path.Combine(inbox, $"probe-{i}.txt"), $"{title}\n\nA paragraph of the latency probe.\n");
            double? feedAt = null, postAt = null;
            while (feedAt is null || postAt is null)
            {
                var elapsed = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (elapsed > 120) throw new TimeoutException($"probe {i} not in the feed/posted after 120 s (feed {feedAt}, post {postAt})");
                if (feedAt is null)
                {
                    try { if (File.Exists(siteFeed) && (await File.ReadAllTextAsync(siteFeed)).Contains(title, StringComparison.Ordinal)) feedAt = elapsed; }
                    catch (IOException) { }
                }
                if (postAt is null)
                    lock (posts)
                        if (posts.FirstOrDefault(p => p.Body.Contains(title, StringComparison.Ordinal)) is { Body: not null } hit)
                            postAt = Stopwatch.GetElapsedTime(t0, hit.At).TotalSeconds;
                await Task.Delay(10);
            }
            feedTimes.Add(feedAt.Value);
            postTimes.Add(postAt.Value);
            Log($"{(watcher ? "watched" : "scan only")}: probe {i} in the feed after {feedAt:N2} s, posted after {postAt:N2} s");
        }
        await app.StopAsync();
        await server.StopAsync();
        await drop();
        return (feedTimes, postTimes);
    }

    private static double? Median(IEnumerable<double> values)
    {
        var list = values.ToList();
        return list.Count == 0 ? null : Median(list);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    // ---------------------------------------------------------------- serve
    /// <summary>The site feed of a built corpus, served by the running service and by nginx from the same folder; wrk -t2 -c32 against each.</summary>
    private static async Task<IReadOnlyList<PeerRow>> ServeAsync(Options o, Tools tools, string work)
    {
        var (connection, drop) = await FreshDatabaseAsync(StorageProvider.Sqlite, work);
        var port = FreePort();
        // The service as shipped: appsettings.json's log levels (Information, Microsoft.AspNetCore at Warning) and its default feed cache.
        await using var app = App(StorageProvider.Sqlite, connection, work, new()
        {
            ["Http:Urls"] = $"http://127.0.0.1:{port}",
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Syndicator"] = "Information",
        });
        await app.Get<SchemaMigrator>().MigrateAsync(CancellationToken.None);
        var corpus = new Corpus(new BenchOptions { Articles = 2_000, Authors = 20, Tags = 10 });
        await Loaders.SqliteAsync(app.Get<Database>().ConnectionString, corpus, CancellationToken.None);
        var builder = app.Get<FeedBuilder>();
        await builder.BuildAsync(full: true, null, CancellationToken.None);
        var feeds = builder.Output.Root;
        var file = Path.Combine(feeds, FeedScope.Site.Folder, FeedPaths.Rss);
        var size = new FileInfo(file).Length;
        await using (var gz = new GZipStream(File.Create(file + ".gz"), CompressionLevel.SmallestSize)) await gz.WriteAsync(await File.ReadAllBytesAsync(file));
        File.SetLastWriteTimeUtc(file + ".gz", File.GetLastWriteTimeUtc(file));
        await StartedAsync(app);
        var path = $"/feeds/{FeedScope.Site.Folder}/{FeedPaths.Rss}";
        var ours = $"http://127.0.0.1:{port}{path}";
        Log($"serving {file} ({size / 1024.0:N0} KB) at {ours}");

        Process? nginx = null;
        string? theirs = null;
        if (tools.Paths["nginx"] is { } nginxPath && tools.Paths["wrk"] is not null)
        {
            var nport = FreePort();
            var conf = Path.Combine(work, "nginx.conf");
            Directory.CreateDirectory(Path.Combine(work, "nginx"));
            await File.WriteAllTextAsync(conf, $$"""
                worker_processes {{Environment.ProcessorCount}};
                daemon off;
                pid {{work}}/nginx.pid;
                error_log {{work}}/nginx-error.log;
                events { worker_connections 1024; }
                http {
                    access_log off;
                    sendfile on;
                    tcp_nopush on;
                    types { application/rss+xml xml; }
                    client_body_temp_path {{work}}/nginx;
                    proxy_temp_path {{work}}/nginx;
                    fastcgi_temp_path {{work}}/nginx;
                    uwsgi_temp_path {{work}}/nginx;
                    scgi_temp_path {{work}}/nginx;
                    server {
                        listen 127.0.0.1:{{nport}};
                        location /feeds/ { alias {{feeds}}/; gzip_static on; }
                    }
                }
                """);
            nginx = Process.Start(new ProcessStartInfo(nginxPath, ["-p", work, "-c", conf]) { RedirectStandardError = true, RedirectStandardOutput = true });
            theirs = $"http://127.0.0.1:{nport}{path}";
            await Task.Delay(500);
        }
        // The floor: Kestrel alone, in this process, answering the same bytes from memory with nothing in front of it;
        // what nginx does better than this is Kestrel's, what this does better than the service is ours.
        var floorPort = FreePort();
        await using var floor = await BareKestrelAsync(floorPort, await File.ReadAllBytesAsync(file), await File.ReadAllBytesAsync(file + ".gz"));
        var bare = $"http://127.0.0.1:{floorPort}{path}";
        var rows = new List<PeerRow>();
        try
        {
            using var http = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
            async Task<string> ETag(string url, string? encoding)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                if (encoding is not null) request.Headers.TryAddWithoutValidation("Accept-Encoding", encoding);
                using var response = await http.SendAsync(request);
                response.EnsureSuccessStatusCode();
                return response.Headers.ETag?.ToString() ?? throw new InvalidOperationException($"{url} sent no ETag");
            }
            // A service that just started runs its first jobs and tiers their code up for a minute or so; nginx has
            // nothing of the kind. Wait (at most a minute) until the process idles below 50 ms of CPU per second.
            for (var waited = 0; waited < 60; waited++)
            {
                var from = Process.GetCurrentProcess().TotalProcessorTime;
                await Task.Delay(TimeSpan.FromSeconds(1));
                var busy = Process.GetCurrentProcess().TotalProcessorTime - from;
                if (busy < TimeSpan.FromMilliseconds(50)) { Log($"service idle ({busy.TotalMilliseconds:N0} ms of CPU in a second) after {waited + 1} s"); break; }
            }
            foreach (var (figure, encoding, conditional, target) in new[]
                     { ($"plain 200s ({size / 1024.0:N0} KB rss.xml)", (string?)null, false, "≥ 60 %"), ("gzip 200s (nginx: gzip_static)", "gzip", false, "≥ 80 %"), ("304s (If-None-Match)", null, true, "≥ 80 %") })
            {
                var ourHeaders = new List<string>();
                var theirHeaders = new List<string>();
                if (encoding is not null) { ourHeaders.Add($"Accept-Encoding: {encoding}"); theirHeaders.Add($"Accept-Encoding: {encoding}"); }
                if (conditional)
                {
                    ourHeaders.Add($"If-None-Match: {await ETag(ours, null)}");
                    if (theirs is not null) theirHeaders.Add($"If-None-Match: {await ETag(theirs, null)}");
                }
                var floorHeaders = conditional ? [$"If-None-Match: {BareETag}"] : ourHeaders.ToList();
                // One-second runs of each first, not counted: JIT tiering and the first reads and compressions are not what is
                // compared. For a few seconds after its first requests the service keeps busy with none (a second after the
                // first warm-up it still burned 250-400 ms of CPU; tiering, most likely), so ours is warmed until a quiet
                // second after a warm-up shows it done, as in a service that has run for hours.
                if (theirs is not null) await WrkAsync(tools, theirs, theirHeaders, 1);
                for (var round = 1; round <= 8 && tools.Paths["wrk"] is not null; round++)
                {
                    await WrkAsync(tools, ours, ourHeaders, 1);
                    await WrkAsync(tools, bare, floorHeaders, 1);
                    var quiet = await IdleCpuAsync();
                    Log($"warm-up {round}: {quiet.TotalMilliseconds:N0} ms of CPU in the second after it");
                    if (quiet < TimeSpan.FromMilliseconds(50)) break;
                }
                // The process also runs the scheduled jobs (and, in its first minute, the JIT tiering their code up): what
                // it burns in a second with no request is taken off, so the figure is the serving's own.
                var idlePerSecond = await IdleCpuAsync();
                // Paired rounds, nginx and the service back to back and in turns (nginx first in odd rounds, last in even
                // ones), the floor after each pair: one long run of each had nginx and the service minutes apart, and what
                // else ran on this 2-core machine in between moved one side's figure alone (the same build's gzip share went
                // 60-98 % across runs). The share is the median of the rounds' own shares, each taken from runs seconds apart.
                var peerRuns = new List<WrkResult>();
                var ourRuns = new List<WrkResult>();
                var floorRuns = new List<WrkResult>();
                TimeSpan nginxCpu = TimeSpan.Zero, ourCpu = TimeSpan.Zero, floorCpu = TimeSpan.Zero;
                for (var round = 0; round < o.WrkRounds && tools.Paths["wrk"] is not null; round++)
                {
                    async Task Nginx()
                    {
                        if (theirs is null || nginx is null) return;
                        var from = ProcessTreeCpu(nginx.Id);
                        var run = await WrkAsync(tools, theirs, theirHeaders, o.WrkSeconds);
                        if (run is not null && from is not null && ProcessTreeCpu(nginx.Id) is { } to) { peerRuns.Add(run); nginxCpu += to - from.Value; }
                    }
                    async Task Ours()
                    {
                        var from = Process.GetCurrentProcess().TotalProcessorTime;
                        var run = await WrkAsync(tools, ours, ourHeaders, o.WrkSeconds);
                        if (run is not null) { ourRuns.Add(run); ourCpu += Process.GetCurrentProcess().TotalProcessorTime - from; }
                    }
                    if (round % 2 == 0) { await Nginx(); await Ours(); }
                    else { await Ours(); await Nginx(); }
                    var floorFrom = Process.GetCurrentProcess().TotalProcessorTime;
                    if (await WrkAsync(tools, bare, floorHeaders, o.WrkSeconds) is { } floorRun) { floorRuns.Add(floorRun); floorCpu += Process.GetCurrentProcess().TotalProcessorTime - floorFrom; }
                }
                var ourSeconds = ourRuns.Count * o.WrkSeconds;
                var ourServingCpu = ourCpu - idlePerSecond * ourSeconds;
                floorCpu -= idlePerSecond * floorRuns.Count * o.WrkSeconds;
                var paired = peerRuns.Count == ourRuns.Count ? peerRuns.Zip(ourRuns, (p, m) => m.PerSecond / p.PerSecond).ToList() : [];
                var peerRate = Median(peerRuns.Select(r => r.PerSecond));
                var ourRate = Median(ourRuns.Select(r => r.PerSecond));
                var floorRate = Median(floorRuns.Select(r => r.PerSecond));
                var pairedNote = paired.Count == 0 ? null
                    : $"median of {paired.Count} paired rounds of {o.WrkSeconds} s: {Median(paired):P0} (rounds {paired.Min():P0}-{paired.Max():P0}); rates are each side's median";
                rows.Add(new PeerRow("serve", figure, "nginx 1.22 (sendfile)", peerRate, ourRate, "req/s", true, target,
                    tools.Paths["wrk"] is null ? "wrk missing" : pairedNote, paired.Count == 0 ? null : Median(paired)));
                // Throughput on a shared machine depends on what else runs; CPU spent per request hardly does.
                var peerRequests = peerRuns.Sum(r => r.Requests);
                var ourRequests = ourRuns.Sum(r => r.Requests);
                var floorRequests = floorRuns.Sum(r => r.Requests);
                rows.Add(new PeerRow("serve", $"{figure}: server CPU per request", "nginx 1.22 (sendfile)",
                    peerRequests > 0 ? nginxCpu.TotalMicroseconds / peerRequests : null,
                    ourRequests > 0 ? ourCpu.TotalMicroseconds / ourRequests : null, "µs", false, target,
                    "nginx: master and workers; Syndicator: its whole process (jobs and JIT included)"));
                rows.Add(new PeerRow("serve", $"{figure}: server CPU per request, idle subtracted", "nginx 1.22 (sendfile)",
                    peerRequests > 0 ? nginxCpu.TotalMicroseconds / peerRequests : null,
                    ourRequests > 0 && ourServingCpu > TimeSpan.Zero ? ourServingCpu.TotalMicroseconds / ourRequests : null, "µs", false, target,
                    $"Syndicator's process at {idlePerSecond.TotalMilliseconds:N0} ms of CPU per second with no request"));
                rows.Add(new PeerRow("serve", $"{figure}: floor, bare Kestrel answering the same bytes from memory", "nginx 1.22 (sendfile)", peerRate, floorRate, "req/s", true, target,
                    floorRequests > 0 ? $"{floorCpu.TotalMicroseconds / floorRequests:N0} µs CPU per request, idle subtracted; Syndicator at {(ourRate / floorRate):P0} of it" : null));
            }
            if (o.HeapCheck) rows.Add(await ServeEveryFileAsync(http, $"http://127.0.0.1:{port}", feeds));
        }
        finally
        {
            if (nginx is { HasExited: false }) { nginx.Kill(entireProcessTree: true); await nginx.WaitForExitAsync(); }
            await app.StopAsync();
            await drop();
        }
        return rows;
    }

    /// <summary>The CPU this process spends in one second with no request.</summary>
    private static async Task<TimeSpan> IdleCpuAsync()
    {
        var from = Process.GetCurrentProcess().TotalProcessorTime;
        await Task.Delay(TimeSpan.FromSeconds(1));
        return Process.GetCurrentProcess().TotalProcessorTime - from;
    }

    private const string BareETag = "\"floor\"";

    /// <summary>
    /// Kestrel with nothing in front of it (no routing, host filtering or headers beyond the validators): one handler
    /// that answers a 304 on <see cref="BareETag"/>, else the gzip or the plain bytes in one write, as the service does.
    /// </summary>
    private static async Task<WebApplication> BareKestrelAsync(int port, byte[] plain, byte[] gzip)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.AddServerHeader = false);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.Run(Answer);
        await app.StartAsync();
        return app;

        Task Answer(HttpContext context)
        {
            var response = context.Response;
            response.Headers.ETag = BareETag;
            if (context.Request.Headers.IfNoneMatch == BareETag)
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return Task.CompletedTask;
            }
            var gz = context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.Ordinal);
            var body = gz ? gzip : plain;
            response.ContentType = "application/rss+xml";
            if (gz) response.Headers.ContentEncoding = "gzip";
            response.ContentLength = body.Length;
            return response.BodyWriter.WriteAsync(body).AsTask();
        }
    }

    /// <summary>
    /// Memory bounded whatever the number of files: every file of the built folder fetched plain, gzip and brotli (more
    /// than the feed cache holds), then the managed heap after a full collection against the heap before.
    /// </summary>
    private static async Task<PeerRow> ServeEveryFileAsync(HttpClient http, string baseUrl, string feeds)
    {
        var files = Directory.EnumerateFiles(feeds, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".gz", StringComparison.Ordinal)).ToList();
        var bytes = files.Sum(f => new FileInfo(f).Length);
        var before = HeapMegabytes();
        var peak = before;
        foreach (var encoding in new[] { "identity", "gzip", "br" })
        {
            foreach (var file in files)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, baseUrl + "/feeds/" + Path.GetRelativePath(feeds, file).Replace(Path.DirectorySeparatorChar, '/'));
                request.Headers.TryAddWithoutValidation("Accept-Encoding", encoding);
                using var response = await http.SendAsync(request);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            }
            peak = Math.Max(peak, HeapMegabytes());
        }
        var after = HeapMegabytes();
        Log($"every file ({files.Count:N0}, {bytes / 1048576.0:N0} MB) plain, gzip and br: heap {before:N0} MB before, {after:N0} MB after, {peak:N0} MB at most; working set {Environment.WorkingSet / 1048576.0:N0} MB");
        return new PeerRow("serve", $"heap after serving all {files.Count:N0} files ({bytes / 1048576.0:N0} MB) 3 ways", "heap before", before, after, "MB", false,
            "≤ before + 64 (Http:FeedCacheMegabytes)", $"{peak:N0} MB at most between passes");

        static double HeapMegabytes()
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            return GC.GetTotalMemory(forceFullCollection: true) / 1048576.0;
        }
    }

    private sealed record WrkResult(double PerSecond, long Requests);

    private static async Task<WrkResult?> WrkAsync(Tools tools, string url, List<string> headers, int seconds)
    {
        var args = new List<string> { "-t2", "-c32", $"-d{seconds}s" };
        foreach (var h in headers) { args.Add("-H"); args.Add(h); }
        args.Add(url);
        var (code, output) = await RunAsync(tools.Paths["wrk"]!, args);
        var lines = output.Split('\n');
        var line = lines.FirstOrDefault(l => l.StartsWith("Requests/sec:", StringComparison.Ordinal));
        var total = lines.FirstOrDefault(l => l.Contains(" requests in ", StringComparison.Ordinal));
        var non2xx = lines.FirstOrDefault(l => l.Contains("Non-2xx", StringComparison.Ordinal));
        if (non2xx is not null && !headers.Any(h => h.StartsWith("If-None-Match", StringComparison.Ordinal))) Log($"wrk {url}: {non2xx.Trim()}");
        Log($"wrk {string.Join(' ', headers)} {url}: {line?.Trim() ?? output}");
        return code == 0 && line is not null && total is not null
            ? new WrkResult(double.Parse(line["Requests/sec:".Length..].Trim(), Inv), long.Parse(total.Trim().Split(' ')[0], Inv))
            : null;
    }

    /// <summary>User and system CPU of a process and its children (nginx's master and workers), from /proc; null where /proc is not there.</summary>
    private static TimeSpan? ProcessTreeCpu(int root)
    {
        if (!Directory.Exists("/proc")) return null;
        const double TicksPerSecond = 100; // USER_HZ, 100 on every Linux this runs on
        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); }
            catch (IOException) { continue; } // gone meanwhile
            // After the ")" that ends the command name: state, ppid, ... utime is field 14 and stime 15 of the whole line.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (pid != root && int.Parse(fields[1], Inv) != root) continue;
            ticks += long.Parse(fields[11], Inv) + long.Parse(fields[12], Inv);
        }
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> args, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    // ---------------------------------------------------------------- mail
    /// <summary>
    /// N confirmed daily subscribers, one digest each planned by the real planner and sent by the real worker and
    /// e-mail channel (MailKit) to Postfix's smtp-sink, over 1 and 4 connections, without and with DKIM; against
    /// smtp-source sending as many messages of the same size to the same sink right after. Then the scale run:
    /// --subscribers digests planned (timed) and sent over 4 connections with the working set sampled throughout.
    /// </summary>
    private static async Task<IReadOnlyList<PeerRow>> MailAsync(Options o, Tools tools, StorageProvider store, string work)
    {
        if (tools.Paths["smtp-sink"] is not { } sinkPath) return [new PeerRow("mail", "e-mail", "smtp-source", null, null, "msg/s", true, "", "smtp-sink missing: run setup.sh")];
        var rows = new List<PeerRow>();
        var storeName = store == StorageProvider.Sqlite ? "SQLite" : "PostgreSQL";
        var plain = new Dictionary<int, double>();
        if (o.Messages > 0)
        {
            // A service sends its digests day after day in one process: the timed runs measure that steady state, so
            // the JIT (a fifth of the process's CPU in a cold 2,000-message run) is paid here first, and reported. Over
            // one connection and then four: lanes that contend take paths one lane never does (a tenth of the process's
            // CPU in a four-connection run after the one-connection warm-up alone was the JIT compiling them).
            foreach (var (connections, dkim) in new[] { (1, false), (4, false), (1, true), (4, true) }.Where(r => o.Dkim || !r.Item2))
            {
                var run = Path.Combine(work, $"warm-up-c{connections}{(dkim ? "-dkim" : "")}");
                await using var sink = await SinkAsync(sinkPath);
                var (connection, drop) = await FreshDatabaseAsync(store, run);
                try
                {
                    var result = await SendDigestsAsync(store, connection, run, sink.Port, connections, dkim, Math.Min(o.Messages, 1_000));
                    if (!dkim)
                        rows.Add(new PeerRow("mail", $"{storeName}, {(connections == 1 ? "first run in a fresh process (JIT)" : "then the first run")}, {connections} connection(s), {result.Sent:N0} digests", "", null,
                            result.Sent / result.SendSeconds, "msg/s", false, "", $"{result.CpuMicrosecondsPerMessage:N0} µs CPU per message; not timed below"));
                }
                finally { await drop(); }
            }
        }
        foreach (var (connections, dkim) in o.Messages > 0 ? new[] { (1, false), (4, false), (1, true), (4, true) }.Where(r => o.Dkim || !r.Item2) : [])
        {
            // Several rounds, each a send and smtp-source right after on the same sink: on this shared two-core machine
            // one run of the same build ranged 2,198-3,434 msg/s in an afternoon, so each figure is a median, with the
            // rounds beside it.
            var rounds = new List<(SendResult Result, double Rate, double? Peer)>();
            for (var round = 1; round <= o.MailRounds; round++)
            {
                var run = Path.Combine(work, $"c{connections}{(dkim ? "-dkim" : "")}-r{round}");
                await using var sink = await SinkAsync(sinkPath);
                var (connection, drop) = await FreshDatabaseAsync(store, run);
                try
                {
                    var result = await SendDigestsAsync(store, connection, run, sink.Port, connections, dkim, o.Messages);
                    rounds.Add((result, result.Sent / result.SendSeconds, await SmtpSourceAsync(tools, sink.Port, connections, o.Messages, result.MessageBytes)));
                }
                finally { await drop(); }
            }
            var rate = Median(rounds.Select(r => r.Rate))!.Value;
            var peer = Median(rounds.Where(r => r.Peer is not null).Select(r => r.Peer!.Value));
            var cpu = Median(rounds.Select(r => r.Result.CpuMicrosecondsPerMessage))!.Value;
            var paired = rounds.Where(r => r.Peer is > 0).Select(r => r.Rate / r.Peer!.Value).ToList();
            var each = rounds.Count == 1 ? "" : $"; medians of {rounds.Count} paired rounds: {string.Join(" / ", rounds.Select(r => $"{r.Rate:N0}"))} msg/s against smtp-source {string.Join(" / ", rounds.Select(r => r.Peer is { } p ? $"{p:N0}" : "-"))}";
            var bytes = rounds[0].Result.MessageBytes;
            var endToEnd = Median(rounds.Select(r => r.Result.Sent / (r.Result.PlanSeconds + r.Result.SendSeconds)))!.Value;
            var planning = Median(rounds.Select(r => r.Result.PlanSeconds))!.Value;
            if (!dkim)
            {
                plain[connections] = rate;
                rows.Add(new PeerRow("mail", $"{storeName}, {connections} connection(s), {o.Messages:N0} digests of {bytes / 1024.0:N1} KB, sending", "smtp-source", peer,
                    rate, "msg/s", true, connections == 1 ? "≥ 40 %, ≥ 800/s" : "≥ 25 %, ≥ 2,500/s",
                    $"{cpu:N0} µs CPU per message; end to end with planning {endToEnd:N0} msg/s; planning {planning:N1} s{each}",
                    paired.Count > 1 ? Median(paired) : null));
            }
            else
            {
                var cost = plain.TryGetValue(connections, out var without) ? $"DKIM costs {1 - rate / without:P0} of the rate; {cpu:N0} µs CPU per message{each}" : each;
                rows.Add(new PeerRow("mail", $"{storeName}, {connections} connection(s), with DKIM (RSA 2048, relaxed/relaxed)", "smtp-source", peer,
                    rate, "msg/s", true, "report the cost", cost, paired.Count > 1 ? Median(paired) : null));
            }
        }
        if (o.Subscribers > 0)
            rows.AddRange(o.ScaleHere ? await ScaleAsync(o, sinkPath, store, storeName, Path.Combine(work, "scale")) : await ScaleInChildAsync(o, store, work));
        if (store == StorageProvider.PostgreSql && o.Messages > 0 && !o.ScaleHere) rows.AddRange(await Step("mail", () => CommitFloorAsync(tools, Path.Combine(work, "floor"))));
        return rows;
    }

    /// <summary>Rows the floor table holds; a write picks one at random.</summary>
    private const int FloorRows = 1_000;

    private static readonly TimeSpan FloorTime = TimeSpan.FromSeconds(5);

    /// <summary>
    /// What PostgreSQL's e-mail rate cannot go below in cost: every message's hand-over mark is one committed write
    /// before the end of its data (exactly once), shared only among the lanes whose messages reach that point together.
    /// Here that write alone, a one-row UPDATE by primary key that changes no indexed column (as a hand-over mark), with
    /// its commit, on connections set up as the service's (<see cref="Database.FromOptions"/>: synchronous_commit off,
    /// statements kept prepared), timed in machine CPU per write: Npgsql, the service's client, against pgbench (libpq,
    /// prepared) running the same statement on the same rows, over one connection and four. The machine's CPU, not the
    /// process's: the server shares this machine's cores with the service, as it does in the e-mail runs above.
    /// </summary>
    private static async Task<IReadOnlyList<PeerRow>> CommitFloorAsync(Tools tools, string work)
    {
        var (connection, drop) = await FreshDatabaseAsync(StorageProvider.PostgreSql, work);
        try
        {
            var database = Database.FromOptions(new StorageOptions { Provider = StorageProvider.PostgreSql, ConnectionString = connection }, work);
            await using (var c = await database.OpenAsync(CancellationToken.None))
            {
                await c.ExecuteAsync($"""
                    CREATE TABLE mark_floor (id bigint PRIMARY KEY, state text NOT NULL, handed_over_at timestamptz, remote_id text, lease_expires_at timestamptz, updated_at timestamptz);
                    INSERT INTO mark_floor (id, state) SELECT g, 'in-flight' FROM generate_series(1, {FloorRows}) g;
                    """);
                await c.ExecuteAsync("VACUUM ANALYZE mark_floor");
            }
            const string update = "UPDATE mark_floor SET handed_over_at = now(), remote_id = 'floor', lease_expires_at = now(), updated_at = now() WHERE id = {0} AND state = 'in-flight' RETURNING id";
            var script = Path.Combine(work, "floor.sql");
            await File.WriteAllTextAsync(script, $"\\set id random(1, {FloorRows})\n{string.Format(Inv, update, ":id")};\n");
            var rows = new List<PeerRow>();
            foreach (var clients in new[] { 1, 4 })
            {
                await NpgsqlWritesAsync(database.ConnectionString, string.Format(Inv, update, "$1"), clients, TimeSpan.FromSeconds(1)); // the JIT's run, untimed
                var ours = await NpgsqlWritesAsync(database.ConnectionString, string.Format(Inv, update, "$1"), clients, FloorTime);
                var peer = tools.Paths["pgbench"] is { } pgbench ? await PgbenchWritesAsync(pgbench, database.ConnectionString, script, clients) : null;
                rows.Add(new PeerRow("mail", $"PostgreSQL, floor: one committed one-row write (as a hand-over mark), {clients} connection(s), machine CPU per write",
                    "pgbench (libpq)", peer?.MicrosecondsPerWrite, ours.MicrosecondsPerWrite, "µs", false, "report",
                    $"Npgsql {ours.PerSecond:N0} writes/s{(peer is { } p ? $", pgbench {p.PerSecond:N0} writes/s" : tools.Paths["pgbench"] is null ? "; pgbench missing (Debian 12 ships it in postgresql-15)" : "; pgbench failed (its output is in the log)")}; each e-mail needs one such write before the end of its data, shared with the lanes that reach it together"));
            }
            return rows;
        }
        finally { await drop(); }
    }

    private static async Task<(double PerSecond, double MicrosecondsPerWrite)> NpgsqlWritesAsync(string connectionString, string sql, int clients, TimeSpan length)
    {
        var connections = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < clients; i++)
            {
                var c = new NpgsqlConnection(connectionString);
                await c.OpenAsync();
                connections.Add(c);
            }
            using var over = new CancellationTokenSource();
            var busy = Processes.MachineCpu().Busy;
            var clock = Stopwatch.StartNew();
            over.CancelAfter(length);
            var counts = await Task.WhenAll(connections.Select((c, i) => Task.Run(async () =>
            {
                var random = new Random(i);
                var writes = 0L;
                while (!over.IsCancellationRequested)
                {
                    await using var command = new NpgsqlCommand(sql, c);
                    command.Parameters.Add(new NpgsqlParameter { Value = (long)random.Next(1, FloorRows + 1) });
                    await using var reader = await command.ExecuteReaderAsync();
                    while (await reader.ReadAsync()) { }
                    writes++;
                }
                return writes;
            })));
            var seconds = clock.Elapsed.TotalSeconds;
            var writes = counts.Sum();
            return (writes / seconds, (Processes.MachineCpu().Busy - busy) * 1e6 / writes);
        }
        finally
        {
            foreach (var c in connections) await c.DisposeAsync();
        }
    }

    private static async Task<(double PerSecond, double MicrosecondsPerWrite)?> PgbenchWritesAsync(string pgbench, string connectionString, string script, int clients)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        // libpq's keyword='value' form: a value with a space or a quote (a database or user name) stays one value.
        static string Quoted(string? value) => $"'{(value ?? "").Replace(@"\", @"\\").Replace("'", @"\'")}'";
        var sslMode = b.SslMode switch { SslMode.VerifyCA => "verify-ca", SslMode.VerifyFull => "verify-full", var mode => mode.ToString().ToLowerInvariant() };
        var conninfo = $"host={Quoted(b.Host)} port={b.Port} user={Quoted(b.Username)} dbname={Quoted(b.Database)} sslmode={sslMode}";
        var busy = Processes.MachineCpu().Busy;
        // The service's session settings (Database.FromOptions); the password comes from PGPASSWORD, as the service's does.
        var (code, output) = await RunAsync(pgbench, ["-n", "-M", "prepared", "-c", $"{clients}", "-j", $"{clients}", "-T", $"{FloorTime.TotalSeconds:0}", "-f", script, conninfo],
            environment: new Dictionary<string, string> { ["PGOPTIONS"] = b.Options ?? "" });
        var used = (Processes.MachineCpu().Busy - busy) * 1e6;
        var processed = Regex.Match(output, @"number of transactions actually processed: (\d+)");
        var tps = Regex.Match(output, @"tps = ([0-9.]+)");
        if (code != 0 || !processed.Success || !tps.Success)
        {
            Log($"pgbench failed ({code}): {output.Trim()}");
            return null;
        }
        return (double.Parse(tps.Groups[1].Value, Inv), used / long.Parse(processed.Groups[1].Value, Inv));
    }

    /// <summary>
    /// The scale run in a process of its own, whose working set is then the service's alone: run after the paired rounds
    /// (and, with --store both, after the other store's runs) it began some 50 MB higher and peaked up to 321 MB on
    /// PostgreSQL, against 235-260 MB in a process of its own. It pays its own JIT first (see <see cref="ScaleAsync"/>).
    /// </summary>
    private static async Task<IReadOnlyList<PeerRow>> ScaleInChildAsync(Options o, StorageProvider store, string work)
    {
        Directory.CreateDirectory(work);
        var json = Path.Combine(work, "scale.json");
        var start = Bench.Self();
        start.RedirectStandardOutput = true;
        foreach (var a in new[] { "mail", "--store", store == StorageProvider.Sqlite ? "sqlite" : "postgres", "--messages", "0", "--subscribers", o.Subscribers.ToString(Inv), "--scale-here", "--json", json }
                     .Concat(o.PlanOnly ? ["--plan-only"] : []))
            start.ArgumentList.Add(a);
        Log($"{store}: the {o.Subscribers:N0}-subscriber run in a process of its own");
        using var child = Process.Start(start) ?? throw new InvalidOperationException("Could not start the scale run.");
        // Its table goes to its standard output, which is read and dropped; its log goes to the same standard error as this one's.
        await child.StandardOutput.ReadToEndAsync();
        await child.WaitForExitAsync();
        if (child.ExitCode != 0 || !File.Exists(json)) throw new InvalidOperationException($"The scale run failed (exit code {child.ExitCode}); see its log above.");
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        return document.RootElement.GetProperty("rows").EnumerateArray()
            .Select(r => JsonSerializer.Deserialize<PeerRow>(r.GetRawText())!)
            .ToList();
    }

    /// <summary>--subscribers digests: planning time, then sending over 4 connections while the working set is sampled every 100 ms.</summary>
    private static async Task<IReadOnlyList<PeerRow>> ScaleAsync(Options o, string sinkPath, StorageProvider store, string storeName, string work)
    {
        await using var sink = await SinkAsync(sinkPath);
        // A service plans and sends every day in one process: the timed run measures that steady state, so the
        // planner's JIT is paid first on a small run of its own (without it a third of a PostgreSQL run's samples were
        // the JIT), and so is the sender's (sending cold, the tiering compiler took a fifth of the machine's samples
        // five seconds into the timed send). This process ran nothing before it (see ScaleInChildAsync). Reported, not
        // timed below.
        var warmUp = Path.Combine(work, "warm-up");
        var (warmConnection, warmDrop) = await FreshDatabaseAsync(store, warmUp);
        try
        {
            var sendToo = !o.PlanOnly;
            var warm = await SendDigestsAsync(store, warmConnection, warmUp, sink.Port, 4, false, PlanningWarmUpReaders, planOnly: !sendToo);
            Log($"{store}: warm-up: planned {PlanningWarmUpReaders:N0} in {warm.PlanSeconds:N2} s (the process's first planning, not timed)" +
                (sendToo ? $", sent them at {warm.Sent / warm.SendSeconds:N0}/s ({warm.CpuMicrosecondsPerMessage:N0} µs CPU each; the first send, not timed)" : ""));
        }
        finally { await warmDrop(); }
        var (connection, drop) = await FreshDatabaseAsync(store, work);
        try
        {
            // Aggressive: also gives back to the system what earlier runs in this process freed (with --store both, the
            // PostgreSQL run follows the SQLite one and began some 50 MB higher), so the samples are this run's memory.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            var samples = new List<(double Seconds, long Bytes)>();
            using var stop = new CancellationTokenSource();
            var clock = Stopwatch.StartNew();
            var sampler = Task.Run(async () =>
            {
                using var process = Process.GetCurrentProcess();
                while (!stop.IsCancellationRequested)
                {
                    process.Refresh();
                    lock (samples) samples.Add((clock.Elapsed.TotalSeconds, process.WorkingSet64));
                    try { await Task.Delay(100, stop.Token); } catch (OperationCanceledException) { }
                }
            });
            // The readers are inserted by the bench, not the product: the peak of each phase shows whose memory it is.
            var phases = new List<(string Name, double Seconds)>();
            var result = await SendDigestsAsync(store, connection, work, sink.Port, 4, false, o.Subscribers, o.PlanOnly, name => { lock (phases) phases.Add((name, clock.Elapsed.TotalSeconds)); });
            await stop.CancelAsync();
            await sampler;
            double Mb(long b) => b / 1048576.0;
            var peak = samples.Max(s => s.Bytes);
            var from = 0.0;
            var byPhase = string.Join(", ", phases.Select(p =>
            {
                var inPhase = samples.Where(s => s.Seconds >= from && s.Seconds <= p.Seconds).Select(s => s.Bytes).DefaultIfEmpty(0).Max();
                from = p.Seconds;
                return $"{p.Name} {Mb(inPhase):N0}";
            }));
            // Flat: the working set at each quarter of the run, so growth with the number of subscribers shows.
            var quarters = string.Join(" / ", Enumerable.Range(1, 4).Select(q => samples[Math.Min(samples.Count - 1, samples.Count * q / 4)]).Select(s => $"{Mb(s.Bytes):N0}"));
            if (o.PlanOnly)
                return [new PeerRow("mail", $"{storeName}, planning {o.Subscribers:N0} digests", "", null, result.PlanSeconds, "s", false, "< 5 s",
                    $"--plan-only; peak working set {Mb(peak):N0} MB")];
            Log($"{store}: {o.Subscribers:N0} subscribers: planning {result.PlanSeconds:N2} s, sending {result.Sent / result.SendSeconds:N0}/s ({result.CpuMicrosecondsPerMessage:N0} µs CPU each), working set {Mb(samples[0].Bytes):N0} MB at start, peak {Mb(peak):N0} MB, quarters {quarters} MB, peak until {byPhase} MB");
            return
            [
                new PeerRow("mail", $"{storeName}, planning {o.Subscribers:N0} digests", "", null, result.PlanSeconds, "s", false, "< 5 s"),
                new PeerRow("mail", $"{storeName}, {o.Subscribers:N0} subscribers planned and sent (4 connections), peak working set", "", null, Mb(peak), "MB", false, "flat, < 300 MB",
                    $"start {Mb(samples[0].Bytes):N0} MB, at each quarter of the run {quarters} MB; sending {result.Sent / result.SendSeconds:N0} msg/s, {result.CpuMicrosecondsPerMessage:N0} µs CPU each"),
            ];
        }
        finally { await drop(); }
    }

    private sealed class Sink(Process process, int port) : IAsyncDisposable
    {
        public int Port => port;

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited) { process.Kill(); await process.WaitForExitAsync(); }
            process.Dispose();
        }
    }

    private static async Task<Sink> SinkAsync(string sinkPath)
    {
        var port = FreePort();
        var sink = new Sink(Process.Start(new ProcessStartInfo(sinkPath, ["-u", "nobody", "-m", "1000", $"127.0.0.1:{port}", "1024"]) { RedirectStandardOutput = true, RedirectStandardError = true })!, port);
        await Task.Delay(300);
        return sink;
    }

    /// <summary>smtp-source's rate for <paramref name="messages"/> messages of <paramref name="bytes"/> over <paramref name="connections"/> sessions; null when it is missing or fails.</summary>
    private static async Task<double?> SmtpSourceAsync(Tools tools, int port, int connections, int messages, int bytes)
    {
        if (tools.Paths["smtp-source"] is not { } source) return null;
        var sw = Stopwatch.StartNew();
        var (code, output) = await RunAsync(source, ["-s", connections.ToString(Inv), "-m", messages.ToString(Inv), "-l", bytes.ToString(Inv),
            "-f", "bench@bench.example", "-t", "reader@bench.example", $"127.0.0.1:{port}"]);
        if (code == 0) return messages / sw.Elapsed.TotalSeconds;
        Log($"smtp-source failed ({code}): {output}");
        return null;
    }

    /// <summary>Readers planned once, untimed, before the scale run: enough pages (5,000 readers each) for the runtime to compile the planner optimised.</summary>
    private const int PlanningWarmUpReaders = 20_000;

    private sealed record SendResult(double PlanSeconds, double SendSeconds, int Sent, int MessageBytes, double CpuMicrosecondsPerMessage);

    /// <param name="planOnly">Stop after planning (timed): the scale run's planning figure without sending 100,000 messages.</param>
    /// <param name="phase">Told when the readers are in the database ("seeded"), when planning ends ("planned") and when sending ends ("sent").</param>
    private static async Task<SendResult> SendDigestsAsync(StorageProvider store, string connection, string work, int port, int connections, bool dkim, int messages, bool planOnly = false,
        Action<string>? phase = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Digests:Smtp:Host"] = "127.0.0.1",
            ["Digests:Smtp:Port"] = port.ToString(Inv),
            ["Digests:Smtp:Security"] = nameof(SmtpSecurity.None),
            ["Digests:Smtp:MessagesPerSecond"] = "10000",
            ["Digests:Smtp:Connections"] = connections.ToString(Inv),
        };
        if (dkim)
        {
            Directory.CreateDirectory(work);
            using var rsa = RSA.Create(2048);
            var keyFile = Path.Combine(work, "dkim.pem");
            await File.WriteAllTextAsync(keyFile, rsa.ExportRSAPrivateKeyPem());
            settings["Digests:Dkim:Domain"] = "bench.example";
            settings["Digests:Dkim:Selector"] = "bench";
            settings["Digests:Dkim:PrivateKeyFile"] = keyFile;
        }
        await using var app = App(store, connection, work, settings);
        await app.Get<SchemaMigrator>().MigrateAsync(CancellationToken.None);
        var corpus = new Corpus(new BenchOptions { Articles = 5, Authors = 3, Tags = 10 });
        var rng = new Random(20_250_630);
        var now = DateTimeOffset.UtcNow;
        var drafts = Enumerable.Range(0, 5).Select(i => corpus.Draft(rng, corpus.Authors[i % 3].Name, [corpus.Tags[i]], now.AddHours(-i - 1), $"mail-bench-{i}.md")).ToList();
        await app.Get<ArticleImporter>().ImportDraftsAsync(drafts, CancellationToken.None);
        var importedAt = Stopwatch.StartNew();
        var planner = app.Get<DigestPlanner>();
        var coveredUntil = planner.FirstWatermark(DigestFrequency.Daily).ToStoredPrecision();
        var stamp = DateTimeOffset.UtcNow.ToStoredPrecision();
        var database = app.Get<Database>();
        // Ids that rise with the row, as readers who sign up (or are imported) one after another get them: ids made in
        // one millisecond sort at random, so the table's order (insertion) and the planner's (id) differ, and on SQLite
        // every 5,000-reader page then rewrites most of the table's pages (13.8 s against 3.1 s for the same SQL).
        await using (var c = await database.OpenAsync(CancellationToken.None))
        {
            await using var tx = await c.BeginTransactionAsync();
            await c.ExecuteAsync("""
                INSERT INTO subscribers (id, email, name, frequency, time_zone, state, hard_bounces, covered_until, created_at, confirmed_at)
                VALUES (@id, @email, @name, @frequency, 'UTC', @state, 0, @coveredUntil, @stamp, @stamp)
                """, Enumerable.Range(0, messages).Select(i => new
            {
                id = Guid.CreateVersion7(stamp.AddMilliseconds(i - messages)).ToString(),
                email = $"reader{i:D6}@bench.example",
                name = $"Reader {i} ✉ خواننده",
                frequency = SubscriberStore.Column(DigestFrequency.Daily),
                state = SubscriberStore.Column(SubscriberState.Confirmed),
                coveredUntil,
                stamp,
            }), tx);
            await tx.CommitAsync();
            // A running server's autovacuum analyzes a table soon after it grows this much; without statistics PostgreSQL
            // reads each page of subscribers by scanning and sorting the whole table.
            if (store == StorageProvider.PostgreSql) await c.ExecuteAsync("ANALYZE subscribers");
        }
        // The planner takes articles imported at least five seconds ago (an import may still be committing).
        var settle = TimeSpan.FromSeconds(6) - importedAt.Elapsed;
        if (settle > TimeSpan.Zero) await Task.Delay(settle);
        phase?.Invoke("seeded");

        var planCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var serverCpu = store == StorageProvider.PostgreSql ? await BackendCpuAsync(database) : [];
        var sw = Stopwatch.StartNew();
        var plan = await planner.PlanAsync(DigestFrequency.Daily, manual: false, CancellationToken.None);
        var planSeconds = sw.Elapsed.TotalSeconds;
        planCpu = Process.GetCurrentProcess().TotalProcessorTime - planCpu;
        phase?.Invoke("planned");
        // PostgreSQL works in its own processes: their CPU time, which the other load on a shared machine moves less than the wall time.
        var server = "";
        if (store == StorageProvider.PostgreSql)
            server = $", {(await BackendCpuAsync(database)).Sum(b => b.Value - serverCpu.GetValueOrDefault(b.Key)):N2} s CPU in the database's server processes";
        if (plan.Planned != messages) throw new InvalidOperationException($"The planner planned {plan} for {messages:N0} subscribers.");
        if (planOnly)
        {
            Log($"{store}: planned {plan.Planned:N0} in {planSeconds:N2} s, {planCpu.TotalSeconds:N2} s CPU in this process{server} (--plan-only: nothing sent)");
            return new SendResult(planSeconds, 0, 0, 0, 0);
        }

        // The size smtp-source sends: one of these digests as it goes on the wire.
        string sampleId;
        await using (var c = await database.OpenAsync(CancellationToken.None)) sampleId = await c.ExecuteScalarAsync<string>("SELECT id FROM subscribers LIMIT 1") ?? "";
        var subscriber = await app.Get<SubscriberStore>().FindAsync(sampleId, CancellationToken.None);
        var message = app.Get<DigestComposer>().Digest(subscriber!, await app.Get<ArticleStore>().ListAsync(5, CancellationToken.None), "syndicator-sample");
        using var buffer = new MemoryStream();
        message.WriteTo(buffer);

        // Transactions committed in the bench's database so far. A backend sends its counts at most once a second while
        // it lives, and all of them when it exits: the pool's connections are closed first, so every count is in.
        async Task<long> CommitsAsync()
        {
            NpgsqlConnection.ClearAllPools();
            await Task.Delay(500);
            await using var c = await database.OpenAsync(CancellationToken.None);
            return await c.ExecuteScalarAsync<long>("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        }

        // On PostgreSQL: the commands Npgsql sent (each one round trip), the transactions the server committed and the
        // CPU its processes spent while sending, per message.
        long commands = 0;
        using var meter = new System.Diagnostics.Metrics.MeterListener();
        meter.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Npgsql" && instrument.Name == "db.client.operation.duration") listener.EnableMeasurementEvents(instrument);
        };
        meter.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref commands));
        if (store == StorageProvider.PostgreSql) meter.Start();
        var (serverBefore, commitsBefore) = store == StorageProvider.PostgreSql ? (await BackendCpuAsync(database), await CommitsAsync()) : ([], 0);

        // CPU time of this process while sending: a figure the other processes on a shared machine do not move much.
        Interlocked.Exchange(ref commands, 0);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var collections = GC.CollectionCount(0);
        var olderCollections = GC.CollectionCount(1);
        var paused = GC.GetTotalPauseDuration();
        Log($"{store}, {connections} connection(s){(dkim ? ", DKIM" : "")}: {plan.Planned:N0} planned, sending starts");
        sw.Restart();
        var report = await app.Get<DeliveryWorker>().DrainAsync(app.Get<EmailChannel>(), DrainFilter.All, untilEmpty: true, CancellationToken.None);
        var sendSeconds = sw.Elapsed.TotalSeconds;
        phase?.Invoke("sent");
        var sent = Math.Max(1, report?.Sent ?? 0);
        var cpuPerMessage = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / sent;
        // Every thread's allocations while sending (the database's and the relay's clients included), and the collections they cost.
        var heap = $", {(GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1024.0 / sent:N1} KB allocated and {(GC.CollectionCount(0) - collections) * 1000.0 / sent:N2} collections per 1,000 " +
            $"({(GC.CollectionCount(1) - olderCollections) * 1000.0 / sent:N2} of gen 1 or 2; the collections paused the process {(GC.GetTotalPauseDuration() - paused).TotalMicroseconds / sent:N1} µs per message)";
        var perMessage = "";
        if (store == StorageProvider.PostgreSql)
        {
            var roundTrips = Interlocked.Read(ref commands) / (double)sent;
            var sendingServerCpu = (await BackendCpuAsync(database)).Sum(b => b.Value - serverBefore.GetValueOrDefault(b.Key)) * 1e6 / sent;
            var commits = (await CommitsAsync() - commitsBefore) / (double)sent;
            perMessage = $", {roundTrips:N2} round trips, {commits:N2} transactions and {sendingServerCpu:N0} µs of the server's CPU each";
        }
        Log($"{store}, {connections} connection(s){(dkim ? ", DKIM" : "")}: planned {plan.Planned:N0} in {planSeconds:N2} s, {report} in {sendSeconds:N2} s = {(report?.Sent ?? 0) / sendSeconds:N0}/s, {cpuPerMessage:N0} µs CPU each, {buffer.Length:N0} bytes each{heap}{perMessage}");
        return new SendResult(planSeconds, sendSeconds, report?.Sent ?? 0, (int)buffer.Length, cpuPerMessage);
    }

    /// <summary>CPU seconds (user + system) each PostgreSQL backend connected to the bench's database has used, by process id (read from /proc: the server runs on this machine).</summary>
    private static async Task<Dictionary<int, double>> BackendCpuAsync(Database database)
    {
        await using var c = await database.OpenAsync(CancellationToken.None);
        var pids = await c.QueryAsync<int>("SELECT pid FROM pg_stat_activity WHERE datname = current_database()");
        var cpu = new Dictionary<int, double>();
        foreach (var pid in pids)
        {
            try
            {
                // Fields 14 and 15 (utime, stime) in clock ticks of 1/100 s, after the command name in parentheses.
                var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                cpu[pid] = (long.Parse(fields[11], Inv) + long.Parse(fields[12], Inv)) / 100.0;
            }
            catch (IOException) { }
        }
        return cpu;
    }

    // ---------------------------------------------------------------- import
    /// <summary>Files imported, untimed, before each side's timed run (see <see cref="ImportAsync"/>).</summary>
    private const int ImportWarmUpFiles = 300;

    /// <summary>
    /// N plain-text files through the real import (ArticleFiles), against reading each and inserting it as one row with
    /// one commit, on the same disk and the same database (same connection pool, same pragmas). Each side first runs
    /// <see cref="ImportWarmUpFiles"/> other files untimed, so that neither is timed while the JIT compiles its code (the
    /// floor ran first and left SQLite's and Dapper's code compiled for the import, but not the import's own); that
    /// first import's rate is reported beside. The process's CPU time per file is reported too: on a shared machine
    /// it moves less with the other load than the rate (for PostgreSQL it leaves out the server's).
    /// </summary>
    private static async Task<IReadOnlyList<PeerRow>> ImportAsync(Options o, StorageProvider store, string work)
    {
        var folder = Path.Combine(work, "articles");
        var warmFolder = Path.Combine(work, "warm-up");
        Directory.CreateDirectory(folder);
        Directory.CreateDirectory(warmFolder);
        var corpus = new Corpus(new BenchOptions { Articles = o.ImportFiles + ImportWarmUpFiles, Authors = 50, Tags = 20 });
        var i = 0;
        foreach (var a in corpus.Articles())
        {
            var body = string.Join("\n\n", System.Text.RegularExpressions.Regex.Matches(a.BodyHtml, "<p>(.*?)</p>").Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)));
            var target = i < ImportWarmUpFiles ? warmFolder : folder;
            await File.WriteAllTextAsync(Path.Combine(target, $"{i++:D6}.txt"), $"{a.Title}\n\n{body}\n");
        }
        var (connection, drop) = await FreshDatabaseAsync(store, work);
        try
        {
            await using var app = App(store, connection, work);
            await app.Get<SchemaMigrator>().MigrateAsync(CancellationToken.None);
            var database = app.Get<Database>();
            await using (var c = await database.OpenAsync(CancellationToken.None))
                await c.ExecuteAsync("CREATE TABLE bench_floor (id TEXT PRIMARY KEY, body TEXT NOT NULL)");
            async Task FloorAsync(IEnumerable<string> files)
            {
                foreach (var file in files)
                {
                    var text = await File.ReadAllTextAsync(file);
                    await using var c = await database.OpenAsync(CancellationToken.None);
                    await using var tx = await c.BeginTransactionAsync();
                    await c.ExecuteAsync("INSERT INTO bench_floor (id, body) VALUES (@id, @text)", new { id = Path.GetFileName(file), text }, tx);
                    await tx.CommitAsync();
                }
            }
            var files = Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToList();
            await FloorAsync(Directory.GetFiles(warmFolder).Order(StringComparer.Ordinal));
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            await FloorAsync(files);
            var floor = files.Count / sw.Elapsed.TotalSeconds;
            var floorCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / files.Count;

            sw.Restart();
            var warm = await app.Get<ArticleFiles>().ImportPathsAsync([warmFolder], null, CancellationToken.None);
            var firstRate = warm.Created / sw.Elapsed.TotalSeconds;
            if (warm.Created != ImportWarmUpFiles) throw new InvalidOperationException($"The warm-up import created {warm.Created} of {ImportWarmUpFiles} articles: {warm}");

            // Memory while importing: the managed heap that survives a full collection after each quarter of the files
            // (what the import keeps per file shows as growth between quarters), and the working set every 100 ms.
            var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
            var quarters = new Quarters(files.Count);
            long peak = 0;
            using var stop = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                using var process = Process.GetCurrentProcess();
                while (!stop.IsCancellationRequested)
                {
                    process.Refresh();
                    peak = Math.Max(peak, process.WorkingSet64);
                    try { await Task.Delay(100, stop.Token); } catch (OperationCanceledException) { }
                }
            });
            // The heap checks (full collections, after each quarter) are outside the CPU time and the rate.
            cpu = Process.GetCurrentProcess().TotalProcessorTime;
            sw.Restart();
            var summary = await app.Get<ArticleFiles>().ImportPathsAsync([folder], quarters, CancellationToken.None);
            var seconds = sw.Elapsed.TotalSeconds - quarters.Spent.TotalSeconds;
            var importCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu - quarters.SpentCpu).TotalMicroseconds / files.Count;
            await stop.CancelAsync();
            await sampler;
            var rate = summary.Created / seconds;
            double Mb(long b) => b / 1048576.0;
            var heaps = string.Join(" / ", quarters.Heaps.Select(h => $"{Mb(h):N1}"));
            var cpuNote = $"CPU per file in this process: floor {floorCpu:N0} µs, import {importCpu:N0} µs ({floorCpu / importCpu:P0}){(store == StorageProvider.Sqlite ? "" : ", PostgreSQL's own processes not counted")}; " +
                $"first import in the process ({ImportWarmUpFiles} files, JIT): {firstRate:N0} files/s";
            Log($"{store}: floor {floor:N0} files/s; import {summary} at {rate:N0} articles/s; {cpuNote}; managed heap {Mb(heapBefore):N1} MB before, {heaps} MB after each quarter; peak working set {Mb(peak):N0} MB");
            var storeName = store == StorageProvider.Sqlite ? "SQLite" : "PostgreSQL";
            return
            [
                new PeerRow("import", $"{storeName}, {files.Count:N0} plain-text files", "one row and one commit per file", floor, rate, "files/s", true,
                    store == StorageProvider.Sqlite ? "≥ 60 %" : "≥ 50 %", cpuNote),
                new PeerRow("import", $"{storeName}, managed heap after the last quarter of the files", "", null, Mb(quarters.Heaps[^1]), "MB", false, "flat in the number of files",
                    $"{Mb(heapBefore):N1} MB before, {heaps} MB after each quarter; working set at most {Mb(peak):N0} MB"),
            ];
        }
        finally { await drop(); }
    }

    /// <summary>Counts imported files; after each quarter of them, the managed heap that survives a full collection (and the time and CPU that took).</summary>
    private sealed class Quarters(int files) : IProgress<string>
    {
        private int done;
        public List<long> Heaps { get; } = [];
        public TimeSpan Spent { get; private set; }
        public TimeSpan SpentCpu { get; private set; }

        public void Report(string value)
        {
            done++;
            if (done * 4L < files * (Heaps.Count + 1L)) return;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            Heaps.Add(GC.GetTotalMemory(forceFullCollection: true));
            Spent += sw.Elapsed;
            SpentCpu += Process.GetCurrentProcess().TotalProcessorTime - cpu;
        }
    }

    // ---------------------------------------------------------------- feeds
    /// <summary>The same corpus as Hugo content (home, author and tag RSS plus HTML pages) against Syndicator's full build (three formats with archives).</summary>
    private static async Task<IReadOnlyList<PeerRow>> FeedsAsync(Options o, Tools tools, StorageProvider store, string work)
    {
        var bench = new BenchOptions { Articles = o.Articles, Authors = Math.Max(1, o.Articles / 100), Tags = 50 };
        var corpus = new Corpus(bench);
        double? hugoSeconds = null;
        if (tools.Paths["hugo"] is { } hugo)
        {
            var site = Path.Combine(work, "hugo");
            WriteHugoSite(site, corpus);
            var sw = Stopwatch.StartNew();
            var (code, output) = await RunAsync(hugo, ["--quiet", "--destination", Path.Combine(work, "hugo-public")], site);
            if (code == 0) hugoSeconds = sw.Elapsed.TotalSeconds;
            else Log($"hugo failed ({code}): {output[..Math.Min(2000, output.Length)]}");
            Log($"hugo: {sw.Elapsed.TotalSeconds:N1} s");
        }
        var storeName = store == StorageProvider.Sqlite ? "SQLite" : "PostgreSQL";
        // A service builds its feeds again and again in one process, and Hugo is compiled ahead of time: the process's
        // first build (a fifth of its samples the JIT's, in a cold run here) is paid first, on a corpus of its own, and reported.
        var first = await FullBuildAsync(store, Path.Combine(work, "warm-up"), new Corpus(new BenchOptions { Articles = 300, Authors = 3, Tags = 50 }));
        var (files, full) = await FullBuildAsync(store, work, corpus);
        // Hugo's site and output go only now. This disk is ext4 without a journal, where the inode allocator skips, one
        // by one, every inode freed in the last minute (ext4's recently_deleted): deleting Hugo's ~10,000 files just
        // before the build put a third of the build's samples in that scan (find_inode_bit, recently_deleted).
        try { Directory.Delete(Path.Combine(work, "hugo-public"), true); Directory.Delete(Path.Combine(work, "hugo"), true); } catch (IOException) { }
        return
        [
            new PeerRow("feeds", $"{storeName}, first build in a fresh process (JIT), 300 articles", "", null, first.Seconds, "s", false, "", "not timed below"),
            new PeerRow("feeds", $"{storeName}, full build of {o.Articles:N0} articles ({files:N0} files: RSS, Atom, JSON with archives)", "Hugo 0.111 (home, author, tag RSS + HTML)",
                hugoSeconds, full, "s", false, "≤ 50 % of Hugo's time (share ≥ 200 %)"),
        ];
    }

    /// <summary>The corpus loaded into a fresh database and built in full by the service's own builder: the files written and the build's seconds.</summary>
    private static async Task<(int Files, double Seconds)> FullBuildAsync(StorageProvider store, string work, Corpus corpus)
    {
        var (connection, drop) = await FreshDatabaseAsync(store, work);
        try
        {
            await using var app = App(store, connection, work);
            await app.Get<SchemaMigrator>().MigrateAsync(CancellationToken.None);
            var cs = app.Get<Database>().ConnectionString;
            if (store == StorageProvider.Sqlite) await Loaders.SqliteAsync(cs, corpus, CancellationToken.None);
            else await Loaders.PostgresAsync(cs, corpus, CancellationToken.None);
            Log($"{store}: articles loaded, full build starts ({Path.GetFileName(work)})");
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var report = await app.Get<FeedBuilder>().BuildAsync(full: true, null, CancellationToken.None);
            var full = sw.Elapsed.TotalSeconds;
            // The process's CPU time beside the wall time: a build that waits (on the disk, on a lock) shows less CPU than two cores' worth.
            Log($"{store}: full build {full:N2} s ({(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:N2} s CPU), {report.Written.Count:N0} files ({Path.GetFileName(work)})");
            return (report.Written.Count, full);
        }
        finally { await drop(); }
    }

    private static void WriteHugoSite(string site, Corpus corpus)
    {
        var content = Path.Combine(site, "content", "posts");
        Directory.CreateDirectory(content);
        Directory.CreateDirectory(Path.Combine(site, "layouts", "_default"));
        File.WriteAllText(Path.Combine(site, "config.toml"), """
            baseURL = "https://magazine.example/"
            title = "Bench"
            disableKinds = ["sitemap", "robotsTXT", "404"]
            [taxonomies]
              author = "authors"
              tag = "tags"
            [markup.goldmark.renderer]
              unsafe = true
            """);
        File.WriteAllText(Path.Combine(site, "layouts", "_default", "single.html"), "<!doctype html><html><head><title>{{ .Title }}</title></head><body><h1>{{ .Title }}</h1>{{ .Content }}</body></html>");
        File.WriteAllText(Path.Combine(site, "layouts", "_default", "list.html"), "<!doctype html><html><body><ul>{{ range .Pages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul></body></html>");
        var authors = corpus.Authors.ToDictionary(a => a.Id, a => a.Name);
        foreach (var a in corpus.Articles())
        {
            var tags = string.Join(", ", a.Tags.Select(t => JsonSerializer.Serialize(t)));
            File.WriteAllText(Path.Combine(content, a.Slug + ".md"),
                $"---\ntitle: {JsonSerializer.Serialize(a.Title)}\ndate: {a.PublishedAt:yyyy-MM-ddTHH:mm:ssZ}\nsummary: {JsonSerializer.Serialize(a.Summary)}\nauthors: [{JsonSerializer.Serialize(authors[a.AuthorId])}]\ntags: [{tags}]\n---\n{a.BodyHtml}\n");
        }
    }

    // ---------------------------------------------------------------- tools
    private sealed class Tools
    {
        public Dictionary<string, string?> Paths { get; } = [];
        public List<string> Missing => Paths.Where(p => p.Value is null).Select(p => p.Key).ToList();

        /// <summary>On the PATH, or in /usr/sbin and /sbin where Debian puts postfix's and nginx's programs (not on a user's PATH).</summary>
        public static Tools Find()
        {
            var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Concat(["/usr/sbin", "/sbin", "/usr/local/sbin"]).Distinct().ToList();
            var tools = new Tools();
            foreach (var name in new[] { "smtp-sink", "smtp-source", "hugo", "wrk", "nginx", "pgbench" })
                tools.Paths[name] = dirs.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
            return tools;
        }
    }
}
