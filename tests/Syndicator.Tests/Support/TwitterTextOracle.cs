using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Syndicator.Tests.Support;

/// <summary>What X's own twitter-text says about a post.</summary>
public sealed record TwitterTextVerdict(int WeightedLength, bool Valid, IReadOnlyList<string> Urls);

/// <summary>
/// X's own library as the oracle: runs <c>node Fixtures/twitter-text/weigh.mjs</c> over the npm package
/// <c>twitter-text</c> that <c>Fixtures/twitter-text/install.sh</c> installed (.ci/run runs it). Without node or the
/// package the tests that use it are skipped locally and fail under CI=true.
/// </summary>
public static class TwitterTextOracle
{
    public static string PackagesHome { get; } =
        Environment.GetEnvironmentVariable("SYNDICATOR_TWITTER_TEXT_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
                "syndicator-tests", "twitter-text");

    public static async Task<IReadOnlyList<TwitterTextVerdict>> ParseAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(PackagesHome, "node_modules", "twitter-text", "package.json")))
        {
            var reason = $"twitter-text is not installed in {PackagesHome}. Run: bash tests/Syndicator.Tests/Fixtures/twitter-text/install.sh (or bash .ci/run).";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail("CI=true but " + reason);
            Assert.Skip(reason);
        }
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(Path.Combine(Repo.Root, "tests", "Syndicator.Tests", "Fixtures", "twitter-text", "weigh.mjs"));
        info.ArgumentList.Add(PackagesHome);
        using var process = Process.Start(info)!;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        Task<string> output, error;
        try
        {
            await process.StandardInput.WriteAsync(JsonSerializer.Serialize(texts).AsMemory(), deadline.Token);
            process.StandardInput.Close();
            output = process.StandardOutput.ReadToEndAsync(deadline.Token);
            error = process.StandardError.ReadToEndAsync(deadline.Token);
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node weigh.mjs did not weigh {texts.Count} text(s) within 60 s.");
        }
        Assert.True(process.ExitCode == 0, $"node weigh.mjs exited with {process.ExitCode}: {await error}");
        return JsonSerializer.Deserialize<List<TwitterTextVerdict>>(await output, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
    }
}
