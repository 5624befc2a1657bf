using Dapper;
using Syndicator.Storage;

namespace Syndicator.Digests;

/// <summary>
/// One digest run (a period of one frequency, or one manual send) and what became of it: digests planned, their
/// deliveries by state, and the feedback that names one of its deliveries (a soft or hard bounce, a complaint, an
/// unsubscribe a relay tied to the message). A reader who unsubscribes through the link or by mail is not counted here:
/// the link names the reader, not the digest they clicked it in.
/// </summary>
public sealed record DigestRunReport(
    string Period, string Frequency, DateTimeOffset PlannedAt, long Planned, long Sent, long Failed, long Unconfirmed, long Waiting,
    long SoftBounced, long HardBounced, long Complained, long Unsubscribed);

public sealed class DigestReports(Database database)
{
    /// <summary>The newest runs first.</summary>
    public async Task<IReadOnlyList<DigestRunReport>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            SELECT g.period AS Period, g.frequency AS Frequency, MIN(g.created_at) AS PlannedAt, COUNT(DISTINCT g.id) AS Planned,
                COUNT(DISTINCT CASE WHEN d.state = 'sent' THEN d.id END) AS Sent,
                COUNT(DISTINCT CASE WHEN d.state = 'failed' THEN d.id END) AS Failed,
                COUNT(DISTINCT CASE WHEN d.state = 'unconfirmed' THEN d.id END) AS Unconfirmed,
                COUNT(DISTINCT CASE WHEN d.state IN ('pending', 'in-flight', 'retry-wait') THEN d.id END) AS Waiting,
                COUNT(DISTINCT CASE WHEN f.kind = 'soft-bounce' THEN d.id END) AS SoftBounced,
                COUNT(DISTINCT CASE WHEN f.kind = 'hard-bounce' THEN d.id END) AS HardBounced,
                COUNT(DISTINCT CASE WHEN f.kind = 'complaint' THEN d.id END) AS Complained,
                COUNT(DISTINCT CASE WHEN f.kind = 'unsubscribe' THEN d.id END) AS Unsubscribed
            FROM digests g
            LEFT JOIN deliveries d ON d.channel = 'email' AND d.subject_kind = 'digest' AND d.subject_id = g.id
            LEFT JOIN mail_feedback f ON f.delivery_id = d.id
            GROUP BY g.period, g.frequency
            ORDER BY MIN(g.created_at) DESC, g.period DESC
            LIMIT @limit
            """, new { limit }, cancellationToken: cancellationToken));
        return rows.Select(r => new DigestRunReport(r.Period, r.Frequency, r.PlannedAt, r.Planned, r.Sent, r.Failed, r.Unconfirmed, r.Waiting,
            r.SoftBounced, r.HardBounced, r.Complained, r.Unsubscribed)).ToList();
    }

    private sealed class Row
    {
        public string Period { get; init; } = "";
        public string Frequency { get; init; } = "";
        public DateTimeOffset PlannedAt { get; init; }
        public long Planned { get; init; }
        public long Sent { get; init; }
        public long Failed { get; init; }
        public long Unconfirmed { get; init; }
        public long Waiting { get; init; }
        public long SoftBounced { get; init; }
        public long HardBounced { get; init; }
        public long Complained { get; init; }
        public long Unsubscribed { get; init; }
    }
}
