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
public sealed class ActivityPubPlanner(FollowerStore followers, DeliveryStore deliveries, ActivityDocuments documents, TimeProvider time) : IArticleChangeHandler
{
    public const string Channel = "activitypub";

    public Task OnArticleChangedAsync(DbConnection connection, DbTransaction transaction, Article? before, Article after, CancellationToken cancellationToken)
    {
        if (before is null) return PlanAsync(connection, transaction, after, ArticleVerb.Create, cancellationToken);
        // Unpublished (API DELETE, Ghost's post.unpublished): a Delete to every inbox that had the Create, so the post
        // leaves the followers' timelines. Published again, it stays gone there (a second Create of one object is
        // dropped by receivers); the feeds and the outbox have it again.
        if (!before.Unpublished && after.Unpublished) return PlanAsync(connection, transaction, after, ArticleVerb.Delete, cancellationToken);
        if (after.Unpublished) return Task.CompletedTask;
        // A re-import of the same text changes nothing a reader sees.
        if (before.ContentHash == after.ContentHash) return Task.CompletedTask;
        return PlanAsync(connection, transaction, after, ArticleVerb.Update(after.ContentHash), cancellationToken);
    }

    /// <summary>Creates the verb's deliveries to every current follower inbox; returns how many were new.</summary>
    public async Task<int> PlanAsync(DbConnection connection, DbTransaction? transaction, Article article, ArticleVerb verb, CancellationToken cancellationToken)
    {
        var audience = documents.AttributedTo(article).Select(a => a.Username).ToList();
        var inboxes = await followers.DeliveryInboxesAsync(connection, transaction, audience, cancellationToken);
        // A future article's Create waits for its time; an edit goes out now.
        var notBefore = verb.Kind == ArticleVerbKind.Create && article.PublishedAt > time.GetUtcNow() ? article.PublishedAt : time.GetUtcNow();
        var made = 0;
        foreach (var inbox in inboxes)
        {
            // An inbox that never had the Create (its accounts followed later) gets no Update or Delete of something it has not seen.
            if (verb.Kind != ArticleVerbKind.Create && !await deliveries.ExistsAsync(connection, transaction, Channel,
                    new DeliverySubject(SubjectKind.Article, article.Id, ArticleVerb.Create.Version), DeliveryRecipient.Inbox(inbox), cancellationToken)) continue;
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
