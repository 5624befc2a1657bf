using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.ActivityPub;

/// <summary>One activity Fedify's inbox accepted (so its signature verified with Fedify's own code).</summary>
public sealed record FedifyReceived(string Type, string? Id, string? Actor, string Inbox, string? ObjectId, string? ObjectType, string? ObjectName, JsonElement Json);

/// <summary>What Fedify's WebFinger lookup and actor fetch found for a handle, and the Follow it sent.</summary>
public sealed record FedifyFollow(string? Actor, string? Name, string? Type, string? FollowId, string? Error);

/// <summary>An answer of our inbox to a request Fedify signed, and which scheme Fedify's headers carried.</summary>
public sealed record FedifySendResult(int Status, string Body, string SignedWith);

/// <summary>
/// Fedify (npm @fedify/fedify, an ActivityPub implementation that is not ours) running Fixtures/fedify/server.mjs on
/// loopback: a server with the accounts reader1 and reader2 and a shared inbox, driven through its /control/ endpoints.
/// Installed by Fixtures/fedify/install.sh (.ci/run runs it); without it the tests are skipped locally and fail under CI=true.
/// </summary>
public sealed class FedifyServer : IAsyncDisposable
{
    public static string PackagesHome { get; } =
        Environment.GetEnvironmentVariable("SYNDICATOR_FEDIFY_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
                "syndicator-tests", "fedify");

    private readonly Process process;
    private readonly StringBuilder errors;
    private readonly HttpClient http;

    private FedifyServer(Process process, StringBuilder errors, string url)
    {
        this.process = process;
        this.errors = errors;
        Url = url;
        // Fedify's WebFinger lookup, actor fetch and signed sends happen while the control request waits.
        http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
    }

    public string Url { get; }

    public string SharedInbox => Url + "/inbox";

    public string ActorUrl(string account) => $"{Url}/users/{account}";

    public static async Task<FedifyServer> StartAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(PackagesHome, "node_modules", "@fedify", "fedify", "package.json")))
        {
            var reason = $"Fedify is not installed in {PackagesHome}. Run: bash tests/Syndicator.Tests/Fixtures/fedify/install.sh (or bash .ci/run).";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail("CI=true but " + reason);
            Assert.Skip(reason);
        }
        var info = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, StandardOutputEncoding = Encoding.UTF8 };
        info.ArgumentList.Add(Path.Combine(Repo.Root, "tests", "Syndicator.Tests", "Fixtures", "fedify", "server.mjs"));
        info.ArgumentList.Add(PackagesHome);
        var process = Process.Start(info)!;
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (errors) errors.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        // Loading Fedify takes a few seconds, far more on a busy machine.
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(TimeSpan.FromMinutes(2));
        string? line;
        try
        {
            line = await process.StandardOutput.ReadLineAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            line = null;
        }
        if (line is null)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"node server.mjs did not start: {errors}");
        }
        var url = JsonDocument.Parse(line!).RootElement.GetProperty("url").GetString()!;
        return new FedifyServer(process, errors, url);
    }

    public async Task<FedifyFollow> FollowAsync(string account, string handle, CancellationToken cancellationToken)
    {
        var answer = await PostAsync<FedifyFollow>("/control/follow", new { @as = account, handle }, cancellationToken);
        Assert.True(answer.Error is null, $"Fedify could not follow {handle}: {answer.Error}");
        return answer;
    }

    public Task UnfollowAsync(string account, string actor, string followId, CancellationToken cancellationToken) =>
        PostAsync<JsonElement>("/control/unfollow", new { @as = account, actor, followId }, cancellationToken);

    /// <summary>
    /// A POST of <paramref name="activity"/> (its actor set to the account) signed by Fedify's signRequest, with
    /// draft-cavage or, when <paramref name="spec"/> is <c>rfc9421</c>, RFC 9421, then altered as asked.
    /// </summary>
    public Task<FedifySendResult> SendAsync(string account, string inbox, JsonObject activity, string alter, CancellationToken cancellationToken, string spec = "draft-cavage") =>
        PostAsync<FedifySendResult>("/control/send", new { @as = account, inbox, activity, alter, spec }, cancellationToken);

    public async Task<IReadOnlyList<FedifyReceived>> ReceivedAsync(CancellationToken cancellationToken) =>
        (await http.GetFromJsonAsync<List<FedifyReceived>>("/control/received", Json, cancellationToken))!;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private async Task<T> PostAsync<T>(string path, object body, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(path, body, Json, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"Fedify {path} answered {(int)response.StatusCode}: {text}\n{Errors}");
        return JsonSerializer.Deserialize<T>(text, Json)!;
    }

    public string Errors
    {
        get { lock (errors) return errors.ToString(); }
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        // Also waits for the end of its error stream; a process tree that outlives a kill must not hold the run.
        using var gone = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await process.WaitForExitAsync(gone.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"node server.mjs (pid {process.Id}) still runs, or its output is still open, 10 s after it was killed."); }
        finally { process.Dispose(); }
    }
}
