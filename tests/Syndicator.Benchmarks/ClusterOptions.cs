using System.Globalization;

namespace Syndicator.Benchmarks;

/// <summary>Options of the <c>cluster</c> verb: e-mail delivery throughput with 1, 2, 3... service processes on one PostgreSQL database.</summary>
public sealed class ClusterOptions
{
    public int Messages { get; set; } = 5_000;
    public List<int> Nodes { get; set; } = [1, 2, 3];
    public int ArticlesPerDigest { get; set; } = 5;
    public int Connections { get; set; } = 2;
    public int? BatchSize { get; set; }
    public int? EmailJobSeconds { get; set; }
    public double TimeoutMinutes { get; set; } = 10;
    public bool Calibrate { get; set; } = true;
    public bool StartTogether { get; set; }
    public bool Keep { get; set; }
    public string? JsonOut { get; set; }

    public const string Usage = """
        Syndicator e-mail delivery benchmark with a cluster of service processes (PostgreSQL only).

          dotnet run -c Release --project tests/Syndicator.Benchmarks -- cluster [options]

        For each node count: a fresh database, M confirmed daily subscribers, one daily digest planned for each (so M
        e-mails are due), the test SMTP server (tests/Syndicator.Tests/Fixtures/smtp/smtp_server.py) on loopback, and N
        real service processes (Storage:Clustered=true). Timed from the moment the due e-mails are released (every node
        healthy) until none is pending, in flight or waiting for a retry.

          --messages N            subscribers, hence e-mails (default 5000)
          --quick                 --messages 1000 (an explicit --messages still wins)
          --nodes 1,2,3           node counts to run, in order (default 1,2,3; speed-up is against 1 node)
          --articles-per-digest N articles each digest lists (default 5)
          --connections N         Digests:Smtp:Connections of each node (default 2, the product's default)
          --batch-size N          Deliveries:BatchSize of each node (default: the product's)
          --email-job-seconds N   Jobs:EmailSend:IntervalSeconds (default 1 when the job is the only sender, else 3600: out of the way)
          --timeout-minutes M     give up on one node count after M minutes of sending (default 10)
          --start-together        start all nodes at once on the fresh database (default: the first alone, then the rest)
          --no-calibrate          skip timing the SMTP server alone
          --json FILE             also write the results as JSON
          --keep                  keep the databases and the work folder

        Needs SYNDICATOR_TEST_POSTGRES (an admin connection string, e.g.
        "Host=127.0.0.1;Port=5432;Username=postgres;Password=...;Database=postgres") and Debian's python3-aiosmtpd.
        """;

    public static ClusterOptions Parse(string[] args)
    {
        var o = new ClusterOptions();
        if (args.Contains("--quick")) o.Messages = 1_000;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int(int min)
            {
                var name = args[i];
                var v = Next();
                return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
                    ? n : throw new ArgumentException($"{name} takes a whole number of at least {min}, not '{v}'.");
            }
            switch (args[i])
            {
                case "--quick": break;
                case "--messages": o.Messages = Int(1); break;
                case "--nodes":
                    var list = Next();
                    o.Nodes = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 16
                            ? n : throw new ArgumentException($"--nodes takes node counts from 1 to 16 separated by commas, not '{list}'."))
                        .ToList();
                    if (o.Nodes.Count == 0) throw new ArgumentException("--nodes needs at least one node count.");
                    break;
                case "--articles-per-digest": o.ArticlesPerDigest = Int(1); break;
                case "--connections": o.Connections = Int(1); break;
                case "--batch-size": o.BatchSize = Int(1); break;
                case "--email-job-seconds": o.EmailJobSeconds = Int(1); break;
                case "--timeout-minutes":
                    var t = Next();
                    o.TimeoutMinutes = double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var m) && m > 0
                        ? m : throw new ArgumentException($"--timeout-minutes takes a positive number, not '{t}'.");
                    break;
                case "--no-calibrate": o.Calibrate = false; break;
                case "--start-together": o.StartTogether = true; break;
                case "--keep": o.Keep = true; break;
                case "--json": o.JsonOut = Path.GetFullPath(Next()); break;
                default: throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }
        return o;
    }
}
