using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;
using Syndicator.Tests.Announcements.Mastodon;
using Syndicator.Tests.Announcements.X;
using Syndicator.Tests.Support;
using static Syndicator.Tests.Cluster.ClusterDatabase;

namespace Syndicator.Tests.Cluster;

/// <summary>
/// The cluster proof (issue #7): three real service processes on one PostgreSQL database share a 10,000-subscriber
/// daily digest and the announcements of 50 articles on X and Mastodon; one node is SIGKILLed a third of the way
/// through, and still every reader gets exactly one digest and every article exactly one post per account.
/// The figures go to the test output and to <c>/tmp/cluster-proof.txt</c>.
/// </summary>
public sealed partial class ClusterFailoverTests
{
    private const int Subscribers = 10_000;
    private const int Articles = 50;
    private const int Authors = 10;
    private const int Nodes = 3;
    private const int LeaseSeconds = 10;
    public const string ReportPath = "/tmp/cluster-proof.txt";

    private static readonly TimeSpan NodeStartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan KillPointTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(180);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 600_000)]
    public async Task Three_nodes_on_one_PostgreSQL_deliver_every_digest_and_post_exactly_once_when_one_node_is_killed()
    {
        var ct = TestContext.Current.CancellationToken;
        TestStore.RequirePostgres();
        var phases = new Phases();
        var report = new List<string>();

        await using var smtp = await SmtpTestServer.StartAsync(new SmtpTestServerOptions(), ct);
        await using var x = await FakeXServer.StartAsync();
        await using var mastodon = await FakeMastodonServer.StartAsync();
        var mastodonPosts = 0; // every authenticated POST /api/v1/statuses, duplicates absorbed by Idempotency-Key included
        mastodon.Fail = n => { Interlocked.Exchange(ref mastodonPosts, n); return null; };

        using var secrets = new EnvironmentScope();
        var suffix = Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Clustered"] = "true",
            ["Deliveries:LeaseSeconds"] = LeaseSeconds.ToString(CultureInfo.InvariantCulture),
            ["Deliveries:RetryBaseSeconds"] = "1",
            ["Deliveries:RetryMaxSeconds"] = "5",
            ["Digests:Smtp:Host"] = smtp.Host,
            ["Digests:Smtp:Port"] = smtp.Port.ToString(CultureInfo.InvariantCulture),
            ["Digests:Smtp:Security"] = "None",
            ["Digests:Smtp:Connections"] = "2",
            ["Digests:Smtp:MessagesPerSecond"] = "1000",
            ["Digests:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates"),
            ["Digests:SigningKey"] = secrets.Set("SYN_CLUSTER_SIGNING_KEY_" + suffix, Convert.ToBase64String(Guid.NewGuid().ToByteArray())),
            ["Announcements:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates"),
            ["Announcements:Accounts:0:Name"] = "magazine-x",
            ["Announcements:Accounts:0:Network"] = "X",
            ["Announcements:Accounts:0:BaseUrl"] = x.BaseUrl,
            ["Announcements:Accounts:0:MaxPerRun"] = "2",
            ["Announcements:Accounts:0:Credentials:ConsumerKey"] = secrets.Set("SYN_CLUSTER_X_CK_" + suffix, FakeXServer.ConsumerKey),
            ["Announcements:Accounts:0:Credentials:ConsumerSecret"] = secrets.Set("SYN_CLUSTER_X_CS_" + suffix, FakeXServer.ConsumerSecret),
            ["Announcements:Accounts:0:Credentials:AccessToken"] = secrets.Set("SYN_CLUSTER_X_AT_" + suffix, x.AccessToken),
            ["Announcements:Accounts:0:Credentials:AccessTokenSecret"] = secrets.Set("SYN_CLUSTER_X_ATS_" + suffix, FakeXServer.AccessTokenSecret),
            ["Announcements:Accounts:1:Name"] = "magazine-mastodon",
            ["Announcements:Accounts:1:Network"] = "Mastodon",
            ["Announcements:Accounts:1:BaseUrl"] = mastodon.BaseUrl,
            ["Announcements:Accounts:1:MaxPerRun"] = "2",
            ["Announcements:Accounts:1:Credentials:AccessToken"] = secrets.Set("SYN_CLUSTER_MASTODON_" + suffix, mastodon.Token),
        };
        // Every node of a cluster sends due e-mail on its own; an idle one looks again after a second.
        settings["Deliveries:PollSeconds"] = "1";

        // ------------------------------------------------------------------ seed, in-process, through the real composition root
        await using var app = await phases.TimeAsync("seed: migrate", () => TestApp.CreateAsync(StorageProvider.PostgreSql, settings));
        var database = app.Store.ConnectionString;

        var lastImport = await phases.TimeAsync("seed: import 50 articles", () => ImportArticlesAsync(app));
        var articleUrls = await RowsAsync(database, c => c.QueryAsync<(string Id, string Url)>("SELECT id, canonical_url FROM articles"));
        Assert.Equal(Articles, articleUrls.Count);
        var announcements = await ScalarAsync(database, "SELECT COUNT(*) FROM deliveries WHERE channel IN ('x', 'mastodon') AND state = 'pending'");
        Assert.True(announcements == Articles * 2, $"Importing {Articles} articles with one X and one Mastodon publication account should plan {Articles * 2} announcements; {announcements} are pending.");

        await phases.TimeAsync("seed: insert 10,000 subscribers", () => InsertSubscribersAsync(app));
        // The planner takes articles imported up to five seconds ago (its settle time); wait that out rather than miss them.
        var settle = lastImport + TimeSpan.FromSeconds(5.5) - DateTimeOffset.UtcNow;
        if (settle > TimeSpan.Zero) await Task.Delay(settle, Ct);
        var plan = await phases.TimeAsync("seed: plan the daily digest", () => app.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct));
        Assert.True(plan.Planned == Subscribers, $"DigestPlanner planned {plan}; expected {Subscribers} digests.");
        var pendingMail = await ScalarAsync(database, "SELECT COUNT(*) FROM deliveries WHERE channel = 'email' AND state = 'pending'");
        Assert.Equal(Subscribers, pendingMail);
        var seeded = phases.Total;

        // ------------------------------------------------------------------ three real nodes
        var environment = NodeEnvironment(settings, app.Store.ConnectionString);
        await using var cluster = new ClusterNodes();
        var sending = Stopwatch.StartNew();
        using var stopSampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var timeline = new List<string>();
        var sampling = SampleAsync(database, sending, timeline, stopSampling.Token);
        for (var i = 0; i < Nodes; i++)
            cluster.Add(ClusterNode.Start($"node{i + 1}", Path.Combine(app.Dir.Path, $"node{i + 1}"), ClusterNodes.FreePort(), environment));
        await phases.TimeAsync("start 3 nodes (until /health)", () => Task.WhenAll(cluster.All.Select(n =>
            n.Process.WaitForHttpAsync(n.BaseUrl + "/health", NodeStartTimeout, Ct))));

        // ------------------------------------------------------------------ kill one node a third of the way through
        var (victim, killedAt, sentAtKill, inFlightAtKill) = await phases.TimeAsync("send until a third is out", () => KillOneAsync(cluster, database));
        var survivors = cluster.All.Where(n => n != victim).ToList();

        // ------------------------------------------------------------------ wait until nothing is left to do
        await phases.TimeAsync("drain after the kill", () => DrainAsync(cluster, database));
        sending.Stop();
        var sendTime = sending.Elapsed;
        await stopSampling.CancelAsync();
        await sampling;

        // The documented operator step for unconfirmed rows: look the Message-ID up in the relay's log;
        // absent means never delivered, so hand it back with `syndicator deliveries retry ID` (DeliveryStore.RetryAsync).
        var unconfirmed = await RowsAsync(database, c => c.QueryAsync<(long Id, string? RemoteId, string Recipient)>(
            "SELECT id, remote_id, recipient FROM deliveries WHERE state = 'unconfirmed' ORDER BY id"));
        var relayed = await RelayMailbox.ReadAsync(smtp.MailDirectory, Ct);
        var relayedIds = relayed.Where(m => m.MessageId is not null).Select(m => m.MessageId!).ToHashSet(StringComparer.Ordinal);
        var unconfirmedAtRelay = unconfirmed.Where(u => u.RemoteId is not null && relayedIds.Contains(u.RemoteId.Trim('<', '>'))).Select(u => u.Id).ToHashSet();
        var retried = 0;
        foreach (var row in unconfirmed.Where(u => !unconfirmedAtRelay.Contains(u.Id)))
            if (await app.Get<DeliveryStore>().RetryAsync(row.Id, Ct)) retried++;
        if (retried > 0)
        {
            await phases.TimeAsync("drain the retried unconfirmed rows", () => DrainAsync(cluster, database));
            relayed = await RelayMailbox.ReadAsync(smtp.MailDirectory, Ct);
        }

        // ------------------------------------------------------------------ figures
        var byState = await RowsAsync(database, c => c.QueryAsync<(string Channel, string State, long Count)>(
            "SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state ORDER BY channel, state"));
        var sentByNode = await RowsAsync(database, c => c.QueryAsync<(string Channel, string? Node, long Count)>(
            "SELECT channel, claimed_by, COUNT(*) FROM deliveries WHERE state = 'sent' GROUP BY channel, claimed_by ORDER BY channel, claimed_by"));
        var sentAfterKill = await RowsAsync(database, c => c.QueryAsync<(string Channel, string? Node, long Count)>(
            "SELECT channel, claimed_by, COUNT(*) FROM deliveries WHERE state = 'sent' AND sent_at > @killedAt GROUP BY channel, claimed_by ORDER BY channel, claimed_by",
            new { killedAt }));
        var reclaimed = await RowsAsync(database, c => c.QueryAsync<(string Channel, long Count)>(
            "SELECT channel, COUNT(*) FROM deliveries WHERE attempts > 1 GROUP BY channel ORDER BY channel"));
        var survivorsHealth = new List<(ClusterNode Node, string Answer)>();
        foreach (var node in survivors) survivorsHealth.Add((node, await HealthAsync(node)));
        var stats = await smtp.GetStatsAsync(Ct);

        string Name(string? node) => node is null ? "(claimed_by NULL)" : cluster.All.FirstOrDefault(n => n.NodeName == node) is { } n ? $"{n.Label} {node}{(n == victim ? " (killed)" : "")}" : node;
        report.Add($"Cluster proof, {DateTimeOffset.UtcNow:u}: {Nodes} nodes, {Subscribers:N0} daily-digest subscribers, {Articles} articles ({Articles / Authors} per digest), accounts magazine-x and magazine-mastodon, lease {LeaseSeconds} s, Deliveries:PollSeconds 1");
        report.Add($"time to seed: {seeded.TotalSeconds:0.0} s ({string.Join(", ", phases.Done.Where(p => p.Name.StartsWith("seed", StringComparison.Ordinal)).Select(p => $"{p.Name[6..]} {p.Took.TotalSeconds:0.0} s"))})");
        report.Add($"time to send everything: {sendTime.TotalSeconds:0.0} s from starting the nodes ({string.Join(", ", phases.Done.Where(p => !p.Name.StartsWith("seed", StringComparison.Ordinal)).Select(p => $"{p.Name} {p.Took.TotalSeconds:0.0} s"))})");
        report.Add($"killed: {victim.Label} pid {victim.Pid} ({victim.NodeName}) with SIGKILL at {killedAt:HH:mm:ss.fff} when {sentAtKill:N0} e-mails were sent and it held {inFlightAtKill} in flight");
        report.Add("sent per node (channel, node, count):");
        report.AddRange(sentByNode.Select(r => $"  {r.Channel,-9} {Name(r.Node)}: {r.Count:N0}"));
        report.Add("sent after the kill:");
        report.AddRange(sentAfterKill.Select(r => $"  {r.Channel,-9} {Name(r.Node)}: {r.Count:N0}"));
        report.Add("deliveries by state: " + string.Join(", ", byState.Select(r => $"{r.Channel}/{r.State} {r.Count:N0}")));
        report.Add($"posts: X {x.AcceptedPosts} accepted of {x.Count("POST /2/tweets")} POST /2/tweets requests ({x.Count("GET /2/users/")} timeline/user lookups, {x.Rejections.Count} rejected for auth); " +
                   $"Mastodon {mastodon.Posts.Count} statuses of {Volatile.Read(ref mastodonPosts)} POST /api/v1/statuses requests");
        report.Add($"e-mail at the relay: {relayed.Count:N0} messages to {relayed.SelectMany(m => m.Recipients).Distinct().Count():N0} recipients, {relayed.Select(m => m.MessageId).Distinct().Count():N0} distinct Message-IDs, over {stats.Connections} SMTP connections");
        report.Add("reclaimed (attempts > 1): " + (reclaimed.Count == 0 ? "none" : string.Join(", ", reclaimed.Select(r => $"{r.Channel} {r.Count}"))) +
                   $"; the killed node held {inFlightAtKill} in flight, so {Math.Max(0, reclaimed.Sum(r => r.Count) - inFlightAtKill)} more were reclaimed from live nodes whose lease ran out mid-batch");
        report.Add($"unconfirmed: {unconfirmed.Count}, of which the relay had {unconfirmedAtRelay.Count}; retried by the operator step: {retried}");
        report.Add("survivors' /health: " + string.Join(", ", survivorsHealth.Select(h => $"{h.Node.Label} {h.Answer}")));
        report.Add($"total wall time: {phases.Total.TotalSeconds:0.0} s");
        report.Add("timeline (s since the nodes started: e-mails sent; in flight per node):");
        report.AddRange(timeline.Select(t => "  " + t));
        var text = string.Join(Environment.NewLine, report);
        TestContext.Current.TestOutputHelper?.WriteLine(text);
        await File.WriteAllTextAsync(ReportPath, text + Environment.NewLine, Ct);

        // ------------------------------------------------------------------ the proof
        var problems = new List<string>();

        var subscriberEmails = (await RowsAsync(database, c => c.QueryAsync<string>("SELECT email FROM subscribers"))).ToHashSet(StringComparer.Ordinal);
        var perRecipient = relayed.SelectMany(m => m.Recipients).GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
        var missing = subscriberEmails.Where(e => !perRecipient.ContainsKey(e)).Order().ToList();
        var doubled = perRecipient.Where(p => p.Value > 1).OrderBy(p => p.Key).ToList();
        var strangers = perRecipient.Keys.Where(r => !subscriberEmails.Contains(r)).ToList();
        if (missing.Count > 0) problems.Add($"{missing.Count} subscriber(s) got no digest, e.g. {string.Join(", ", missing.Take(5))}");
        if (doubled.Count > 0) problems.Add($"{doubled.Count} subscriber(s) got more than one digest, e.g. {string.Join(", ", doubled.Take(5).Select(d => $"{d.Key} ×{d.Value}"))}");
        if (strangers.Count > 0) problems.Add($"{strangers.Count} message(s) went to addresses that are no subscriber's, e.g. {string.Join(", ", strangers.Take(5))}");
        var repeatedIds = relayed.GroupBy(m => m.MessageId).Where(g => g.Count() > 1).ToList();
        if (relayed.Any(m => m.MessageId is null)) problems.Add($"{relayed.Count(m => m.MessageId is null)} relayed message(s) have no Message-ID");
        if (repeatedIds.Count > 0) problems.Add($"{repeatedIds.Count} Message-ID(s) reached the relay more than once, e.g. {string.Join(", ", repeatedIds.Take(5).Select(g => $"{g.Key} ×{g.Count()}"))}");

        var urls = articleUrls.ToDictionary(a => a.Url, a => a.Id, StringComparer.Ordinal);
        CheckPosts("X", x.PostedTexts, urls, problems);
        CheckPosts("Mastodon", mastodon.Posts.Select(p => p.Status).ToList(), urls, problems);
        if (x.Rejections.Count > 0) problems.Add($"the fake X refused {x.Rejections.Count} request(s) for their OAuth signature: {string.Join("; ", x.Rejections.Take(3))}");

        var notSent = await RowsAsync(database, c => c.QueryAsync<(long Id, string Channel, string State, int Attempts, string? LastError, string? RemoteId)>(
            "SELECT id, channel, state, attempts, last_error, remote_id FROM deliveries WHERE state <> 'sent' ORDER BY id"));
        // An unconfirmed row whose Message-ID the relay has was delivered: the operator leaves it as it is.
        var unexplained = notSent.Where(d => !unconfirmedAtRelay.Contains(d.Id)).ToList();
        if (unexplained.Count > 0)
            problems.Add($"{unexplained.Count} deliveries are not sent, e.g. {string.Join("; ", unexplained.Take(5).Select(d => $"#{d.Id} {d.Channel} {d.State} after {d.Attempts} attempt(s): {d.LastError}"))}");
        var totalDeliveries = byState.Sum(r => r.Count);
        if (totalDeliveries != Subscribers + Articles * 2)
            problems.Add($"{totalDeliveries} deliveries exist; expected {Subscribers} e-mails and {Articles * 2} announcements");

        if (victim.PidAlive()) problems.Add($"the killed node's pid {victim.Pid} is still alive");
        var survivorNames = survivors.Select(s => s.NodeName).ToHashSet(StringComparer.Ordinal);
        var strayAfterKill = sentAfterKill.Where(r => r.Node is null || !survivorNames.Contains(r.Node)).ToList();
        if (strayAfterKill.Count > 0)
            problems.Add($"rows sent after the kill carry a node that is not a survivor ({string.Join(", ", survivors.Select(s => s.NodeName))}): {string.Join(", ", strayAfterKill.Select(r => $"{r.Channel} {Name(r.Node)} {r.Count}"))}" +
                         (strayAfterKill.Any(r => r.Node is null) ? " — sent rows lose claimed_by, so who sent what cannot be told" : ""));
        if (!sentAfterKill.Any(r => r.Channel == "email" && r.Node is not null && survivorNames.Contains(r.Node)))
            problems.Add("no e-mail was sent by a survivor after the kill");
        foreach (var (node, answer) in survivorsHealth)
            if (answer != "200") problems.Add($"survivor {node.Label} (pid {node.Pid}) answered /health with {answer}");

        Assert.True(problems.Count == 0, $"The cluster did not deliver exactly once:{Environment.NewLine}- {string.Join(Environment.NewLine + "- ", problems)}{Environment.NewLine}{Environment.NewLine}{text}{Environment.NewLine}{Environment.NewLine}{cluster.Tails()}");
    }

    // ------------------------------------------------------------------ seeding

    /// <summary>50 articles by 10 authors, published over the last hour, imported as Markdown files. Returns when the import finished.</summary>
    private static async Task<DateTimeOffset> ImportArticlesAsync(TestApp app)
    {
        var now = DateTimeOffset.UtcNow;
        var folder = Path.Combine(app.Dir.Path, "articles");
        for (var i = 0; i < Articles; i++)
        {
            var title = $"Cluster proof dispatch {i + 1:D2}";
            var published = now.AddMinutes(-60 + i);
            app.Dir.File($"articles/{Syndicator.Shared.Slug.FromText(title).Value}.md",
                $"---\ntitle: \"{title}\"\nauthor: {AuthorName(i % Authors)}\ndate: {published:O}\ntags: [cluster, proof]\n---\n" +
                $"Dispatch {i + 1} from the cluster proof. Three nodes share one database, and one of them will not live to see the end of the digest.\n");
        }
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([folder], null, Ct);
        Assert.True(summary.Rejected == 0 && summary.Created == Articles, $"import: {summary.Created} created, {summary.Rejected} rejected: {string.Join("; ", summary.Files.Where(f => f.Rejected))}");
        return DateTimeOffset.UtcNow;
    }

    private static string AuthorName(int i) => $"Columnist {(char)('A' + i)} Example";

    /// <summary>
    /// 10,000 confirmed daily subscribers in one transaction, as array-valued inserts (one statement per table).
    /// Each follows one of the ten authors, so a digest carries that author's five articles, the way readers
    /// follow columnists; the watermark is the planner's own first one.
    /// </summary>
    private static async Task InsertSubscribersAsync(TestApp app)
    {
        var now = DateTimeOffset.UtcNow.ToStoredPrecision();
        var coveredUntil = app.Get<DigestPlanner>().FirstWatermark(DigestFrequency.Daily).ToStoredPrecision();
        var ids = new string[Subscribers];
        var emails = new string[Subscribers];
        var follows = new string[Subscribers];
        for (var i = 0; i < Subscribers; i++)
        {
            ids[i] = Guid.CreateVersion7(now).ToString();
            emails[i] = $"reader{i:D5}@readers.example";
            follows[i] = AuthorName(i % Authors);
        }
        await using var connection = new NpgsqlConnection(app.Store.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        var inserted = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO subscribers (id, email, name, frequency, time_zone, state, hard_bounces, covered_until, created_at, confirmed_at)
            SELECT id, email, NULL, 'daily', 'UTC', 'confirmed', 0, @coveredUntil, @now, @now FROM unnest(@ids, @emails) AS s (id, email)
            """, new { ids, emails, coveredUntil = coveredUntil.UtcDateTime, now = now.UtcDateTime }, transaction, cancellationToken: Ct));
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO subscriber_follows (subscriber_id, kind, value) SELECT id, 'author', author FROM unnest(@ids, @follows) AS f (id, author)
            """, new { ids, follows }, transaction, cancellationToken: Ct));
        await transaction.CommitAsync(Ct);
        Assert.Equal(Subscribers, inserted);
    }

    // ------------------------------------------------------------------ the nodes

    /// <summary>The seeding settings as <c>Section__Key</c> variables, plus what only the nodes need.</summary>
    private static Dictionary<string, string?> NodeEnvironment(Dictionary<string, string?> settings, string connectionString)
    {
        var environment = settings.ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value);
        environment["Storage__Provider"] = "PostgreSql";
        // The service refuses a password written into the connection string; Npgsql reads PGPASSWORD instead.
        environment["Storage__ConnectionString"] = new NpgsqlConnectionStringBuilder(connectionString) { Password = null }.ConnectionString;
        environment["PGPASSWORD"] = new NpgsqlConnectionStringBuilder(connectionString).Password;
        // The relay and the networks are loopback test servers.
        environment["Site__AllowLocalUrls"] = "true";
        environment["Storage__MigrateOnStart"] = "true";
        environment["Jobs__Announcements__IntervalSeconds"] = "2";
        environment["Jobs__EmailSend__IntervalSeconds"] = "2";
        // Jobs that have nothing to do with this proof stay off, so the two cores work on deliveries.
        foreach (var job in new[] { "DropFolderImport", "FeedBuild", "WebSubPing", "Retention", "WeeklyDigest" })
            environment[$"Jobs__{job}__Enabled"] = "false";
        return environment;
    }

    /// <summary>
    /// Waits until a third of the e-mail is sent, then SIGKILLs a node that has sent some and, if one can be had
    /// within a few seconds, holds claims at that moment (its in-flight rows must be taken over).
    /// </summary>
    private static async Task<(ClusterNode Victim, DateTimeOffset KilledAt, long SentAtKill, long InFlight)> KillOneAsync(ClusterNodes cluster, string database)
    {
        var deadline = Stopwatch.StartNew();
        var third = Subscribers / 3;
        long sent = 0;
        while (true)
        {
            sent = await ScalarAsync(database, "SELECT COUNT(*) FROM deliveries WHERE channel = 'email' AND state = 'sent'");
            if (sent >= third) break;
            if (deadline.Elapsed > KillPointTimeout)
                Assert.Fail($"Only {sent:N0} of {Subscribers:N0} e-mails were sent {KillPointTimeout.TotalSeconds:0} s after the nodes started.{Environment.NewLine}{await StatesAsync(database)}{Environment.NewLine}{cluster.Tails()}");
            cluster.ThrowIfAnyExited();
            await Task.Delay(200, Ct);
        }

        // A node that has sent some (claimed_by is kept on sent rows), preferably one holding claims right now.
        var lookFor = Stopwatch.StartNew();
        while (true)
        {
            var senders = (await RowsAsync(database, c => c.QueryAsync<(string Node, long Count)>(
                "SELECT claimed_by, COUNT(*) FROM deliveries WHERE channel = 'email' AND state = 'sent' AND claimed_by IS NOT NULL GROUP BY claimed_by"))).ToDictionary(r => r.Node, r => r.Count);
            var holding = (await RowsAsync(database, c => c.QueryAsync<(string Node, long Count)>(
                "SELECT claimed_by, COUNT(*) FROM deliveries WHERE state = 'in-flight' AND claimed_by IS NOT NULL GROUP BY claimed_by"))).ToDictionary(r => r.Node, r => r.Count);
            var candidates = cluster.All.Where(n => senders.Count == 0 || senders.ContainsKey(n.NodeName)).ToList();
            var victim = candidates.OrderByDescending(n => holding.GetValueOrDefault(n.NodeName)).ThenByDescending(n => senders.GetValueOrDefault(n.NodeName)).FirstOrDefault();
            if (victim is not null && (holding.GetValueOrDefault(victim.NodeName) > 0 || lookFor.Elapsed > TimeSpan.FromSeconds(5)))
            {
                victim.KillHard();
                var killedAt = DateTimeOffset.UtcNow;
                cluster.Killed = victim;
                return (victim, killedAt, sent, holding.GetValueOrDefault(victim.NodeName));
            }
            await Task.Delay(20, Ct);
        }
    }

    /// <summary>Waits until no delivery of any channel is pending, in flight or waiting for a retry.</summary>
    private static async Task DrainAsync(ClusterNodes cluster, string database)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var open = await ScalarAsync(database, "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'in-flight', 'retry-wait')");
            if (open == 0) return;
            if (deadline.Elapsed > DrainTimeout)
                Assert.Fail($"{open:N0} deliveries were still pending, in flight or waiting to retry {DrainTimeout.TotalSeconds:0} s after the kill.{Environment.NewLine}{await StatesAsync(database)}{Environment.NewLine}{await ActivityAsync(database)}{Environment.NewLine}{cluster.Tails()}");
            cluster.ThrowIfAnyExited();
            await Task.Delay(250, Ct);
        }
    }

    /// <summary>Every two seconds until stopped: how many e-mails are sent and who holds claims, for the report.</summary>
    private static async Task SampleAsync(string database, Stopwatch clock, List<string> timeline, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var sent = await ScalarAsync(database, "SELECT COUNT(*) FROM deliveries WHERE channel = 'email' AND state = 'sent'");
                var holding = await RowsAsync(database, c => c.QueryAsync<(string? Node, long Count)>(
                    "SELECT claimed_by, COUNT(*) FROM deliveries WHERE state = 'in-flight' GROUP BY claimed_by ORDER BY claimed_by"));
                lock (timeline) timeline.Add($"{clock.Elapsed.TotalSeconds,5:0} s: {sent,6:N0} sent; in flight: {(holding.Count == 0 ? "none" : string.Join(", ", holding.Select(h => $"{h.Node} {h.Count}")))}");
                await Task.Delay(2000, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (NpgsqlException)
            {
                // The sampler only informs; a failed sample is skipped.
            }
        }
    }

    private static async Task<string> HealthAsync(ClusterNode node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            using var response = await http.GetAsync(node.BaseUrl + "/health", Ct);
            return ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return $"no answer ({e.Message})";
        }
    }

    // ------------------------------------------------------------------ checks

    /// <summary>Every article exactly once on the network: each post is matched to its article by the canonical URL in its text.</summary>
    private static void CheckPosts(string network, IReadOnlyList<string> texts, Dictionary<string, string> articleByUrl, List<string> problems)
    {
        var perArticle = articleByUrl.Values.ToDictionary(id => id, _ => 0, StringComparer.Ordinal);
        var unmatched = 0;
        foreach (var text in texts)
        {
            var hits = Url().Matches(text).Select(m => m.Value).Where(articleByUrl.ContainsKey).Distinct().ToList();
            if (hits.Count != 1) unmatched++;
            else perArticle[articleByUrl[hits[0]]]++;
        }
        var none = perArticle.Count(p => p.Value == 0);
        var many = perArticle.Where(p => p.Value > 1).ToList();
        if (none > 0) problems.Add($"{network}: {none} article(s) were never posted");
        if (many.Count > 0) problems.Add($"{network}: {many.Count} article(s) were posted more than once, e.g. {string.Join(", ", many.Take(5).Select(m => $"{m.Key} ×{m.Value}"))}");
        if (unmatched > 0) problems.Add($"{network}: {unmatched} post(s) name no single article URL");
    }

    // ------------------------------------------------------------------ database

    private static async Task<string> StatesAsync(string connectionString)
    {
        var rows = await RowsAsync(connectionString, c => c.QueryAsync<(string Channel, string State, string? Node, long Count)>(
            "SELECT channel, state, claimed_by, COUNT(*) FROM deliveries GROUP BY channel, state, claimed_by ORDER BY channel, state, claimed_by"));
        return "deliveries: " + string.Join("; ", rows.Select(r => $"{r.Channel}/{r.State}/{r.Node ?? "-"} {r.Count}"));
    }

    /// <summary>What the database's sessions are doing, to tell a stuck lock from a slow node.</summary>
    private static async Task<string> ActivityAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        var rows = await RowsAsync(connectionString, c => c.QueryAsync<(int Pid, string? State, string? Wait, double? XactSeconds, string? Query)>(
            "SELECT pid, state, wait_event_type || ':' || wait_event, EXTRACT(EPOCH FROM now() - xact_start)::float8, left(query, 160) FROM pg_stat_activity WHERE datname = @name AND pid <> pg_backend_pid()",
            new { name }));
        return "sessions: " + string.Join(Environment.NewLine + "  ", rows.Select(r => $"pid {r.Pid} {r.State} wait {r.Wait ?? "-"} xact {r.XactSeconds:0.0} s: {r.Query?.ReplaceLineEndings(" ")}"));
    }

    [GeneratedRegex(@"https?://\S+")]
    private static partial Regex Url();
}
