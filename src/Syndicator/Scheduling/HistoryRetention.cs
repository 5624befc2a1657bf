using Dapper;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Scheduling;

public sealed record RetentionReport(int JobRuns, int Misfires, int SentDeliveries, bool DeliveriesKept)
{
    public override string ToString() =>
        $"{JobRuns:N0} job runs and {Misfires:N0} misfires deleted; " + (DeliveriesKept ? "sent deliveries kept" : $"{SentDeliveries:N0} sent deliveries deleted");
}

/// <summary>Deletes what has aged out under the <c>History</c> section. Only rows older than the cut-off are touched.</summary>
public sealed class HistoryRetention(Database database, DeliveryStore deliveries, IOptions<HistoryOptions> options, TimeProvider time)
{
    public async Task<RetentionReport> RunAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        var cutoff = (now - TimeSpan.FromDays(o.RetentionDays)).ToStoredPrecision();
        int runs, misfires;
        await using (var connection = await database.OpenAsync(cancellationToken))
        {
            runs = await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM job_runs WHERE started_at < @cutoff", new { cutoff }, cancellationToken: cancellationToken));
            misfires = await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM job_misfires WHERE misfired_at < @cutoff", new { cutoff }, cancellationToken: cancellationToken));
        }
        if (o.SentDeliveryRetentionDays is not { } days) return new RetentionReport(runs, misfires, 0, DeliveriesKept: true);
        var sent = await deliveries.DeleteSentBeforeAsync((now - TimeSpan.FromDays(days)).ToStoredPrecision(), cancellationToken);
        return new RetentionReport(runs, misfires, sent, DeliveriesKept: false);
    }
}
