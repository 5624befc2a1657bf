using Syndicator.Articles;
using Syndicator.Articles.Intake;
using Syndicator.Deliveries;

namespace Syndicator.Web;

/// <summary>The article API's view of feeds and digests: the dashboard's own queries, so both say the same.</summary>
internal sealed class ArticleChannelStatus(DashboardData data) : IArticleChannelStatus
{
    public async Task<ChannelStatus> ReadAsync(Article article, CancellationToken cancellationToken)
    {
        // An unpublished article is in no feed; the builder leaves it out, and so does its status.
        var feeds = article.Unpublished ? [] : await data.ArticleFeedsAsync(article, cancellationToken);
        var digests = await data.ArticleDigestsAsync(article.Id, cancellationToken);
        return new ChannelStatus(
            feeds.Select(f => new FeedPresence(f.Scope.Id, f.Label, f.InCurrentFeed, f.ArchivePage, f.Links.Select(l => l.Url).ToList())).ToList(),
            digests.ToDictionary(d => d.Key.ToColumn(), d => d.Value));
    }
}
