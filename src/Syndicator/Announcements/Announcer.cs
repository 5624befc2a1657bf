using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Announcements;

public sealed record AccountReport(string Account, Network Network, DrainReport Report);

/// <summary>
/// Sends due announcements, each account on its own (concurrently, so one slow or failing account never delays
/// the others), at most <see cref="SocialAccount.MaxPerRun"/> per account per run, oldest article first.
/// </summary>
public sealed class Announcer(
    IOptions<AnnouncementOptions> options,
    AnnouncementPlanner planner,
    DeliveryWorker worker,
    ArticleStore articles,
    PostComposer composer,
    IEnumerable<ISocialClient> clients,
    Database database,
    ILogger<Announcer> logger)
{
    private readonly Dictionary<Network, ISocialClient> clientsByNetwork = clients.ToDictionary(c => c.Network);

    public async Task<IReadOnlyList<AccountReport>> SendDueAsync(string? articleId, CancellationToken cancellationToken)
    {
        var accounts = options.Value.Accounts.Where(a => a.Enabled).ToList();
        var reports = await Task.WhenAll(accounts.Select(async account =>
        {
            try
            {
                var report = await worker.DrainAsync(AnnouncementPlanner.Channel(account.Network), (d, ct) => SendAsync(account, d, ct), cancellationToken,
                    recipient: account.Name, limit: account.MaxPerRun, subjectId: articleId);
                return new AccountReport(account.Name, account.Network, report);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Announcements for account {Account} could not be sent: {Reason}", account.Name, e.Message);
                return new AccountReport(account.Name, account.Network, new DrainReport(0, 0, 0));
            }
        }));
        return reports;
    }

    /// <summary>Announces one article now on every account it belongs to, even when it is older than Announcements:MaxAgeHours.</summary>
    public async Task<IReadOnlyList<AccountReport>> AnnounceNowAsync(Article article, CancellationToken cancellationToken)
    {
        await using (var connection = await database.OpenAsync(cancellationToken))
            foreach (var account in planner.AccountsFor(article))
                await planner.PlanAsync(connection, null, article, account, cancellationToken);
        return await SendDueAsync(article.Id, cancellationToken);
    }

    public IEnumerable<(SocialAccount Account, ComposedPost Post)> Preview(Article article) =>
        planner.AccountsFor(article).Select(account => (account, composer.Compose(article, account, "preview")));

    private async Task<DeliveryOutcome> SendAsync(SocialAccount account, Delivery delivery, CancellationToken cancellationToken)
    {
        var article = await articles.FindByIdAsync(delivery.SubjectId, cancellationToken);
        if (article is null) return new DeliveryOutcome.Permanent($"{AnnouncementPlanner.Channel(account.Network)}: article {delivery.SubjectId} is no longer in the store");
        if (!clientsByNetwork.TryGetValue(account.Network, out var client))
            return new DeliveryOutcome.Permanent($"{AnnouncementPlanner.Channel(account.Network)}: no client for this network");
        // The key is the delivery's, so every attempt of this (article, account) carries the same one.
        var post = composer.Compose(article, account, $"syndicator-{delivery.Id}-{article.Id}");
        return await client.PostAsync(account, post, isRetry: delivery.Attempts > 1, cancellationToken);
    }
}
