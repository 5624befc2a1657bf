using System.Data.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;

namespace Syndicator.Announcements;

/// <summary>
/// When an article first enters the store, creates one delivery per account that should announce it (its author's
/// accounts and the publication's), in the import's transaction. Edits and re-imports create nothing: the
/// (channel, article, account) row already exists or the article is not new.
/// </summary>
public sealed class AnnouncementPlanner(IOptions<AnnouncementOptions> options, DeliveryStore deliveries, TimeProvider time, ILogger<AnnouncementPlanner> logger) : IArticleChangeHandler
{
    public static string Channel(Network network) => network.ToString().ToLowerInvariant();

    public async Task OnArticleChangedAsync(DbConnection connection, DbTransaction transaction, Article? before, Article after, CancellationToken cancellationToken)
    {
        if (before is not null) return;
        var age = time.GetUtcNow() - after.PublishedAt;
        if (age > TimeSpan.FromHours(options.Value.MaxAgeHours))
        {
            logger.LogInformation("Article {ArticleId} was published {Age} ago, more than Announcements:MaxAgeHours; not announcing it", after.Id, age);
            return;
        }
        foreach (var account in AccountsFor(after))
            await PlanAsync(connection, transaction, after, account, cancellationToken);
    }

    public IEnumerable<SocialAccount> AccountsFor(Article article) =>
        options.Value.Accounts.Where(a => a.Enabled && (a.IsPublication || BelongsTo(a, article.Author)));

    /// <summary>The delivery is due at the article's publication time: a backlog goes out oldest first, a future article waits.</summary>
    public Task<bool> PlanAsync(DbConnection connection, DbTransaction? transaction, Article article, SocialAccount account, CancellationToken cancellationToken) =>
        deliveries.EnsureAsync(connection, transaction, Channel(account.Network), DeliverySubject.Article(article.Id), DeliveryRecipient.Account(account.Name), article.PublishedAt, cancellationToken);

    private static bool BelongsTo(SocialAccount account, Author author)
    {
        var wanted = account.Author!.Trim().TrimStart('@');
        var handle = account.Network switch
        {
            Network.X => author.Handles.X,
            Network.Mastodon => author.Handles.Mastodon,
            _ => author.Handles.Bluesky,
        };
        return string.Equals(wanted, author.Name, StringComparison.OrdinalIgnoreCase)
            || (handle is not null && string.Equals(wanted, handle.TrimStart('@'), StringComparison.OrdinalIgnoreCase));
    }
}
