using System.Data.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;

namespace Syndicator.Announcements;

/// <summary>
/// When an article first enters the store, creates one delivery per account that should announce it (its author's
/// accounts and the publication's, less those its <c>skipAccounts</c> names), in the import's transaction, due at
/// its publication time or its <c>announceAt</c>, whichever is later; an article with <c>announce: false</c> gets
/// none. Edits create nothing, except when they change the article's announcement controls: turning announce on or
/// removing an account from skipAccounts plans what is now wanted (a row that exists is left as it is), and a new
/// announceAt moves the deliveries not yet tried.
/// </summary>
public sealed class AnnouncementPlanner(IOptions<AnnouncementOptions> options, DeliveryStore deliveries, TimeProvider time, ILogger<AnnouncementPlanner> logger) : IArticleChangeHandler
{
    public static string Channel(Network network) => network.ToString().ToLowerInvariant();

    public async Task OnArticleChangedAsync(DbConnection connection, DbTransaction transaction, Article? before, Article after, CancellationToken cancellationToken)
    {
        if (before is not null && before.Controls == after.Controls) return;
        if (!after.Controls.Announce)
        {
            logger.LogInformation("Article {ArticleId} ({Slug}) says announce: false; no account announces it", after.Id, after.Slug);
            return;
        }
        if (TooOld(after) is { } age)
        {
            logger.LogInformation("Article {ArticleId} was published {Age} ago, more than Announcements:MaxAgeHours; not announcing it", after.Id, age);
            return;
        }
        foreach (var account in AccountsFor(after))
            await PlanAsync(connection, transaction, after, account, cancellationToken);
        if (before is not null && before.Controls.AnnounceAt != after.Controls.AnnounceAt)
            foreach (var network in Enum.GetValues<Network>())
                await deliveries.RescheduleUntriedAsync(connection, transaction, Channel(network), DeliverySubject.Article(after.Id), DueAt(after), cancellationToken);
    }

    /// <summary>
    /// How long before now the article counts as published, when that is more than Announcements:MaxAgeHours. An
    /// announceAt counts instead of the publication time: scheduling an old article's announcement is deliberate.
    /// </summary>
    private TimeSpan? TooOld(Article article)
    {
        var age = time.GetUtcNow() - (article.Controls.AnnounceAt ?? article.PublishedAt);
        return age > TimeSpan.FromHours(options.Value.MaxAgeHours) ? age : null;
    }

    /// <summary>The enabled accounts that announce <paramref name="article"/>: the publication's and its author's, less those it skips.</summary>
    public IEnumerable<SocialAccount> AccountsFor(Article article) => AccountsOf(article).Where(a => !article.Controls.Skips(a.Name));

    /// <summary>The enabled accounts <paramref name="article"/> belongs to (the publication's and its author's), skipped or not.</summary>
    public IEnumerable<SocialAccount> AccountsOf(Article article) =>
        options.Value.Accounts.Where(a => a.Enabled && (a.IsPublication || BelongsTo(a, article.Author)));

    /// <summary>Publication time or announceAt, whichever is later: a backlog goes out oldest first, a future or scheduled article waits.</summary>
    public static DateTimeOffset DueAt(Article article) =>
        article.Controls.AnnounceAt is { } at && at > article.PublishedAt ? at : article.PublishedAt;

    public Task<bool> PlanAsync(DbConnection connection, DbTransaction? transaction, Article article, SocialAccount account, CancellationToken cancellationToken) =>
        deliveries.EnsureAsync(connection, transaction, Channel(account.Network), DeliverySubject.Article(article.Id), DeliveryRecipient.Account(account.Name), DueAt(article), cancellationToken);

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
