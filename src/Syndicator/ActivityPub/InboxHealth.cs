using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.ActivityPub;

/// <summary>An inbox that is parked: since when, since when it has failed, and its last error.</summary>
public sealed record ParkedInbox(string Inbox, DateTimeOffset ParkedAt, DateTimeOffset FailingSince, string LastError);

/// <summary>
/// Parks an inbox whose every delivery has failed for ActivityPub:ParkInboxAfterDays (a server that is gone without
/// saying 410, or down for good): a <c>delivery_pauses</c> row with no end, so no node claims its waiting
/// deliveries, which keep their place (pending) instead of burning their attempts. The failing streak is kept in
/// <c>activitypub_inbox_failures</c> and ends with any success. Un-parked by <c>syndicator activitypub resend</c>
/// or a new Follow from an account behind it; if it fails again the count of days starts over.
/// </summary>
public sealed class InboxHealth(Database database, DeliveryStore deliveries, IOptions<ActivityPubOptions> options, TimeProvider time, ILogger<InboxHealth> logger)
{
    /// <summary>The end of a park: none (delivery_pauses needs a time; this is the last day either database keeps).</summary>
    public static readonly DateTimeOffset Indefinitely = new(9999, 12, 31, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A delivery got through: the inbox works, whatever it did before.</summary>
    public async Task WorkedAsync(string inbox, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM activitypub_inbox_failures WHERE inbox = @inbox", new { inbox }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// A delivery failed. Returns the park when this failure is the one that parks the inbox (every delivery has failed
    /// for ParkInboxAfterDays), otherwise null.
    /// </summary>
    public async Task<ParkedInbox?> FailedAsync(string inbox, string error, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO activitypub_inbox_failures (inbox, failing_since, last_error) VALUES (@inbox, @now, @error)
            ON CONFLICT (inbox) DO UPDATE SET last_error = excluded.last_error
            """, new { inbox, now, error = HttpOutcomes.Shorten(error) }, cancellationToken: cancellationToken));
        var since = await connection.ExecuteScalarAsync<DateTimeOffset>(new CommandDefinition(
            "SELECT failing_since FROM activitypub_inbox_failures WHERE inbox = @inbox", new { inbox }, cancellationToken: cancellationToken));
        if (now - since < options.Value.ParkInboxAfter) return null;
        // One node parks it; the others, failing at the same moment, find it parked already.
        if (await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE activitypub_inbox_failures SET parked_at = @now WHERE inbox = @inbox AND parked_at IS NULL", new { inbox, now }, cancellationToken: cancellationToken)) == 0)
            return null;
        var parked = new ParkedInbox(inbox, now, since, error);
        await deliveries.PauseAsync(ActivityPubPlanner.Channel, inbox, Indefinitely, Reason(parked), cancellationToken);
        logger.LogWarning("activitypub: {Inbox} parked: {Reason}", inbox, Reason(parked));
        return parked;
    }

    /// <summary>Lifts a park (and forgets the failing streak); true when the inbox was parked.</summary>
    public async Task<bool> UnparkAsync(string inbox, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var wasParked = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM activitypub_inbox_failures WHERE inbox = @inbox AND parked_at IS NOT NULL", new { inbox }, cancellationToken: cancellationToken)) == 1;
        if (!wasParked) return false;
        await deliveries.UnpauseAsync(ActivityPubPlanner.Channel, inbox, cancellationToken);
        logger.LogInformation("activitypub: {Inbox} is no longer parked; its waiting deliveries go out with the next run", inbox);
        return true;
    }

    /// <summary>Every parked inbox, by inbox.</summary>
    public async Task<IReadOnlyDictionary<string, ParkedInbox>> ParkedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<ParkedInbox>(new CommandDefinition("""
            SELECT inbox AS Inbox, parked_at AS ParkedAt, failing_since AS FailingSince, last_error AS LastError
            FROM activitypub_inbox_failures WHERE parked_at IS NOT NULL
            """, cancellationToken: cancellationToken))).ToDictionary(p => p.Inbox, StringComparer.Ordinal);
    }

    public string Reason(ParkedInbox parked) =>
        $"activitypub: every delivery to {parked.Inbox} has failed since {parked.FailingSince:u} (ActivityPub:ParkInboxAfterDays {options.Value.ParkInboxAfterDays}), " +
        $"so it is parked and its deliveries wait; `syndicator activitypub resend ARTICLE` or a new Follow from it resumes it. Last error: {parked.LastError}";
}
