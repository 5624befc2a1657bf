using System.Globalization;
using System.Text;

namespace Syndicator.Benchmarks;

/// <summary>Plain-text (Markdown) tables, so the output pastes into an issue or a review unchanged.</summary>
public static class Report
{
    public const double FullTargetMs = 5_000;
    public const double IncrementalTargetMs = 100;
    public const double PeakTargetMb = 400;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Print(BenchOptions o, string command, IReadOnlyList<Bench.StoreReport> reports, TimeSpan elapsed, string machine)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine($"## Feed build benchmark: {o.Articles:N0} articles, {o.Authors:N0} authors, {o.Tags:N0} tags");
        sb.AppendLine();
        sb.AppendLine($"`{command}` ({Environment.ProcessorCount} cores, .NET {Environment.Version}, {elapsed.TotalMinutes:N1} min in all; {machine})");
        sb.AppendLine();

        if (o.IncrementalOnly) Incremental(sb, reports);
        else Summary(sb, reports);
        Stores(sb, reports);
        Console.Out.Write(sb.ToString());
        Console.Out.Flush();
    }

    /// <summary>
    /// <c>--incremental-only</c>: per store, the incremental builds against the kept corpus: wall time median, fastest,
    /// slowest, and the process's CPU time per build (all threads), with the load average around the runs.
    /// </summary>
    private static void Incremental(StringBuilder sb, IReadOnlyList<Bench.StoreReport> reports)
    {
        var rows = new List<string[]>
        {
            new[] { "store", "articles", "builds", "wall ms: median / min / max", "CPU ms: median / min / max", "warm-up builds: wall / CPU ms, median", "< 100 ms (median)", "load average before / after", "peak MB" },
        };
        foreach (var r in reports)
        {
            if (r.Skipped is not null || r.Incremental is not { Runs.Count: > 0 } i) { rows.Add([r.Provider, r.Skipped ?? r.Error ?? r.Incremental?.Error ?? "no run", "", "", "", "", "", "", ""]); continue; }
            var wall = i.Runs.Select(x => x.BuildMs).ToList();
            var cpu = i.Runs.Select(x => x.BuildCpuMs).ToList();
            rows.Add([
                r.Provider, i.Articles.ToString("N0", Inv), wall.Count.ToString(Inv),
                $"{N1(Median(wall))} / {N1(wall.Min())} / {N1(wall.Max())}",
                $"{N1(Median(cpu))} / {N1(cpu.Min())} / {N1(cpu.Max())}",
                i.WarmUp.Count == 0 ? "none" : $"{i.WarmUp.Count}: {N1(Median(i.WarmUp.Select(x => x.BuildMs).ToList()))} / {N1(Median(i.WarmUp.Select(x => x.BuildCpuMs).ToList()))}",
                Met(Median(wall) < IncrementalTargetMs, $"{N1(Median(wall))} ms"),
                $"{i.LoadBefore} / {i.LoadAfter}",
                Mb(i.PeakBytes),
            ]);
        }
        Table(sb, rows);
        sb.AppendLine();
        sb.AppendLine("Each build follows the import of one new article (its author and two tags: four feeds), in one process after each other, " +
                      "as the service's FeedBuild job runs after an import. The warm-up builds come first in the same process: the runtime compiles " +
                      "hot code again, optimised, after about 30 calls, in the background, and that lands in the first builds' CPU time (the import's " +
                      "code too); the timed builds are the running service's. Wall time is the machine's: compare it with the load average; the CPU " +
                      "time moves less with other load.");
    }

    private static void Summary(StringBuilder sb, IReadOnlyList<Bench.StoreReport> reports)
    {
        var summary = new List<string[]>
        {
            new[] { "store", "baseline ms", "full build ms", "documents / files written", "full/baseline", "scopes/s", "files/s", "incremental ms (min / median; median CPU ms)", "incr / baseline-per-scope", "peak MB (full build)" },
        };
        foreach (var r in reports)
        {
            if (r.Skipped is not null) { summary.Add([r.Provider, r.Skipped, "", "", "", "", "", "", "", ""]); continue; }
            var b = r.Baseline;
            var f = r.Full;
            var inc = r.Incremental?.Runs.Select(x => x.BuildMs).ToList() ?? [];
            var perScope = b is null || b.Scopes == 0 ? (double?)null : b.RenderMs / b.Scopes;
            summary.Add([
                r.Provider,
                b is null ? "-" : N(b.RenderMs) + (b.TimedOut ? " (stopped)" : ""),
                f is null ? "-" : N(f.Ms) + (f.TimedOut ? $" (STOPPED at {f.ScopesDone:N0}/{f.Scopes:N0} scopes)" : ""),
                f is null ? "-" : $"{f.OutputFeedFiles / 3:N0} / {f.Written:N0}",
                b is null || f is null ? "-" : (f.Ms / b.RenderMs).ToString("0.0x", Inv),
                f is null ? "-" : (f.ScopesDone / (f.Ms / 1000)).ToString("N1", Inv),
                f is null ? "-" : (f.Written / (f.Ms / 1000)).ToString("N0", Inv),
                inc.Count == 0 ? "-" : $"{inc.Min():N1} / {Median(inc):N1}; {Median(r.Incremental!.Runs.Select(x => x.BuildCpuMs).ToList()):N1}",
                inc.Count == 0 || perScope is null ? "-" : $"{Median(inc) / perScope.Value:N1}x (median / {perScope.Value:N1} ms)",
                f is null ? "-" : Mb(f.PeakBytes),
            ]);
        }
        Table(sb, summary);

        sb.AppendLine();
        sb.AppendLine("### Targets");
        sb.AppendLine();
        var targets = new List<string[]> { new[] { "store", "full build < 5 s", "incremental < 100 ms (median)", "peak memory < 400 MB (full build / incremental process)" } };
        foreach (var r in reports.Where(r => r.Skipped is null))
        {
            var f = r.Full;
            var inc = r.Incremental?.Runs.Select(x => x.BuildMs).ToList() ?? [];
            var peak = Math.Max(f?.PeakBytes ?? 0, r.Incremental?.PeakBytes ?? 0) / 1048576.0;
            targets.Add([
                r.Provider,
                f is null ? "-" : Met(!f.TimedOut && f.Ms < FullTargetMs, $"{f.Ms / 1000:N1} s{(f.TimedOut ? ", stopped at the limit" : "")}"),
                inc.Count == 0 ? "-" : Met(Median(inc) < IncrementalTargetMs, $"{Median(inc):N1} ms"),
                f is null ? "-" : Met(peak < PeakTargetMb, $"{Mb(f.PeakBytes)} / {(r.Incremental is null ? "-" : Mb(r.Incremental.PeakBytes))} MB"),
            ]);
        }
        Table(sb, targets);

        sb.AppendLine();
        sb.AppendLine("### Details");
        sb.AppendLine();
        var details = new List<string[]> { new[] { "store", "load", "db size", "scopes", "documents", "feed files / MB", "baseline rss / atom / json ms", "full: written / unchanged", "peak MB: load / baseline / full / incremental" } };
        foreach (var r in reports.Where(r => r.Skipped is null))
        {
            var l = r.Load;
            var b = r.Baseline;
            var f = r.Full;
            details.Add([
                r.Provider,
                l is null ? "-" : $"{l.Articles:N0} articles, {l.ArticleTags:N0} tag links in {l.LoadMs / 1000:N1} s",
                l is null ? "-" : $"{l.DatabaseBytes / 1e6:N0} MB",
                l is null ? "-" : $"{l.Scopes:N0}",
                b is null ? "-" : $"{b.Documents:N0}",
                b is null ? "-" : $"{b.Files:N0} / {b.Bytes / 1e6:N0}",
                b is null ? "-" : $"{N(b.RssMs)} / {N(b.AtomMs)} / {N(b.JsonMs)}",
                f is null ? "-" : $"{f.Written:N0} / {f.Unchanged:N0}",
                $"{(l is null ? "-" : Mb(l.PeakBytes))} / {(b is null ? "-" : Mb(b.PeakBytes))} / {(f is null ? "-" : Mb(f.PeakBytes))} / {(r.Incremental is null ? "-" : Mb(r.Incremental.PeakBytes))}",
            ]);
        }
        Table(sb, details);
        sb.AppendLine();
        sb.AppendLine("Peak MB is Process.PeakWorkingSet64 of the child process that ran only that phase (host start-up included; " +
                      "the baseline's covers holding every article in memory). Baseline = the three writers alone over the same documents, " +
                      "from memory, no database, no files; incr / baseline-per-scope compares one incremental build with the baseline's average " +
                      "cost of rendering one whole scope.");
    }

    private static void Stores(StringBuilder sb, IReadOnlyList<Bench.StoreReport> reports)
    {
        foreach (var r in reports.Where(r => r.Skipped is null))
        {
            sb.AppendLine();
            sb.AppendLine($"### {r.Provider}");
            if (r.Error is not null) sb.AppendLine().AppendLine($"ERROR: {r.Error}");
            foreach (var note in r.Notes) sb.AppendLine().AppendLine(note);
            if (r.Full?.Error is { } fe) sb.AppendLine().AppendLine($"Full build: {fe}.");

            if (r.Incremental is { } i)
            {
                sb.AppendLine();
                if (i.LeftoverDirty > 0 || i.SitePlaceholder)
                    sb.AppendLine($"Before the incremental builds: {i.LeftoverDirty:N0} leftover dirty marks {(i.LeftoverBuilt ? "built (untimed)" : "cleared")}{(i.SitePlaceholder ? "; a placeholder site/rss.xml written (the full build never reached the site scope)" : "")}.").AppendLine();
                if (i.Error is not null) sb.AppendLine($"Incremental: {i.Error}.").AppendLine();
                var rows = new List<string[]> { new[] { "incremental run", "import ms (untimed for the target)", "build ms", "build CPU ms", "scopes", "written", "unchanged", "entries reused" } };
                var n = 0;
                foreach (var run in i.WarmUp.Concat(i.Runs))
                    rows.Add([(++n <= i.WarmUp.Count ? $"warm-up {n}" : (n - i.WarmUp.Count).ToString(Inv)), N1(run.ImportMs), N1(run.BuildMs), N1(run.BuildCpuMs), run.Scopes.ToString(Inv), run.Written.ToString(Inv), run.Unchanged.ToString(Inv), run.Reused.ToString(Inv)]);
                Table(sb, rows);
                if (i.Runs.Count > 0) sb.AppendLine().AppendLine("Run 1 wrote: " + string.Join(", ", i.Runs[0].WrittenSample));
                if (i.Breakdown.Count > 0)
                {
                    sb.AppendLine().AppendLine("One more incremental build, replayed step by step (FeedBuilder.BuildAsync(full: false) through public calls):").AppendLine();
                    var steps = new List<string[]> { new[] { "step", "calls", "ms", "avg ms" } };
                    foreach (var (name, s) in i.Breakdown) steps.Add([name, s.Calls.ToString(Inv), N1(s.Ms), (s.Ms / Math.Max(1, s.Calls)).ToString("N2", Inv)]);
                    Table(sb, steps);
                }
            }

            if (r.Profile is { } p) Profile(sb, p);
            if (r.WhatIf is { } w)
            {
                sb.AppendLine().AppendLine("#### What-if: the same full build streamed (one ordered query per scope, each page rendered and written when complete)").AppendLine();
                Table(sb, [
                    ["wall ms", "vs FeedBuilder", "scopes", "documents / files", "read + map ms", "render ms", "write ms", "peak MB"],
                    [N(w.Ms) + (w.TimedOut ? " (stopped)" : ""), r.Full is null ? "-" : $"{r.Full.Ms / w.Ms:N1}x faster{(r.Full.TimedOut ? " (at least)" : "")}",
                     $"{w.ScopesDone:N0}/{w.Scopes:N0}", $"{w.Documents:N0} / {w.Files:N0}", N(w.QueryMs), N(w.RenderMs), N(w.WriteMs), Mb(w.PeakBytes)],
                ]);
                sb.AppendLine().AppendLine("Benchmark code (Profiler.StreamingAsync), not the product: it shows what the suggestions below buy with the unchanged writers.");
            }
        }
    }

    private static void Profile(StringBuilder sb, ProfileResult p)
    {
        sb.AppendLine();
        sb.AppendLine("#### Where the full build's time goes (instrumented replay)");
        sb.AppendLine();
        string[] groups = ["queries", "render rss.xml", "render atom.xml", "render feed.json", "write file", "per-scope overhead"];
        string Group(string op) => op switch
        {
            _ when op.StartsWith("query", StringComparison.Ordinal) => "queries",
            "render " + Feeds.FeedPaths.Rss => "render rss.xml",
            "render " + Feeds.FeedPaths.Atom => "render atom.xml",
            "render " + Feeds.FeedPaths.Json => "render feed.json",
            "write file" => "write file",
            _ => "per-scope overhead",
        };
        var rows = new List<string[]> { new[] { "scope kind", "scopes", "documents (timed)" }.Concat(groups.Select(g => g + " ms")).Append("total ms").Append("ms / document").ToArray() };
        var totals = new double[groups.Length];
        foreach (var k in p.Kinds)
        {
            var values = groups.Select(g => k.Ops.Where(op => Group(op.Key) == g).Sum(op => op.Value.Ms) * k.Factor).ToArray();
            for (var i = 0; i < values.Length; i++) totals[i] += values[i];
            var total = values.Sum();
            rows.Add(new[] { k.Kind + (k.Factor > 1.0001 ? $" (x{k.Factor:N1})" : ""), k.Scopes.ToString("N0", Inv), $"{k.Documents:N0} ({k.DocumentsMeasured:N0})" }
                .Concat(values.Select(N)).Append(N(total)).Append(k.Documents == 0 ? "-" : N1(total / k.Documents)).ToArray());
        }
        var grand = totals.Sum();
        rows.Add(new[] { "all", "", "" }.Concat(totals.Select(t => $"{N(t)} ({t / grand:P0})")).Append(N(grand)).Append("").ToArray());
        Table(sb, rows);

        sb.AppendLine();
        var ops = new List<string[]> { new[] { "operation", "calls", "ms (scaled)", "avg ms", "max ms" } };
        foreach (var k in p.Kinds)
            foreach (var (name, s) in k.Ops)
                ops.Add([$"{k.Kind}: {name}", s.Calls.ToString("N0", Inv), N(s.Ms * k.Factor), s.Calls == 0 ? "-" : s.Ms / s.Calls < 10 ? (s.Ms / s.Calls).ToString("N2", Inv) : N1(s.Ms / s.Calls), N1(s.MaxMs)]);
        Table(sb, ops);

        if (p.Probes.Count > 0)
        {
            sb.AppendLine();
            var probes = new List<string[]> { new[] { "probe", "ms" } };
            foreach (var (name, ms) in p.Probes) probes.Add([name, ms < 10 ? ms.ToString("N2", Inv) : N1(ms)]);
            Table(sb, probes);
        }
        foreach (var note in p.Notes) sb.AppendLine().AppendLine(note);
        if (p.Plans.Count > 0)
        {
            sb.AppendLine().AppendLine("Query plans:").AppendLine().AppendLine("```");
            foreach (var plan in p.Plans) sb.AppendLine(plan);
            sb.AppendLine("```");
        }
    }

    internal static void Table(StringBuilder sb, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        for (var i = 0; i < rows.Count; i++)
        {
            sb.Append('|');
            for (var c = 0; c < widths.Length; c++) sb.Append(' ').Append((c < rows[i].Length ? rows[i][c] : "").PadRight(widths[c])).Append(" |");
            sb.AppendLine();
            if (i == 0)
            {
                sb.Append('|');
                foreach (var w in widths) sb.Append(new string('-', w + 2)).Append('|');
                sb.AppendLine();
            }
        }
    }

    private static string Met(bool met, string figure) => (met ? "met" : "NOT met") + $" ({figure})";
    private static string N(double v) => v.ToString("N0", Inv);
    private static string N1(double v) => v.ToString("N1", Inv);
    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("N0", Inv);

    private static double Median(IReadOnlyList<double> values)
    {
        var s = values.OrderBy(v => v).ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
