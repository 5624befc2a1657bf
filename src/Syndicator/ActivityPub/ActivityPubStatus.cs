using Microsoft.Extensions.Options;
using Syndicator.Deliveries;

namespace Syndicator.ActivityPub;

/// <summary>One article in the fediverse: its likes, boosts and replies, and each inbox's deliveries of it (Create, Update, Delete).</summary>
public sealed record ArticleFediverse(InteractionCounts Interactions, IReadOnlyList<Delivery> Deliveries, IReadOnlyDictionary<string, ParkedInbox> Parked);

/// <summary>One of our accounts: followers accepted and held, the inboxes they are delivered through, and how many of those are parked.</summary>
public sealed record ActorFollowers(string Username, int Accepted, int Held, int Inboxes, int ParkedInboxes);

/// <summary>What the dashboard shows of ActivityPub: read here, beside the stores, so the pages only render.</summary>
public sealed class ActivityPubStatus(IOptions<ActivityPubOptions> options, LocalActors actors, FollowerStore followers, InboxHealth health, DeliveryStore deliveries)
{
    public bool Enabled => options.Value.Enabled;

    public async Task<ArticleFediverse> ArticleAsync(string articleId, CancellationToken cancellationToken)
    {
        var counts = await followers.CountInteractionsAsync(articleId, cancellationToken);
        var sent = (await deliveries.ListForSubjectAsync(DeliverySubject.Article(articleId), cancellationToken)).Where(d => d.Channel == ActivityPubPlanner.Channel).ToList();
        return new ArticleFediverse(counts, sent, await health.ParkedAsync(cancellationToken));
    }

    /// <summary>Every configured account (none followed included), then any account that followers still name but the configuration no longer has.</summary>
    public async Task<IReadOnlyList<ActorFollowers>> FollowersAsync(CancellationToken cancellationToken)
    {
        var all = await followers.ListAsync(null, cancellationToken);
        var parked = await health.ParkedAsync(cancellationToken);
        var names = actors.All.Select(a => a.Username).Concat(all.Select(f => f.Actor)).Distinct(StringComparer.Ordinal);
        return names.Select(name =>
        {
            var mine = all.Where(f => f.Actor == name).ToList();
            var inboxes = mine.Where(f => f.State == FollowState.Accepted).Select(f => f.DeliveryInbox).Distinct(StringComparer.Ordinal).ToList();
            return new ActorFollowers(name, mine.Count(f => f.State == FollowState.Accepted), mine.Count(f => f.State == FollowState.Pending), inboxes.Count, inboxes.Count(parked.ContainsKey));
        }).ToList();
    }
}
