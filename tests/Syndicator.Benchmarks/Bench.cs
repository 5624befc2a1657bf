using System.Diagnostics;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Syndicator.Benchmarks;

/// <summary>
/// Parent process: per store, creates a fresh database, then runs each phase (load, baseline, full build, profile,
/// incremental builds) in a child process of this same executable, so each phase's peak working set is its own,
/// and finally prints the tables. A child that outlives the phase limit by two minutes is killed.
/// </summary>
public static class Bench
{
    public const string PostgresVariable = "SYNDICATOR_TEST_POSTGRES";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, IncludeFields = true };
    private static string prefix = "bench";

    public static void Log(string message) => Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} [{prefix}] {message}");

    public static async Task<int> MainAsync(string[] args)
    {
        if (args is ["cluster", .. var rest]) return await ClusterBench.MainAsync(rest);
        if (args is [var verb, ..] && PeerBench.Verbs.Contains(verb)) return await PeerBench.MainAsync(args);
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(BenchOptions.Usage);
            return 0;
        }
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(BenchOptions.Usage);
            return 2;
        }
        return options.Phase is null ? await ParentAsync(options, args) : await ChildAsync(options);
    }

    // ---------------------------------------------------------------- child
    private static async Task<int> ChildAsync(BenchOptions o)
    {
        prefix = $"{o.Provider}:{o.Phase}";
        using var cts = new CancellationTokenSource(o.PhaseTimeout);
        var ct = cts.Token;
        object result = o.Phase switch
        {
            "load" => await Phases.LoadAsync(o, ct),
            "baseline" => await Phases.BaselineAsync(o, ct),
            "full" => await Phases.FullAsync(o, ct),
            "incremental" => await Phases.IncrementalAsync(o, ct),
            "profile" => await Profiler.RunAsync(o, ct),
            "whatif" => await Profiler.StreamingAsync(o, ct),
            _ => throw new ArgumentException($"Unknown phase {o.Phase}."),
        };
        await File.WriteAllTextAsync(o.Result!, JsonSerializer.Serialize(result, result.GetType(), Json));
        return 0;
    }

    // ---------------------------------------------------------------- parent
    private static async Task<int> ParentAsync(BenchOptions o, string[] args)
    {
        var started = Stopwatch.StartNew();
        var command = "dotnet run -c Release --project tests/Syndicator.Benchmarks -- " + string.Join(' ', args);
        Log($"{command}");
        Log($"corpus: {o.Articles:N0} articles, {o.Authors:N0} authors, {o.Tags:N0} tags, seed {o.Seed}; phase limit {o.PhaseTimeoutMinutes:0.#} min; " +
            $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, server GC {System.Runtime.GCSettings.IsServerGC}");

        var loadBefore = LoadAverage();
        var root = Path.Combine(Path.GetTempPath(), $"syndicator-bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        var reports = new List<StoreReport>();
        foreach (var provider in o.Store == "both" ? new[] { "sqlite", "postgres" } : [o.Store])
        {
            var report = o.IncrementalOnly ? await RunKeptCorpusAsync(o, provider) : await RunStoreAsync(o, provider, root);
            reports.Add(report);
        }
        if (!o.Keep) TryDelete(root);
        else Log($"kept {root}");

        Report.Print(o, command, reports, started.Elapsed, $"load average (1/5/15 min) at start {loadBefore}, at end {LoadAverage()}");
        if (o.JsonOut is not null)
        {
            await File.WriteAllTextAsync(o.JsonOut, JsonSerializer.Serialize(new { command, options = o, reports }, Json));
            Log($"results written to {o.JsonOut}");
        }
        return reports.Any(r => r.Error is not null) ? 1 : 0;
    }

    public sealed class StoreReport
    {
        public string Provider { get; set; } = "";
        public string? Skipped { get; set; }
        public string? Error { get; set; }
        public LoadResult? Load { get; set; }
        public BaselineResult? Baseline { get; set; }
        public FullResult? Full { get; set; }
        public ProfileResult? Profile { get; set; }
        public IncrementalResult? Incremental { get; set; }
        public WhatIfResult? WhatIf { get; set; }
        public List<string> Notes { get; set; } = [];
    }

    private static async Task<StoreReport> RunStoreAsync(BenchOptions o, string provider, string root)
    {
        var report = new StoreReport { Provider = provider };
        var work = Path.Combine(root, provider);
        Directory.CreateDirectory(work);
        string connection;
        string? admin = null, database = null;
        if (provider == "sqlite")
        {
            connection = $"Data Source={Path.Combine(work, "bench.db")}";
        }
        else
        {
            admin = Environment.GetEnvironmentVariable(PostgresVariable);
            if (string.IsNullOrWhiteSpace(admin))
            {
                report.Skipped = $"PostgreSQL skipped: {PostgresVariable} is not set (e.g. \"Host=127.0.0.1;Port=5432;Username=postgres;Password=...;Database=postgres\").";
                Log(report.Skipped);
                return report;
            }
            database = $"syn_bench_{Guid.NewGuid():N}"[..26];
            await using (var c = new NpgsqlConnection(admin))
            {
                await c.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", c);
                await create.ExecuteNonQueryAsync();
            }
            connection = new NpgsqlConnectionStringBuilder(admin) { Database = database }.ConnectionString;
            Log($"created PostgreSQL database {database}");
        }

        try
        {
            report.Load = await ChildAsync<LoadResult>("load", provider, work, connection, o, []);
            Log($"{provider}: loaded {report.Load.Articles:N0} articles, {report.Load.ArticleTags:N0} tag links in {report.Load.LoadMs / 1000:N1} s; {report.Load.Scopes:N0} scopes marked dirty");

            if (o.Baseline)
            {
                report.Baseline = await ChildAsync<BaselineResult>("baseline", provider, work, connection, o, []);
                Log($"{provider}: baseline {report.Baseline.RenderMs:N0} ms for {report.Baseline.Files:N0} files ({report.Baseline.Bytes / 1e6:N0} MB)");
            }

            report.Full = await ChildAsync<FullResult>("full", provider, work, connection, o, []);
            Log($"{provider}: full build {report.Full.Ms:N0} ms, {report.Full.Written:N0} files written{(report.Full.TimedOut ? " (STOPPED AT LIMIT)" : "")}");
            if (o.Verify && !report.Full.TimedOut && report.Baseline is { TimedOut: false } b)
            {
                var same = report.Full.Digest == b.Digest && report.Full.OutputFeedFiles == b.Files && report.Full.OutputBytes == b.Bytes;
                report.Notes.Add(same
                    ? $"Verified: the full build wrote byte for byte the {b.Files:N0} files the baseline rendered ({b.Bytes / 1e6:N0} MB)."
                    : $"MISMATCH: the full build wrote {report.Full.OutputFeedFiles:N0} files / {report.Full.OutputBytes:N0} bytes, the baseline rendered {b.Files:N0} / {b.Bytes:N0} (digests {report.Full.Digest:X16} vs {b.Digest:X16}).");
            }

            var profile = o.Profile == "always" || (o.Profile == "auto" && (report.Full.TimedOut || report.Full.Ms > 2 * Report.FullTargetMs));
            if (profile)
            {
                // Best effort: a failed profile must not lose the incremental measurement.
                try { report.Profile = await ChildAsync<ProfileResult>("profile", provider, work, connection, o, []); }
                catch (Exception e) { report.Notes.Add($"Profile failed: {e.GetType().Name}: {e.Message}"); }
                try
                {
                    var w = report.WhatIf = await ChildAsync<WhatIfResult>("whatif", provider, work, connection, o, []);
                    if (o.Verify && !w.TimedOut && report.Baseline is { TimedOut: false } bl)
                        report.Notes.Add(w.Digest == bl.Digest && w.Files == bl.Files && w.Bytes == bl.Bytes
                            ? $"Verified: the streaming what-if wrote byte for byte the {bl.Files:N0} files the baseline rendered."
                            : $"MISMATCH: the streaming what-if wrote {w.Files:N0} files / {w.Bytes:N0} bytes, the baseline {bl.Files:N0} / {bl.Bytes:N0}.");
                }
                catch (Exception e) { report.Notes.Add($"What-if failed: {e.GetType().Name}: {e.Message}"); }
            }

            // The output of the full build stays: the incremental build compares against it, as in production.
            report.Incremental = await ChildAsync<IncrementalResult>("incremental", provider, work, connection, o,
                report.Full.TimedOut ? ["--full-incomplete"] : []);
        }
        catch (Exception e)
        {
            // Whatever went wrong, the other store still runs and the PostgreSQL database is still dropped.
            report.Error = $"{e.GetType().Name}: {e.Message}";
            Log($"{provider}: {e.Message}");
        }
        finally
        {
            if (provider == "sqlite") SqliteConnection.ClearAllPools();
            if (admin is not null && database is not null && !o.Keep)
            {
                NpgsqlConnection.ClearAllPools();
                await using var c = new NpgsqlConnection(admin);
                await c.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", c);
                await drop.ExecuteNonQueryAsync();
                Log($"dropped PostgreSQL database {database}");
            }
            else if (database is not null) Log($"kept PostgreSQL database {database}");
            if (!o.Keep) TryDelete(work);
        }
        return report;
    }

    /// <summary>
    /// <c>--incremental-only</c>: the kept corpus of these options (<see cref="CorpusCache"/>), loaded and fully built
    /// first if there is none yet, then only the incremental builds. Nothing is deleted or dropped at the end.
    /// </summary>
    private static async Task<StoreReport> RunKeptCorpusAsync(BenchOptions o, string provider)
    {
        var report = new StoreReport { Provider = provider };
        var work = CorpusCache.Folder(o, provider);
        Directory.CreateDirectory(work);
        string connection;
        string? admin = null;
        if (provider == "sqlite") connection = $"Data Source={Path.Combine(work, "bench.db")}";
        else
        {
            admin = Environment.GetEnvironmentVariable(PostgresVariable);
            if (string.IsNullOrWhiteSpace(admin))
            {
                report.Skipped = $"PostgreSQL skipped: {PostgresVariable} is not set.";
                Log(report.Skipped);
                return report;
            }
            connection = new NpgsqlConnectionStringBuilder(admin) { Database = CorpusCache.DatabaseName(o) }.ConnectionString;
        }
        try
        {
            using var held = CorpusCache.Lock(work);
            var stamp = o.RebuildCorpus ? null : CorpusCache.Read(work);
            if (stamp is null)
            {
                Log($"{provider}: building the kept corpus in {work} (load and full build, once)");
                File.Delete(CorpusCache.StampPath(work));
                TryDelete(BenchHost.FeedsFolder(work));
                if (provider == "sqlite")
                {
                    SqliteConnection.ClearAllPools();
                    foreach (var suffix in new[] { "", "-wal", "-shm" }) File.Delete(Path.Combine(work, "bench.db" + suffix));
                }
                else await RecreateDatabaseAsync(admin!, CorpusCache.DatabaseName(o));
                report.Load = await ChildAsync<LoadResult>("load", provider, work, connection, o, []);
                Log($"{provider}: loaded {report.Load.Articles:N0} articles in {report.Load.LoadMs / 1000:N1} s");
                report.Full = await BuildKeptFeedsAsync(o, provider, work, connection);
                stamp = new CorpusCache.Stamp(provider, o.Articles, o.Authors, o.Tags, o.Seed, admin is null ? null : CorpusCache.DatabaseName(o),
                    CorpusCache.SyndicatorBuild, DateTimeOffset.UtcNow, 0);
            }
            else if (stamp.SyndicatorBuild != CorpusCache.SyndicatorBuild && !o.TrustCorpus)
            {
                Log($"{provider}: the kept feeds in {work} were written by another build of Syndicator: building them again (--trust-corpus reuses them as they are)");
                TryDelete(BenchHost.FeedsFolder(work));
                report.Full = await BuildKeptFeedsAsync(o, provider, work, connection);
                stamp = stamp with { SyndicatorBuild = CorpusCache.SyndicatorBuild, BuiltAt = DateTimeOffset.UtcNow };
            }
            else Log($"{provider}: reusing the kept corpus in {work} (built {stamp.BuiltAt:u}, {stamp.ArticlesAdded:N0} articles added since)");
            CorpusCache.Write(work, stamp);
            report.Incremental = await ChildAsync<IncrementalResult>("incremental", provider, work, connection, o, []);
            CorpusCache.Write(work, stamp with { ArticlesAdded = stamp.ArticlesAdded + report.Incremental.WarmUp.Count + report.Incremental.Runs.Count + (report.Incremental.Breakdown.Count > 0 ? 1 : 0) });
        }
        catch (Exception e)
        {
            report.Error = $"{e.GetType().Name}: {e.Message}";
            Log($"{provider}: {e.Message}");
        }
        finally
        {
            if (provider == "sqlite") SqliteConnection.ClearAllPools();
            else NpgsqlConnection.ClearAllPools();
        }
        return report;
    }

    /// <summary>The kept corpus's full build; a build stopped at the phase limit leaves no stamp, so the next run starts again.</summary>
    private static async Task<FullResult> BuildKeptFeedsAsync(BenchOptions o, string provider, string work, string connection)
    {
        var full = await ChildAsync<FullResult>("full", provider, work, connection, o, []);
        Log($"{provider}: full build of the kept corpus {full.Ms / 1000:N1} s, {full.Written:N0} files");
        if (full.TimedOut || full.Error is not null)
            throw new InvalidOperationException($"The full build of the kept corpus did not finish ({full.Error ?? "stopped"}); run again with a larger --phase-timeout-minutes.");
        return full;
    }

    private static async Task RecreateDatabaseAsync(string admin, string database)
    {
        NpgsqlConnection.ClearAllPools();
        await using var c = new NpgsqlConnection(admin);
        await c.OpenAsync();
        await using (var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", c)) await drop.ExecuteNonQueryAsync();
        await using (var create = new NpgsqlCommand($"CREATE DATABASE {database}", c)) await create.ExecuteNonQueryAsync();
        Log($"created PostgreSQL database {database} (kept for later runs)");
    }

    /// <summary>Runs one phase in a child process of this executable and reads back its JSON result.</summary>
    private static async Task<T> ChildAsync<T>(string phase, string provider, string work, string connection, BenchOptions o, string[] extra)
    {
        var resultFile = Path.Combine(work, $"{phase}.json");
        if (File.Exists(resultFile)) File.Delete(resultFile);
        var start = Self();
        foreach (var a in new[] { "--phase", phase, "--provider", provider, "--work", work, "--result", resultFile }.Concat(o.ChildArgs()).Concat(extra))
            start.ArgumentList.Add(a);
        start.Environment[BenchHost.ConnectionVariable] = connection;

        Log($"{provider}: phase {phase} (child process), load average {LoadAverage()}");
        using var child = Process.Start(start) ?? throw new InvalidOperationException($"Could not start the {phase} phase.");
        using var hard = new CancellationTokenSource(o.PhaseTimeout + TimeSpan.FromMinutes(2));
        try
        {
            await child.WaitForExitAsync(hard.Token);
        }
        catch (OperationCanceledException)
        {
            Log($"{provider}: phase {phase} did not stop at its limit; killing child {child.Id}");
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
            throw new InvalidOperationException($"Phase {phase} was killed after {o.PhaseTimeoutMinutes + 2:0.#} minutes.");
        }
        if (child.ExitCode != 0 || !File.Exists(resultFile))
            throw new InvalidOperationException($"Phase {phase} failed (exit code {child.ExitCode}); see its output above.");
        return JsonSerializer.Deserialize<T>(await File.ReadAllTextAsync(resultFile), Json)
            ?? throw new InvalidOperationException($"Phase {phase} wrote no result.");
    }

    /// <summary>A child process of this benchmark, whether it runs as its own executable or through <c>dotnet</c>; the caller adds the arguments.</summary>
    internal static ProcessStartInfo Self()
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot tell which executable this is.");
        var start = new ProcessStartInfo(self) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            start.ArgumentList.Add(typeof(Bench).Assembly.Location);
        return start;
    }

    /// <summary>Other work on the machine skews every figure; the tables say how busy it was.</summary>
    public static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "n/a"; }
        catch (UnauthorizedAccessException) { return "n/a"; }
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (IOException e)
        {
            Log($"could not delete {path}: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            Log($"could not delete {path}: {e.Message}");
        }
    }
}
