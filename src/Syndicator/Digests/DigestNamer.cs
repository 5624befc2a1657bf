using Dapper;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Digests;

/// <summary>A subscriber reads as their address; a digest as how many articles it carries; a confirmation as such.</summary>
public sealed class DigestNamer(SubscriberStore subscribers, Database database) : IDeliveryNamer
{
    public async Task NameAsync(IReadOnlyCollection<Delivery> deliveries, DeliveryNames names, CancellationToken cancellationToken)
    {
        foreach (var recipient in deliveries.Select(d => d.Recipient).Where(r => r.Kind == RecipientKind.Subscriber).Distinct())
            names.Add(recipient, await subscribers.FindAsync(recipient.Id, cancellationToken) is { } subscriber ? subscriber.Email : $"subscriber {recipient.Id} (removed)");
        var digests = deliveries.Select(d => d.Subject).Where(s => s.Kind == SubjectKind.Digest).Distinct().ToList();
        if (digests.Count > 0)
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            var parameters = new DynamicParameters();
            var counts = (await connection.QueryAsync<(string Digest, long Count)>(new CommandDefinition(
                    $"SELECT g.id, COUNT(*) FROM digests g JOIN digest_edition_items i ON i.edition_id = g.edition_id WHERE g.id IN {SqlList.In(parameters, "d", digests.Select(d => d.Id).ToList())} GROUP BY g.id",
                    parameters, cancellationToken: cancellationToken)))
                .ToDictionary(r => r.Digest, r => r.Count, StringComparer.Ordinal);
            foreach (var digest in digests)
                names.Add(digest, $"digest of {counts.GetValueOrDefault(digest.Id)} article(s)");
        }
        foreach (var confirmation in deliveries.Select(d => d.Subject).Where(s => s.Kind == SubjectKind.Confirmation).Distinct())
            names.Add(confirmation, "sign-up confirmation");
    }

    /// <summary>The e-mail digests that carry an article, counted by the state of their delivery.</summary>
    public async Task<IReadOnlyDictionary<DeliveryState, long>> CountDigestsWithArticleAsync(string articleId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string State, long Count)>(new CommandDefinition("""
            SELECT d.state, COUNT(*) FROM digest_edition_items i
            JOIN digests g ON g.edition_id = i.edition_id
            JOIN deliveries d ON d.subject_kind = 'digest' AND d.subject_id = g.id
            WHERE i.article_id = @articleId
            GROUP BY d.state
            """, new { articleId }, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => DeliveryStates.FromColumn(r.State), r => r.Count);
    }
}
