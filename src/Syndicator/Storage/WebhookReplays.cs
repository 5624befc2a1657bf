using Dapper;

namespace Syndicator.Storage;

/// <summary>
/// The signed tokens of webhooks already accepted (table <c>webhook_replays</c>), so one carried again is refused as a
/// replay on any node. Tokens older than twice the sender's age limit are forgotten: their requests are refused by age.
/// </summary>
public sealed class WebhookReplays(Database database, TimeProvider time)
{
    /// <summary>True the first time <paramref name="sender"/>'s <paramref name="token"/> is seen.</summary>
    public async Task<bool> FirstSightAsync(string sender, string token, TimeSpan maxAge, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToStoredPrecision();
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM webhook_replays WHERE seen_at < @cutoff",
            new { cutoff = now - 2 * maxAge }, cancellationToken: cancellationToken));
        return await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO webhook_replays (relay, token, seen_at) VALUES (@sender, @token, @now) ON CONFLICT (relay, token) DO NOTHING",
            new { sender, token, now }, cancellationToken: cancellationToken)) == 1;
    }
}
