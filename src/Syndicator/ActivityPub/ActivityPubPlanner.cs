using System.Data.Common;
using Syndicator.Articles;
using Syndicator.Deliveries;

namespace Syndicator.ActivityPub;

/// <summary>
/// Turns article changes into deliveries, in the import's transaction: a new article becomes one <c>Create</c> per
/// follower inbox (a server's shared inbox once, however many of its accounts follow), an edit that changed the
/// article one <c>Update</c> per inbox for that revision. The outbox's unique (channel, article, version, inbox) row
/// is what makes each exactly once across re-imports, retries and nodes.
/// </summary>
public sealed class ActivityPubPlanner(FollowerStore followers, DeliveryStore deliveries, ArticleRounds rounds, ActivityDocuments documents, TimeProvider time) : IArticleChangeHandler
{
    public const string Channel = "activitypub";

    public async Task OnArticleChangedAsync(DbConnection connection, DbTransaction transaction, Article? before, Article after, CancellationToken cancellationToken)
    {
        if (before is null)
        {
            await PlanAsync(connection, transaction, after, ArticleVerb.Create(1), cancellationToken);
            return;
        }
        // Published again after an unpublish: a new object (the next round), since the followers' servers keep the old
        // one's Delete and would drop a second Create of it; every inbox that follows now gets its Create.
        if (before.Unpublished && !after.Unpublished)
        {
            await PlanAsync(connection, transaction, after, ArticleVerb.Create(await rounds.NextAsync(connection, transaction, after.Id, cancellationToken)), cancellationToken);
            return;
        }
        // Unpublished (API DELETE, Ghost's post.unpublished): a Delete to every inbox that had this round's Create, so the
        // post leaves the followers' timelines.
        if (!before.Unpublished && after.Unpublished)
            await PlanAsync(connection, transaction, after, ArticleVerb.Delete(await rounds.CurrentAsync(connection, transaction, after.Id, cancellationToken)), cancellationToken);
        // A re-import of the same text changes nothing a reader sees.
        else if (!after.Unpublished && before.ContentHash != after.ContentHash)
            await PlanAsync(connection, transaction, after, ArticleVerb.Update(after.ContentHash, await rounds.CurrentAsync(connection, transaction, after.Id, cancellationToken)), cancellationToken);
    }

    /// <summary>
    /// The article's Create in its current round to every follower inbox that has none (followed since, or added back);
    /// returns how many were new. Nothing for an unpublished article: its Delete went out.
    /// </summary>
    public async Task<int> PlanCreateAsync(DbConnection connection, Article article, CancellationToken cancellationToken) =>
        article.Unpublished ? 0 : await PlanAsync(connection, null, article, ArticleVerb.Create(await rounds.CurrentAsync(connection, null, article.Id, cancellationToken)), cancellationToken);

    /// <summary>Creates the verb's deliveries to every current follower inbox; returns how many were new.</summary>
    private async Task<int> PlanAsync(DbConnection connection, DbTransaction? transaction, Article article, ArticleVerb verb, CancellationToken cancellationToken)
    {
        var audience = documents.AttributedTo(article).Select(a => a.Username).ToList();
        var inboxes = await followers.DeliveryInboxesAsync(connection, transaction, audience, cancellationToken);
        // A future article's Create waits for its time; an edit goes out now.
        var notBefore = verb.Kind == ArticleVerbKind.Create && article.PublishedAt > time.GetUtcNow() ? article.PublishedAt : time.GetUtcNow();
        var made = 0;
        foreach (var inbox in inboxes)
        {
            // An inbox that never had this round's Create (its accounts followed later) gets no Update or Delete of something it has not seen.
            if (verb.Kind != ArticleVerbKind.Create && !await deliveries.ExistsAsync(connection, transaction, Channel,
                    new DeliverySubject(SubjectKind.Article, article.Id, ArticleVerb.Create(verb.Round).Version), DeliveryRecipient.Inbox(inbox), cancellationToken)) continue;
            if (await deliveries.EnsureAsync(connection, transaction, Channel, new DeliverySubject(SubjectKind.Article, article.Id, verb.Version),
                    DeliveryRecipient.Inbox(inbox), notBefore, cancellationToken))
                made++;
        }
        return made;
    }

    /// <summary>The answer to a follow, to the follower's own inbox.</summary>
    public Task<bool> PlanAcceptAsync(DbConnection connection, DbTransaction? transaction, Follower follower, CancellationToken cancellationToken) =>
        deliveries.EnsureAsync(connection, transaction, Channel, DeliverySubject.Follow(follower.Id, follower.FollowActivity),
            DeliveryRecipient.Inbox(follower.Inbox), time.GetUtcNow(), cancellationToken);
}
