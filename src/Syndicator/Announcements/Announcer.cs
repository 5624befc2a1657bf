using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;

namespace Syndicator.Announcements;

public sealed record AccountReport(string Account, Network Network, DrainReport Report);

/// <summary>
/// Sends due announcements, each account on its own (concurrently, so one slow or failing account never delays
/// the others), at most <see cref="SocialAccount.MaxPerRun"/> per account per run, oldest article first, through
/// the delivery worker and the network's channel.
/// </summary>
public sealed class Announcer(
    IOptions<AnnouncementOptions> options,
    AnnouncementPlanner planner,
    DeliveryWorker worker,
    IEnumerable<AnnouncementChannel> channels,
    PostComposer composer,
    ILogger<Announcer> logger)
{
    private readonly Dictionary<Network, AnnouncementChannel> channelsByNetwork = channels.ToDictionary(c => c.Network);

    public async Task<IReadOnlyList<AccountReport>> SendDueAsync(string? articleId, CancellationToken cancellationToken)
    {
        var accounts = options.Value.Accounts.Where(a => a.Enabled).ToList();
        var reports = await Task.WhenAll(accounts.Select(async account =>
        {
            try
            {
                var filter = new DrainFilter(account.Name, articleId is null ? null : DeliverySubject.Article(articleId), account.MaxPerRun);
                var report = await worker.DrainAsync(channelsByNetwork[account.Network], filter, untilEmpty: false, cancellationToken);
                return new AccountReport(account.Name, account.Network, report ?? DrainReport.None);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Announcements for account {Account} could not be sent: {Reason}", account.Name, e.Message);
                return new AccountReport(account.Name, account.Network, DrainReport.None);
            }
        }));
        return reports;
    }

    public IEnumerable<(SocialAccount Account, ComposedPost Post)> Preview(Article article) =>
        planner.AccountsFor(article).Select(account => (account, composer.Compose(article, account, "preview")));
}
