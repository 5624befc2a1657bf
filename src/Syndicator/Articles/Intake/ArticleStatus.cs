using Syndicator.Deliveries;

namespace Syndicator.Articles.Intake;

/// <summary>Where the article sits in one feed: the feed's scope, whether it is in the current document, and its archive page.</summary>
public sealed record FeedPresence(string Scope, string Label, bool InCurrentFeed, int? ArchivePage, IReadOnlyList<string> Urls);

/// <summary>One delivery of the article: an announcement on one account.</summary>
public sealed record DeliveryStatus(string Channel, string Recipient, string State, int Attempts, string? LastError, string? RemoteUrl, DateTimeOffset? SentAt);

/// <summary>What the feeds and digests say about an article, as the dashboard shows it.</summary>
public sealed record ChannelStatus(IReadOnlyList<FeedPresence> Feeds, IReadOnlyDictionary<string, long> Digests);

/// <summary>
/// Reads an article's place in the feeds and digests. Those capabilities sit above Articles, so the web layer supplies
/// this (over the dashboard's own queries) and the API asks it.
/// </summary>
public interface IArticleChannelStatus
{
    Task<ChannelStatus> ReadAsync(Article article, CancellationToken cancellationToken);
}

/// <summary>An article's state on every channel: what <c>GET /api/articles/{slug}</c> answers, and every write too.</summary>
public sealed record ArticleStatus(
    string Id,
    string Slug,
    string Title,
    string Author,
    IReadOnlyList<string> Tags,
    string Url,
    DateTimeOffset PublishedAt,
    DateTimeOffset UpdatedAt,
    string State,
    DateTimeOffset? UnpublishedAt,
    string? Change,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<FeedPresence> Feeds,
    IReadOnlyList<DeliveryStatus> Deliveries,
    IReadOnlyDictionary<string, long> Digests,
    IReadOnlyList<HistoryEntry> History)
{
    public static ArticleStatus Of(Article article, string? change, ChannelStatus channels, IReadOnlyList<Delivery> deliveries, IReadOnlyList<HistoryEntry> history) => new(
        article.Id, article.Slug.Value, article.Title, article.Author.Name, article.Tags, article.CanonicalUrl.Value, article.PublishedAt, article.UpdatedAt,
        article.Unpublished ? "unpublished" : "published", article.UnpublishedAt, change, article.Warnings,
        channels.Feeds,
        deliveries.Select(d => new DeliveryStatus(d.Channel, d.Recipient.Id, d.State.ToColumn(), d.Attempts, d.LastError, d.RemoteUrl, d.SentAt)).ToList(),
        channels.Digests, history);
}
