using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Syndicator.ActivityPub;
using Syndicator.Articles.Import;
using Syndicator.Storage;
using Syndicator.Tests.Support;
using static Syndicator.Tests.Cluster.ClusterDatabase;

namespace Syndicator.Tests.Cluster;

/// <summary>
/// Issue #16's cluster proof: three real service processes on one PostgreSQL database deliver the Creates of 12
/// articles to 16 follower inboxes (4 servers' shared inboxes, 12 single-inbox accounts) on a loopback inbox server
/// that checks every request's signature and digest, and one node is SIGKILLed while it holds deliveries in flight.
/// Every inbox gets every Create, and no inbox gets one twice, except a delivery the killed node held in flight (its
/// POST may have arrived before the process died; the survivor that takes it over sends it again, and a receiver drops
/// the repeated activity id as Mastodon does). Some inboxes misbehave: one answers 500 to each activity's first POST,
/// one drops the connection, one answers 429 once. The figures go to the test output and to <c>/tmp/activitypub-cluster-proof.txt</c>.
/// </summary>
public sealed partial class ActivityPubClusterTests
{
    private const int Articles = 12;
    private const int SharedServers = 4;
    private const int AccountsPerServer = 3;
    private const int SoloInboxes = 12;
    private const int Inboxes = SharedServers + SoloInboxes;
    private const int Nodes = 3;
    private const int LeaseSeconds = 10;
    public const string ReportPath = "/tmp/activitypub-cluster-proof.txt";

    private static readonly TimeSpan NodeStartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan KillPointTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(180);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] Titles =
    [
        "شهرهای بی‌خواب", "城市与河流", "Ciudades 🌆 de noche", "Lignes <b>&amp;</b> \"quotes\"", "مقاله‌ی پنجم", "東京の夜明け",
        "Emoji 🧪🚇", "Ordinary title", "العربية في المدينة", "Zero\u200Bwidth", "Long " + new string('x', 300), "Last one",
    ];

    [Fact(Timeout = 600_000)]
    public async Task Three_nodes_send_each_Create_to_each_follower_inbox_exactly_once_when_one_node_is_killed_mid_delivery()
    {
        var ct = TestContext.Current.CancellationToken;
        TestStore.RequirePostgres();
        var report = new List<string>();
        var received = new ConcurrentQueue<InboxPost>();
        var firstSeen = new ConcurrentDictionary<(string Inbox, string Activity), int>();
        var posts = 0;
        var limited = 0;
        string? publicPem = null;
        string? keyId = null;

        await using var remote = await LoopbackServer.StartAsync(web => web.MapPost("/{**path}", async (HttpContext context) =>
        {
            var number = Interlocked.Increment(ref posts);
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var body = buffer.ToArray();
            var inbox = context.Request.Path.Value!;
            var problem = CheckSignature(context.Request, body, Volatile.Read(ref publicPem), Volatile.Read(ref keyId));
            string? id = null, type = null, objectId = null;
            try
            {
                using var json = JsonDocument.Parse(body);
                id = json.RootElement.GetProperty("id").GetString();
                type = json.RootElement.GetProperty("type").GetString();
                objectId = json.RootElement.GetProperty("object").GetProperty("id").GetString();
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                problem ??= "the body is not an activity with an id, a type and an object id";
            }
            if (problem is not null)
            {
                received.Enqueue(new InboxPost(number, inbox, id, type, objectId, 401, problem));
                return Results.Problem(problem, statusCode: 401);
            }
            var attempt = firstSeen.AddOrUpdate((inbox, id!), 1, (_, n) => n + 1);
            // The misbehaving servers: each activity's first POST fails in its own way.
            if (inbox == "/s1/inbox" && attempt == 1)
            {
                received.Enqueue(new InboxPost(number, inbox, id, type, objectId, 500, null));
                return Results.StatusCode(500);
            }
            if (inbox == "/solo/3/inbox" && attempt == 1)
            {
                received.Enqueue(new InboxPost(number, inbox, id, type, objectId, 0, null));
                context.Abort();
                return Results.Empty;
            }
            if (inbox == "/s2/inbox" && Interlocked.Exchange(ref limited, 1) == 0)
            {
                received.Enqueue(new InboxPost(number, inbox, id, type, objectId, 429, null));
                context.Response.Headers.RetryAfter = "1";
                return Results.StatusCode(429);
            }
            // A real server takes a moment to store an activity: this keeps deliveries in flight when the node is killed.
            await Task.Delay(100, CancellationToken.None);
            received.Enqueue(new InboxPost(number, inbox, id, type, objectId, 202, null));
            return Results.StatusCode(202);
        }));

        // ------------------------------------------------------------------ seed, in-process, through the real composition root
        using var secrets = new EnvironmentScope();
        var port = ClusterNodes.FreePort();
        var siteUrl = $"http://127.0.0.1:{port}";
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Clustered"] = "true",
            ["Site:BaseUrl"] = siteUrl,
            ["Import:SamplesPath"] = "",
            ["Digests:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates"),
            ["Announcements:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates"),
            ["Digests:SigningKey"] = secrets.Set("SYN_AP_CLUSTER_SIGNING_KEY_" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), Convert.ToBase64String(Guid.NewGuid().ToByteArray())),
            ["Deliveries:LeaseSeconds"] = LeaseSeconds.ToString(CultureInfo.InvariantCulture),
            ["Deliveries:RetryBaseSeconds"] = "1",
            ["Deliveries:RetryMaxSeconds"] = "3",
            ["ActivityPub:Enabled"] = "true",
            ["ActivityPub:Username"] = "magazine",
            ["ActivityPub:Authors:0:Name"] = "پریسا احمدی",
            ["ActivityPub:Authors:0:Username"] = "parisa",
            ["ActivityPub:DeliveriesPerSecond"] = "50",
            // The inboxes are on loopback.
            ["ActivityPub:AllowPrivateAddresses"] = "true",
        };
        await using var app = await TestApp.CreateAsync(StorageProvider.PostgreSql, settings);
        var database = app.Store.ConnectionString;
        var actors = app.Get<LocalActors>();
        var keys = await app.Get<ActorKeys>().GetAsync(actors.Publication, Ct);
        Volatile.Write(ref publicPem, keys.PublicPem);
        Volatile.Write(ref keyId, actors.KeyId(actors.Publication));

        var expectedInboxes = await SeedFollowersAsync(app, remote.BaseUrl);
        Assert.Equal(Inboxes, expectedInboxes.Count);
        await ImportAsync(app);
        var planned = await ScalarAsync(database, "SELECT COUNT(*) FROM deliveries WHERE channel = 'activitypub' AND state = 'pending'");
        Assert.True(planned == Articles * Inboxes, $"{Articles} articles to {Inboxes} inboxes should plan {Articles * Inboxes} Creates; {planned} are pending.");
        var objects = (await RowsAsync(database, c => c.QueryAsync<string>("SELECT id FROM articles"))).Select(id => actors.ObjectUrl(id, 1)).ToHashSet(StringComparer.Ordinal);

        // ------------------------------------------------------------------ three real nodes
        var environment = settings.ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value);
        environment["Storage__Provider"] = "PostgreSql";
        environment["Storage__ConnectionString"] = new NpgsqlConnectionStringBuilder(database) { Password = null }.ConnectionString;
        environment["PGPASSWORD"] = new NpgsqlConnectionStringBuilder(database).Password;
        environment["Site__AllowLocalUrls"] = "true";
        environment["Storage__MigrateOnStart"] = "true";
        environment["Jobs__ActivityPub__IntervalSeconds"] = "1";
        foreach (var job in Syndicator.Scheduling.JobCatalog.Names.Where(j => j != Syndicator.Scheduling.JobCatalog.ActivityPub))
            environment[$"Jobs__{job}__Enabled"] = "false";

        await using var cluster = new ClusterNodes();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Nodes; i++)
            cluster.Add(ClusterNode.Start($"node{i + 1}", Path.Combine(app.Dir.Path, $"node{i + 1}"), i == 0 ? port : ClusterNodes.FreePort(), environment));
        await Task.WhenAll(cluster.All.Select(n => n.Process.WaitForHttpAsync(n.BaseUrl + "/health", NodeStartTimeout, Ct)));

        // ------------------------------------------------------------------ kill the node that holds deliveries in flight, a third of the way through
        var third = Articles * Inboxes / 3;
        long sentAtKill;
        while (true)
        {
            sentAtKill = await ScalarAsync(database, "SELECT COUNT(*) FROM deliveries WHERE channel = 'activitypub' AND state = 'sent'");
            if (sentAtKill >= third) break;
            if (clock.Elapsed > KillPointTimeout)
                Assert.Fail($"Only {sentAtKill} of {planned} Creates were sent {KillPointTimeout.TotalSeconds:0} s after the nodes started.{Environment.NewLine}{await StatesAsync(database)}{Environment.NewLine}{cluster.Tails()}");
            cluster.ThrowIfAnyExited();
            await Task.Delay(50, ct);
        }
        ClusterNode? victim = null;
        var lookFor = Stopwatch.StartNew();
        while (victim is null)
        {
            var holding = (await RowsAsync(database, c => c.QueryAsync<(string Node, long Count)>(
                "SELECT claimed_by, COUNT(*) FROM deliveries WHERE channel = 'activitypub' AND state = 'in-flight' AND claimed_by IS NOT NULL GROUP BY claimed_by"))).ToDictionary(r => r.Node, r => r.Count);
            victim = cluster.All.Where(n => holding.ContainsKey(n.NodeName)).MaxBy(n => holding[n.NodeName]);
            if (victim is null && lookFor.Elapsed > TimeSpan.FromSeconds(30))
                Assert.Fail($"No node held an ActivityPub delivery in flight for 30 s after a third was sent.{Environment.NewLine}{await StatesAsync(database)}");
            if (victim is null) await Task.Delay(10, Ct);
        }
        victim.KillHard();
        cluster.Killed = victim;
        var killedAt = DateTimeOffset.UtcNow;
        // The dead node's claims stay as they were until their lease runs out: these are what it held when it died.
        var heldByVictim = (await RowsAsync(database, c => c.QueryAsync<(long Id, string Recipient)>(
            "SELECT id, recipient FROM deliveries WHERE channel = 'activitypub' AND state = 'in-flight' AND claimed_by = @node", new { node = victim.NodeName }))).ToList();
        var survivors = cluster.All.Where(n => n != victim).ToList();

        // ------------------------------------------------------------------ wait until nothing is left to do
        var drain = Stopwatch.StartNew();
        while (true)
        {
            var open = await ScalarAsync(database, "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'in-flight', 'retry-wait')");
            if (open == 0) break;
            if (drain.Elapsed > DrainTimeout)
                Assert.Fail($"{open} deliveries were still open {DrainTimeout.TotalSeconds:0} s after the kill.{Environment.NewLine}{await StatesAsync(database)}{Environment.NewLine}{cluster.Tails()}");
            cluster.ThrowIfAnyExited();
            await Task.Delay(250, ct);
        }
        var took = clock.Elapsed;

        // ------------------------------------------------------------------ figures
        var all = received.OrderBy(p => p.Number).ToList();
        var accepted = all.Where(p => p.Status == 202).ToList();
        var byState = await RowsAsync(database, c => c.QueryAsync<(string State, long Count)>(
            "SELECT state, COUNT(*) FROM deliveries WHERE channel = 'activitypub' GROUP BY state ORDER BY state"));
        var sentByNode = await RowsAsync(database, c => c.QueryAsync<(string? Node, long Count)>(
            "SELECT claimed_by, COUNT(*) FROM deliveries WHERE channel = 'activitypub' AND state = 'sent' GROUP BY claimed_by ORDER BY claimed_by"));
        var sentAfterKill = await RowsAsync(database, c => c.QueryAsync<(string? Node, long Count)>(
            "SELECT claimed_by, COUNT(*) FROM deliveries WHERE channel = 'activitypub' AND state = 'sent' AND sent_at > @killedAt GROUP BY claimed_by",
            new { killedAt }));
        var retried = await ScalarAsync(database, "SELECT COUNT(*) FROM deliveries WHERE channel = 'activitypub' AND attempts > 1");
        string Name(string? node) => cluster.All.FirstOrDefault(n => n.NodeName == node) is { } n ? $"{n.Label}{(n == victim ? " (killed)" : "")}" : node ?? "(none)";
        report.Add($"ActivityPub cluster proof: {Nodes} nodes, {Articles} articles, {Inboxes} inboxes ({SharedServers} shared inboxes of {AccountsPerServer} accounts, {SoloInboxes} single), lease {LeaseSeconds} s");
        report.Add($"killed {victim.Label} (pid {victim.Pid}) when {sentAtKill} of {planned} Creates were sent; it held {heldByVictim.Count} in flight");
        report.Add($"POSTs at the inboxes: {all.Count} ({accepted.Count} accepted, {all.Count(p => p.Status == 500)} answered 500, {all.Count(p => p.Status == 0)} dropped, {all.Count(p => p.Status == 429)} answered 429, {all.Count(p => p.Status == 401)} refused for their signature)");
        report.Add("sent per node: " + string.Join(", ", sentByNode.Select(r => $"{Name(r.Node)} {r.Count}")) + "; after the kill: " + string.Join(", ", sentAfterKill.Select(r => $"{Name(r.Node)} {r.Count}")));
        report.Add("deliveries by state: " + string.Join(", ", byState.Select(r => $"{r.State} {r.Count}")) + $"; with more than one attempt: {retried}");
        report.Add($"time from starting the nodes to nothing left: {took.TotalSeconds:0.0} s");
        var text = string.Join(Environment.NewLine, report);
        TestContext.Current.TestOutputHelper?.WriteLine(text);
        await File.WriteAllTextAsync(ReportPath, text + Environment.NewLine, ct);

        // ------------------------------------------------------------------ the proof
        var problems = new List<string>();
        foreach (var refused in all.Where(p => p.Status == 401).Take(5)) problems.Add($"POST #{refused.Number} to {refused.Inbox} was refused: {refused.Problem}");
        if (all.Any(p => p.Type != "Create")) problems.Add($"{all.Count(p => p.Type != "Create")} POST(s) were not a Create");
        var strangers = all.Where(p => !expectedInboxes.Contains(p.Inbox)).Select(p => p.Inbox).Distinct().ToList();
        if (strangers.Count > 0) problems.Add($"POSTs went to inboxes that no follower has: {string.Join(", ", strangers)}");
        var unknownObjects = accepted.Where(p => p.ObjectId is null || !objects.Contains(p.ObjectId)).ToList();
        if (unknownObjects.Count > 0) problems.Add($"{unknownObjects.Count} Create(s) carry an object that is none of our articles");
        foreach (var inbox in expectedInboxes)
        {
            var got = accepted.Where(p => p.Inbox == inbox).Select(p => p.ObjectId).ToHashSet(StringComparer.Ordinal);
            var missing = objects.Where(o => !got.Contains(o)).ToList();
            if (missing.Count > 0) problems.Add($"{inbox} never got the Create of {missing.Count} article(s), e.g. {missing[0]}");
        }
        // An inbox whose delivery the killed node held may have it twice (the POST arrived, the process died before it
        // wrote "sent"); the receiver drops the repeated id. Nowhere else may an activity arrive twice.
        foreach (var repeated in accepted.GroupBy(p => (p.Inbox, p.Id)).Where(g => g.Count() > 1))
        {
            var excused = repeated.Count() == 2 && heldByVictim.Any(h => h.Recipient == remote.BaseUrl + repeated.Key.Inbox);
            if (!excused) problems.Add($"{repeated.Key.Inbox} accepted {repeated.Key.Id} {repeated.Count()} times");
        }
        var notSent = byState.Where(r => r.State != "sent").ToList();
        if (notSent.Count > 0) problems.Add("deliveries are not sent: " + string.Join(", ", notSent.Select(r => $"{r.State} {r.Count}")));
        var survivorNames = survivors.Select(s => s.NodeName).ToHashSet(StringComparer.Ordinal);
        if (!sentAfterKill.Any(r => r.Node is not null && survivorNames.Contains(r.Node))) problems.Add("no survivor sent a Create after the kill");
        if (sentAfterKill.Any(r => r.Node is null || !survivorNames.Contains(r.Node))) problems.Add("rows sent after the kill name a node that is not a survivor");
        if (victim.PidAlive()) problems.Add($"the killed node's pid {victim.Pid} is still alive");
        if (!all.Any(p => p.Status == 500) || !all.Any(p => p.Status == 0) || !all.Any(p => p.Status == 429)) problems.Add("the failing inboxes were never reached (the test proves less than it says)");

        Assert.True(problems.Count == 0, $"ActivityPub did not deliver exactly once:{Environment.NewLine}- {string.Join(Environment.NewLine + "- ", problems)}{Environment.NewLine}{Environment.NewLine}{text}{Environment.NewLine}{cluster.Tails()}");
    }

    /// <summary>One POST the inbox server received, and what it answered (0: it dropped the connection).</summary>
    private sealed record InboxPost(int Number, string Inbox, string? Id, string? Type, string? ObjectId, int Status, string? Problem);

    /// <summary>
    /// Followers written as the inbox writes them (FollowerStore.AddAsync): on each of 4 servers 3 accounts, one
    /// following the author, behind the server's shared inbox; 12 accounts with only their own inbox. Returns the inbox paths.
    /// </summary>
    private static async Task<HashSet<string>> SeedFollowersAsync(TestApp app, string remote)
    {
        var followers = app.Get<FollowerStore>();
        var inboxes = new HashSet<string>(StringComparer.Ordinal);
        await using var connection = await app.Get<Database>().OpenAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        for (var s = 0; s < SharedServers; s++)
            for (var a = 0; a < AccountsPerServer; a++)
            {
                var actor = $"{remote}/s{s}/users/کاربر{a}";
                await followers.AddAsync(connection, transaction, a == 0 ? "parisa" : "magazine", new RemoteActor(actor, actor + "/inbox", $"{remote}/s{s}/inbox"),
                    actor + "/follows/1", FollowState.Accepted, Ct);
                inboxes.Add($"/s{s}/inbox");
            }
        for (var i = 0; i < SoloInboxes; i++)
        {
            var actor = $"{remote}/solo/{i}";
            await followers.AddAsync(connection, transaction, "magazine", new RemoteActor(actor, actor + "/inbox", null), actor + "/follow", FollowState.Accepted, Ct);
            inboxes.Add($"/solo/{i}/inbox");
        }
        // A held follow gets nothing.
        await followers.AddAsync(connection, transaction, "magazine", new RemoteActor($"{remote}/held", $"{remote}/held/inbox", null), $"{remote}/held/follow", FollowState.Pending, Ct);
        await transaction.CommitAsync(Ct);
        return inboxes;
    }

    /// <summary>12 articles, half by the author who is an account, imported as Markdown files (the planner makes their Creates).</summary>
    private static async Task ImportAsync(TestApp app)
    {
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < Articles; i++)
        {
            var author = i % 2 == 0 ? "پریسا احمدی" : "Someone Else";
            app.Dir.File($"articles/a{i:D2}.md",
                $"---\ntitle: {JsonSerializer.Serialize(Titles[i])}\nslug: a{i:D2}\nauthor: {author}\ndate: {now.AddMinutes(-60 + i):O}\ntags: [شهر, cluster]\n---\nDispatch {i + 1}: متن مقاله.\n");
        }
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([Path.Combine(app.Dir.Path, "articles")], null, Ct);
        Assert.True(summary.Rejected == 0 && summary.Created == Articles, $"import: {summary.Created} created, {summary.Rejected} rejected: {string.Join("; ", summary.Files.Where(f => f.Rejected))}");
    }

    /// <summary>
    /// The receiver's check, written here rather than borrowed from the service: a draft-cavage rsa-sha256 signature
    /// by our key over (request-target), host, date, digest and content-type, a SHA-256 Digest of the body, a Date
    /// within the hour. Null when it holds.
    /// </summary>
    private static string? CheckSignature(HttpRequest request, byte[] body, string? publicPem, string? expectedKeyId)
    {
        if (publicPem is null) return "the test has not read the key yet";
        var header = request.Headers["Signature"].ToString();
        var fields = SignatureField().Matches(header).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
        if (fields.GetValueOrDefault("keyId") != expectedKeyId) return $"keyId is {fields.GetValueOrDefault("keyId")}, not {expectedKeyId}";
        if (fields.GetValueOrDefault("algorithm") != "rsa-sha256") return "not rsa-sha256";
        var names = fields.GetValueOrDefault("headers", "").Split(' ');
        foreach (var required in new[] { "(request-target)", "host", "date", "digest" })
            if (!names.Contains(required)) return $"the signature does not cover {required}";
        if (request.Headers["Digest"].ToString() != "SHA-256=" + Convert.ToBase64String(SHA256.HashData(body))) return "the Digest does not match the body";
        if (!DateTimeOffset.TryParse(request.Headers.Date.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date) ||
            (DateTimeOffset.UtcNow - date).Duration() > TimeSpan.FromHours(1)) return $"the Date {request.Headers.Date} is not within the hour";
        var signingString = string.Join("\n", names.Select(n => n == "(request-target)"
            ? $"(request-target): post {request.Path.ToUriComponent()}{request.QueryString}"
            : $"{n}: {request.Headers[n]}"));
        using var rsa = RSA.Create();
        rsa.ImportFromPem(publicPem);
        return rsa.VerifyData(Encoding.UTF8.GetBytes(signingString), Convert.FromBase64String(fields.GetValueOrDefault("signature", "")), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            ? null
            : "the signature does not verify with the publication's key";
    }

    private static async Task<string> StatesAsync(string database)
    {
        var rows = await RowsAsync(database, c => c.QueryAsync<(string State, string? Node, long Count)>(
            "SELECT state, claimed_by, COUNT(*) FROM deliveries WHERE channel = 'activitypub' GROUP BY state, claimed_by ORDER BY state, claimed_by"));
        return "deliveries: " + string.Join("; ", rows.Select(r => $"{r.State}/{r.Node ?? "-"} {r.Count}"));
    }

    [GeneratedRegex("(\\w+)=\"([^\"]*)\"")]
    private static partial Regex SignatureField();
}
