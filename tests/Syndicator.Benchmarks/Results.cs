namespace Syndicator.Benchmarks;

public sealed record LoadResult(int Authors, int Articles, int ArticleTags, double LoadMs, long DatabaseBytes, int Scopes, int DirtyMarked, long PeakBytes);

public sealed record BaselineResult(
    double LoadMs, int Articles, int Scopes, int Documents, int Files, long Bytes,
    double RenderMs, double RssMs, double AtomMs, double JsonMs, ulong Digest, bool TimedOut, long PeakBytes);

public sealed record FullResult(
    double Ms, int Scopes, int ScopesDone, int Written, int Unchanged, bool TimedOut, string? Error,
    int OutputFeedFiles, long OutputBytes, ulong? Digest, long PeakBeforeBytes, long PeakBytes);

public sealed record WhatIfResult(
    double Ms, int Scopes, int ScopesDone, int Documents, int Files, long Bytes, ulong Digest, bool TimedOut,
    double QueryMs, double RenderMs, double WriteMs, long PeakBytes);

/// <param name="BuildCpuMs">The CPU time the process spent during the build (all threads): other load on a shared machine moves it less than the wall time.</param>
public sealed record IncrementalRun(double ImportMs, double BuildMs, double BuildCpuMs, int Scopes, int Written, int Unchanged, int Reused, IReadOnlyList<string> WrittenSample);

/// <param name="WarmUp">The builds before the timed ones (<c>--incremental-warmup</c>), in the same process.</param>
/// <param name="LeftoverBuilt">True when the leftover marks were built (untimed) rather than cleared: the full build had finished.</param>
/// <param name="Articles">Published articles in the store before the first timed build.</param>
/// <param name="LoadBefore">The load average (1/5/15 min) before the first timed build; <paramref name="LoadAfter"/> after the last.</param>
public sealed record IncrementalResult(
    IReadOnlyList<IncrementalRun> Runs, IReadOnlyList<IncrementalRun> WarmUp, int LeftoverDirty, bool LeftoverBuilt, bool SitePlaceholder, string? Error, long PeakBytes, Dictionary<string, Stat> Breakdown,
    int Articles, string LoadBefore, string LoadAfter);

/// <summary>Wall time and calls of one measured operation.</summary>
public sealed class Stat
{
    public int Calls { get; set; }
    public double Ms { get; set; }
    public long Bytes { get; set; }
    public double MaxMs { get; set; }

    public void Add(double ms, long bytes = 0)
    {
        Calls++;
        Ms += ms;
        Bytes += bytes;
        if (ms > MaxMs) MaxMs = ms;
    }
}

/// <summary>The full build taken apart: per scope kind, the store queries, each writer and the file writes.</summary>
public sealed class ProfileResult
{
    public sealed class KindRow
    {
        public string Kind { get; set; } = "";
        public int Scopes { get; set; }
        public int Documents { get; set; }
        public int DocumentsMeasured { get; set; }
        public double Factor { get; set; } = 1;
        public Dictionary<string, Stat> Ops { get; set; } = [];

        public Stat Op(string name) => Ops.TryGetValue(name, out var s) ? s : Ops[name] = new Stat();
    }

    public List<KindRow> Kinds { get; set; } = [];
    public Dictionary<string, double> Probes { get; set; } = [];
    public List<string> Plans { get; set; } = [];
    public List<string> Notes { get; set; } = [];
    public bool TimedOut { get; set; }
    public long PeakBytes { get; set; }
}
