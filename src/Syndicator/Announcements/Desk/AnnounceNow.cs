using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Announcements;

/// <summary>
/// What an announce-now or announce-again did: a refusal in the publisher's words (nothing was done), or the
/// deliveries it created (by account name) and what each account's send came to.
/// </summary>
public sealed record AnnounceResult(string? Refusal, IReadOnlyList<string> Created, IReadOnlyList<AccountReport> Reports)
{
    public static AnnounceResult Refused(string reason) => new(reason, [], []);

    /// <summary>The file's announce: false is the publisher's word; a button or a command does not overrule it.</summary>
    public static AnnounceResult AnnounceOff(Article article) =>
        Refused($"“{article.Title}” says announce: false in its file: remove that line and import it again to announce it.");

    public bool Failed => Refusal is not null || Reports.Any(r => r.Report.LeftWorkFailed);
}

/// <summary>
/// Announce one article now: on every account it belongs to that has no announcement of it yet (even when it was
/// older than Announcements:MaxAgeHours when imported, or imported before the account was configured), and what
/// already waits for it is sent now rather than at its time. Refused while the article is held.
/// </summary>
public sealed class AnnounceNow(AnnouncementPlanner planner, Announcer announcer, DeliveryStore deliveries, Database database)
{
    public async Task<AnnounceResult> RunAsync(Article article, CancellationToken cancellationToken)
    {
        var subject = DeliverySubject.Article(article.Id);
        if ((await deliveries.HeldAsync(SubjectKind.Article, [article.Id], cancellationToken)).Count > 0)
            return AnnounceResult.Refused($"“{article.Title}” is held: lift the hold first (`syndicator announce --article {article.Slug} --unhold`).");
        if (!article.Controls.Announce) return AnnounceResult.AnnounceOff(article);
        var accounts = planner.AccountsFor(article).ToList();
        if (accounts.Count == 0)
            return AnnounceResult.Refused($"No enabled account announces “{article.Title}”: add a publication account, or one for its author {article.Author.Name}, to Announcements:Accounts.");
        var created = new List<string>();
        await using (var connection = await database.OpenAsync(cancellationToken))
            foreach (var account in accounts)
                if (await planner.PlanAsync(connection, null, article, account, cancellationToken))
                    created.Add(account.Name);
        await deliveries.MakeDueAsync(subject, cancellationToken);
        return new AnnounceResult(null, created, await announcer.SendDueAsync(article.Id, cancellationToken));
    }
}

/// <summary>
/// Announce an article again on purpose, on every account it belongs to or one named: a new, recorded delivery per
/// account (its subject version "again-N" tells it from the earlier ones, so the duplicate guard lets exactly this
/// one through, with a key of its own), sent now. Nothing ever announces again on its own.
/// </summary>
public sealed class AnnounceAgain(AnnouncementPlanner planner, Announcer announcer, DeliveryStore deliveries, TimeProvider time)
{
    public async Task<AnnounceResult> RunAsync(Article article, string? accountName, CancellationToken cancellationToken)
    {
        if ((await deliveries.HeldAsync(SubjectKind.Article, [article.Id], cancellationToken)).Count > 0)
            return AnnounceResult.Refused($"“{article.Title}” is held: lift the hold first (`syndicator announce --article {article.Slug} --unhold`).");
        if (!article.Controls.Announce) return AnnounceResult.AnnounceOff(article);
        var belonging = planner.AccountsFor(article).ToList();
        var accounts = belonging;
        if (accountName is not null)
        {
            accounts = belonging.Where(a => string.Equals(a.Name, accountName, StringComparison.Ordinal)).ToList();
            if (accounts.Count == 0)
                return AnnounceResult.Refused(belonging.Count == 0
                    ? $"No enabled account announces “{article.Title}”, so it cannot go out on {accountName}."
                    : $"Account {accountName} does not announce “{article.Title}” (it is not an enabled account of the publication or of {article.Author.Name}); the accounts that do: {string.Join(", ", belonging.Select(a => a.Name))}.");
        }
        if (accounts.Count == 0)
            return AnnounceResult.Refused($"No enabled account announces “{article.Title}”: add a publication account, or one for its author {article.Author.Name}, to Announcements:Accounts.");

        var subject = DeliverySubject.Article(article.Id);
        var existing = await deliveries.ListForSubjectAsync(subject, cancellationToken);
        var created = new List<string>();
        foreach (var account in accounts)
        {
            var channel = AnnouncementPlanner.Channel(account.Network);
            var earlier = existing.Count(d => d.Channel == channel && d.Recipient == DeliveryRecipient.Account(account.Name));
            // The first announcement has no version; the n-th one again is "again-n".
            var version = earlier == 0 ? "" : $"again-{earlier}";
            if (await deliveries.EnsureAsync(channel, subject with { Version = version }, DeliveryRecipient.Account(account.Name), time.GetUtcNow(), cancellationToken))
                created.Add(account.Name);
        }
        return new AnnounceResult(null, created, await announcer.SendDueAsync(article.Id, cancellationToken));
    }
}
