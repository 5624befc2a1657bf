using System.ComponentModel;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Syndicator.Tests.Announcements.Bluesky;

[CollectionDefinition(Name)]
public sealed class BlueskyPdsCollection : ICollectionFixture<BlueskyPdsFixture>
{
    public const string Name = "Bluesky PDS";
}

/// <summary>An account made on the test PDS: its handle, DID, account password and an app password.</summary>
public sealed record PdsAccount(string Handle, string Did, string Password, string AppPassword);

/// <summary>
/// A real Bluesky PDS (@atproto/pds) with its did:plc directory (@did-plc/server, in memory) on 127.0.0.1, started once
/// for the tests of <see cref="BlueskyPdsCollection"/>: <c>node Fixtures/bluesky/start-pds.mjs --exit-on-stdin-close</c>
/// on free ports, ready when it prints <c>BLUESKY_PDS_READY {json}</c>, stopped (stdin closed, then killed) at the end.
/// The npm packages come from <c>Fixtures/bluesky/install.sh</c> (.ci/run runs it); without node or the packages the
/// tests are skipped, or fail when CI=true.
/// </summary>
public sealed class BlueskyPdsFixture : IAsyncLifetime
{
    public static TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(90);

    private readonly StringBuilder output = new();
    private readonly Lock gate = new();
    private Process? process;
    private string? unavailable;
    private int accounts;

    public string BaseUrl { get; private set; } = "";
    public string PlcUrl { get; private set; } = "";
    public string ServiceDid { get; private set; } = "";

    /// <summary>The PDS's JWT secret, so a test can make a genuinely expired access token.</summary>
    public string JwtSecret { get; private set; } = "";

    public string PdsVersion { get; private set; } = "";

    /// <summary>A client for setting up and reading back (not the code under test).</summary>
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public static string ScriptPath => Path.Combine(AppContext.BaseDirectory, "Fixtures", "bluesky", "start-pds.mjs");

    public static string PackagesHome =>
        Environment.GetEnvironmentVariable("SYNDICATOR_BLUESKY_PDS_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache
                ? cache
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "syndicator-tests", "bluesky-pds");

    private static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ScriptPath))
        {
            unavailable = $"{ScriptPath} does not exist";
            return;
        }
        if (!File.Exists(Path.Combine(PackagesHome, "node_modules", "@atproto", "pds", "package.json")))
        {
            unavailable = $"@atproto/pds is not installed in {PackagesHome}";
            return;
        }

        var info = new ProcessStartInfo("node")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = Path.GetTempPath(),
        };
        info.ArgumentList.Add(ScriptPath);
        info.ArgumentList.Add("--exit-on-stdin-close");
        info.Environment["SYNDICATOR_BLUESKY_PDS_HOME"] = PackagesHome;
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("PDS_", StringComparison.Ordinal) || k == "PLC_PORT").ToList())
            info.Environment.Remove(key);

        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            Append("out", e.Data);
            if (e.Data.StartsWith("BLUESKY_PDS_READY ", StringComparison.Ordinal)) ready.TrySetResult(e.Data["BLUESKY_PDS_READY ".Length..]);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Append("err", e.Data); };
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("start-pds.mjs exited before it was ready"));
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            unavailable = $"node could not be started ({e.Message}); install Node.js";
            process = null;
            return;
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        string json;
        try
        {
            json = await ready.Task.WaitAsync(StartTimeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            unavailable = $"the PDS did not start ({e.Message}):{Environment.NewLine}{Output}";
            await StopAsync();
            return;
        }
        var readyInfo = JsonNode.Parse(json)!;
        BaseUrl = readyInfo["pds"]!.GetValue<string>();
        PlcUrl = readyInfo["plc"]!.GetValue<string>();
        ServiceDid = readyInfo["serviceDid"]!.GetValue<string>();
        JwtSecret = readyInfo["jwtSecret"]!.GetValue<string>();
        PdsVersion = readyInfo["versions"]?["pds"]?.GetValue<string>() ?? "";
    }

    public string Output { get { lock (gate) return output.ToString(); } }

    private void Append(string stream, string line)
    {
        lock (gate)
            if (output.Length < 200_000) output.Append(stream).Append(": ").AppendLine(line);
    }

    /// <summary>Skips the test (fails it when CI=true) when the PDS could not be started.</summary>
    public void Require()
    {
        if (unavailable is null) return;
        if (IsCi)
            Assert.Fail($"CI=true but the Bluesky test PDS is unavailable: {unavailable}. .ci/run's 'install Bluesky PDS' step runs tests/Syndicator.Tests/Fixtures/bluesky/install.sh.");
        Assert.Skip($"Bluesky test PDS unavailable: {unavailable}. Run: bash tests/Syndicator.Tests/Fixtures/bluesky/install.sh (or bash .ci/run).");
    }

    /// <summary>Creates an account (handle <c>{prefix}N-xxxx.test</c>) and an app password for it.</summary>
    public async Task<PdsAccount> CreateAccountAsync(string prefix, CancellationToken cancellationToken)
    {
        Require();
        var n = Interlocked.Increment(ref accounts);
        var suffix = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        var handle = $"{prefix}{n}-{suffix}.test";
        var password = "pw-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
        var created = await XrpcAsync(HttpMethod.Post, "com.atproto.server.createAccount", new JsonObject
        {
            ["handle"] = handle,
            ["email"] = $"{prefix}{n}-{suffix}@example.com",
            ["password"] = password,
        }, null, cancellationToken);
        var did = created["did"]!.GetValue<string>();
        var access = created["accessJwt"]!.GetValue<string>();
        var appPassword = await XrpcAsync(HttpMethod.Post, "com.atproto.server.createAppPassword", new JsonObject { ["name"] = "syndicator" }, access, cancellationToken);
        return new PdsAccount(handle, did, password, appPassword["password"]!.GetValue<string>());
    }

    /// <summary>A record as <c>com.atproto.repo.getRecord</c> returns it ({uri, cid, value}), or null when not found.</summary>
    public async Task<JsonNode?> GetRecordAsync(string did, string collection, string rkey, CancellationToken cancellationToken)
    {
        using var response = await Http.GetAsync($"{BaseUrl}/xrpc/com.atproto.repo.getRecord?repo={Uri.EscapeDataString(did)}&collection={collection}&rkey={rkey}", cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode && text.Contains("RecordNotFound", StringComparison.Ordinal)) return null;
        Assert.True(response.IsSuccessStatusCode, $"getRecord answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text);
    }

    public async Task<JsonArray> ListRecordsAsync(string did, string collection, CancellationToken cancellationToken)
    {
        var list = await XrpcAsync(HttpMethod.Get, $"com.atproto.repo.listRecords?repo={Uri.EscapeDataString(did)}&collection={collection}&limit=100", null, null, cancellationToken);
        return list["records"]!.AsArray();
    }

    public async Task<byte[]> GetBlobAsync(string did, string cid, CancellationToken cancellationToken) =>
        await Http.GetByteArrayAsync($"{BaseUrl}/xrpc/com.atproto.sync.getBlob?did={Uri.EscapeDataString(did)}&cid={cid}", cancellationToken);

    /// <summary>An HS256 access token for <paramref name="did"/> signed with the PDS's own secret, expired an hour ago.</summary>
    public string ExpiredAccessToken(string did)
    {
        static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = B64(JsonSerializer.SerializeToUtf8Bytes(new { typ = "at+jwt", alg = "HS256" }));
        var payload = B64(JsonSerializer.SerializeToUtf8Bytes(new { scope = "com.atproto.appPass", aud = ServiceDid, sub = did, iat = now - 3 * 3600, exp = now - 3600 }));
        var signature = B64(HMACSHA256.HashData(Encoding.UTF8.GetBytes(JwtSecret), Encoding.ASCII.GetBytes($"{header}.{payload}")));
        return $"{header}.{payload}.{signature}";
    }

    public async Task<JsonNode> XrpcAsync(HttpMethod method, string nsidAndQuery, JsonObject? body, string? bearer, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, $"{BaseUrl}/xrpc/{nsidAndQuery}");
        if (body is not null) request.Content = JsonContent.Create(body);
        if (bearer is not null) request.Headers.Authorization = new("Bearer", bearer);
        using var response = await Http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{nsidAndQuery} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Http.Dispose();
    }

    private async Task StopAsync()
    {
        if (process is null) return;
        try
        {
            if (!process.HasExited)
            {
                process.StandardInput.Close(); // start-pds.mjs stops itself and deletes its data directory
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try { await process.WaitForExitAsync(cts.Token); } catch (OperationCanceledException) { }
            }
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        catch (Win32Exception) { }
        catch (IOException) { }
        process.Dispose();
        process = null;
    }
}
