using System.Globalization;

namespace Syndicator.Benchmarks;

/// <summary>Command-line options. The <c>--phase</c> family is hidden: the parent passes it to its child processes.</summary>
public sealed class BenchOptions
{
    public int Articles { get; set; } = 100_000;
    public int Authors { get; set; } = 1_000;
    public int Tags { get; set; } = 200;
    public string Store { get; set; } = "both";
    public int Seed { get; set; } = 20_250_630;
    public double PhaseTimeoutMinutes { get; set; } = 10;
    public int IncrementalRuns { get; set; } = 5;

    /// <summary>Incremental builds run (and reported) before the timed ones, so these time the code the running service has tiered up.</summary>
    public int IncrementalWarmUp { get; set; }

    /// <summary>auto: profile when the full build misses its target by more than 2x; always; never.</summary>
    public string Profile { get; set; } = "auto";

    /// <summary>Archive pages of the site scope the profile measures (evenly spaced) before extrapolating; 0 = all.</summary>
    public int ProfileSitePages { get; set; } = 100;

    public bool Verify { get; set; } = true;

    /// <summary>Skip the in-memory baseline (at 100,000 articles it takes longer than the full build it stands beside).</summary>
    public bool Baseline { get; set; } = true;
    public bool Keep { get; set; }

    /// <summary>Load and fully build the corpus once (kept under the temp folder, see <see cref="CorpusCache"/>), then time only incremental builds.</summary>
    public bool IncrementalOnly { get; set; }

    /// <summary>With <see cref="IncrementalOnly"/>: build the kept corpus again from scratch.</summary>
    public bool RebuildCorpus { get; set; }

    /// <summary>With <see cref="IncrementalOnly"/>: reuse the kept feeds even if another build of Syndicator wrote them.</summary>
    public bool TrustCorpus { get; set; }
    public string? JsonOut { get; set; }

    // Hidden, parent -> child.
    public string? Phase { get; set; }
    public string Provider { get; set; } = "sqlite";
    public string? Work { get; set; }
    public string? Result { get; set; }
    public bool FullIncomplete { get; set; }

    public TimeSpan PhaseTimeout => TimeSpan.FromMinutes(PhaseTimeoutMinutes);

    public const string Usage = """
        Syndicator feed build benchmark.

          dotnet run -c Release --project tests/Syndicator.Benchmarks -- [options]

          --articles N            articles in the generated corpus (default 100000)
          --authors N             authors, articles spread uniformly over them (default 1000)
          --tags N                tags, 1-3 per article (default 200)
          --quick                 --articles 5000 --authors 100 --tags 30 (explicit options still win)
          --store S               sqlite | postgres | both (default both; PostgreSQL needs SYNDICATOR_TEST_POSTGRES)
          --seed N                RNG seed of the corpus (default 20250630)
          --incremental-runs N    incremental builds to time, one new article each (default 5)
          --incremental-warmup N  incremental builds before the timed ones, reported apart (default 0; 100 with
                                  --incremental-only): the runtime compiles hot code again, optimised, after about 30
                                  calls (twice, with tiered PGO), in the background; in this process that settles after
                                  some 100 builds, and until then it lands in the builds' CPU time
          --profile M             auto | always | never: instrumented breakdown of the full build (default auto:
                                  only when the full build takes more than twice its 5 s target)
          --profile-site-pages N  site archive pages the profile times before extrapolating (default 100, 0 = all)
          --phase-timeout-minutes M  stop a phase gracefully after M minutes (default 10)
          --no-verify             skip checking that the full build wrote the same bytes the baseline rendered
          --no-baseline           skip the in-memory baseline phase (and so the check above)
          --json FILE             also write every result as JSON
          --keep                  keep the temporary databases and output folders
          --incremental-only      time only incremental builds (default 30 runs) against a corpus built once and kept:
                                  $TMPDIR/syndicator-bench-corpus/<store>-<articles>-<authors>-<tags>-<seed>/ (SQLite file
                                  and feed folder; PostgreSQL: a kept database named in corpus.json there). The first
                                  run loads it and runs the full build (phase limit 60 min unless given); later runs
                                  go straight to the incremental builds. Each run adds its articles to the corpus.
          --rebuild-corpus        with --incremental-only: load and build the kept corpus again
          --trust-corpus          with --incremental-only: reuse feeds another build of Syndicator wrote (by default
                                  a changed Syndicator.dll rebuilds the feeds first, as their bytes may differ)

        E-mail delivery with a cluster of 1, 2, 3 service processes (PostgreSQL):
          dotnet run -c Release --project tests/Syndicator.Benchmarks -- cluster [--quick] [--messages N] [--nodes 1,2,3]
          (cluster --help for its options)
        """;

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        if (args.Contains("--quick"))
        {
            o.Articles = 5_000;
            o.Authors = 100;
            o.Tags = 30;
        }

        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() { var name = args[i]; var v = Next(); return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw new ArgumentException($"{name} takes a whole number, not '{v}'."); }
            switch (args[i])
            {
                case "--quick": break;
                case "--articles": o.Articles = Int(); break;
                case "--authors": o.Authors = Int(); break;
                case "--tags": o.Tags = Int(); break;
                case "--store": o.Store = Next().ToLowerInvariant(); break;
                case "--seed": o.Seed = Int(); break;
                case "--incremental-runs": o.IncrementalRuns = Int(); break;
                case "--incremental-warmup": o.IncrementalWarmUp = Int(); break;
                case "--profile": o.Profile = Next().ToLowerInvariant(); break;
                case "--profile-site-pages": o.ProfileSitePages = Int(); break;
                case "--phase-timeout-minutes": o.PhaseTimeoutMinutes = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--no-verify": o.Verify = false; break;
                case "--no-baseline": o.Baseline = false; break;
                case "--keep": o.Keep = true; break;
                case "--incremental-only": o.IncrementalOnly = true; break;
                case "--rebuild-corpus": o.RebuildCorpus = true; break;
                case "--trust-corpus": o.TrustCorpus = true; break;
                case "--json": o.JsonOut = Path.GetFullPath(Next()); break;
                case "--phase": o.Phase = Next(); break;
                case "--provider": o.Provider = Next(); break;
                case "--work": o.Work = Next(); break;
                case "--result": o.Result = Next(); break;
                case "--full-incomplete": o.FullIncomplete = true; break;
                default: throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }

        if (o.IncrementalOnly && o.Phase is null)
        {
            if (!args.Contains("--incremental-runs")) o.IncrementalRuns = 30;
            if (!args.Contains("--incremental-warmup")) o.IncrementalWarmUp = 100;
            if (!args.Contains("--phase-timeout-minutes")) o.PhaseTimeoutMinutes = 60;
            // No baseline to compare the kept corpus's full build with, so its 6 GB are not read back either.
            o.Verify = false;
            o.Baseline = false;
        }
        if ((o.RebuildCorpus || o.TrustCorpus) && !o.IncrementalOnly) throw new ArgumentException("--rebuild-corpus and --trust-corpus go with --incremental-only.");
        if (o.Store is not ("sqlite" or "postgres" or "both")) throw new ArgumentException("--store takes sqlite, postgres or both.");
        if (o.Profile is not ("auto" or "always" or "never")) throw new ArgumentException("--profile takes auto, always or never.");
        if (o.Articles < 1 || o.Authors < 1 || o.Tags < 3) throw new ArgumentException("Need at least 1 article, 1 author and 3 tags.");
        if (o.PhaseTimeoutMinutes <= 0) throw new ArgumentException("--phase-timeout-minutes must be positive.");
        return o;
    }

    /// <summary>The options a child needs to rebuild the same corpus and limits.</summary>
    public IEnumerable<string> ChildArgs()
    {
        yield return "--articles"; yield return Articles.ToString(CultureInfo.InvariantCulture);
        yield return "--authors"; yield return Authors.ToString(CultureInfo.InvariantCulture);
        yield return "--tags"; yield return Tags.ToString(CultureInfo.InvariantCulture);
        yield return "--seed"; yield return Seed.ToString(CultureInfo.InvariantCulture);
        yield return "--incremental-runs"; yield return IncrementalRuns.ToString(CultureInfo.InvariantCulture);
        yield return "--incremental-warmup"; yield return IncrementalWarmUp.ToString(CultureInfo.InvariantCulture);
        yield return "--profile-site-pages"; yield return ProfileSitePages.ToString(CultureInfo.InvariantCulture);
        yield return "--phase-timeout-minutes"; yield return PhaseTimeoutMinutes.ToString(CultureInfo.InvariantCulture);
        if (!Verify) yield return "--no-verify";
    }
}
