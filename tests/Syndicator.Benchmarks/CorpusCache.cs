using System.Text.Json;

namespace Syndicator.Benchmarks;

/// <summary>
/// The corpus <c>--incremental-only</c> keeps between runs: loading 100,000 articles and building every feed of them
/// takes many minutes, an incremental build a fraction of a second, so the store and its feed folder are built once and
/// reused. The folder holds the SQLite file (or names the kept PostgreSQL database), the feed folder and
/// <c>corpus.json</c>, which is written only once the full build finished, so a corpus whose build stopped is built again.
/// </summary>
public static class CorpusCache
{
    /// <summary>What the kept corpus is: the options it was generated with, and which build of Syndicator wrote its feeds.</summary>
    public sealed record Stamp(string Provider, int Articles, int Authors, int Tags, int Seed, string? Database, string SyndicatorBuild, DateTimeOffset BuiltAt,
        int ArticlesAdded);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static string Folder(BenchOptions o, string provider) =>
        Path.Combine(Path.GetTempPath(), "syndicator-bench-corpus", $"{provider}-{o.Articles}-{o.Authors}-{o.Tags}-{o.Seed}");

    /// <summary>The kept PostgreSQL database of these options (at most 63 characters, as PostgreSQL allows).</summary>
    public static string DatabaseName(BenchOptions o) => $"syn_corpus_{o.Articles}_{o.Authors}_{o.Tags}_{o.Seed}";

    /// <summary>
    /// The build of Syndicator.dll this bench runs (its module version id changes with its code): feeds another build
    /// wrote may differ in bytes from what this one writes, and an incremental build reuses their entries.
    /// </summary>
    public static string SyndicatorBuild => typeof(Syndicator.Feeds.FeedBuilder).Assembly.ManifestModule.ModuleVersionId.ToString("N");

    public static string StampPath(string folder) => Path.Combine(folder, "corpus.json");

    public static Stamp? Read(string folder)
    {
        var path = StampPath(folder);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<Stamp>(File.ReadAllText(path), Json); }
        catch (JsonException e)
        {
            Bench.Log($"{path} does not read ({e.Message}): the corpus is built again");
            return null;
        }
    }

    public static void Write(string folder, Stamp stamp) => File.WriteAllText(StampPath(folder), JsonSerializer.Serialize(stamp, Json));

    /// <summary>One bench at a time per kept corpus: two would add articles to the same store and race on its feed folder.</summary>
    public static FileStream Lock(string folder)
    {
        try { return new FileStream(Path.Combine(folder, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e)
        {
            throw new InvalidOperationException($"Another bench is using the kept corpus {folder} ({e.Message}); wait for it to finish.", e);
        }
    }
}
