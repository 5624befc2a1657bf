using Dapper;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Announcements;

/// <summary>Why an account an article belongs to has no announcement of it.</summary>
public enum MissedReason
{
    /// <summary>The article's file says announce: false.</summary>
    AnnounceOff,
    /// <summary>The article's skipAccounts names the account.</summary>
    Skipped,
    /// <summary>Published more than Announcements:MaxAgeHours before it was imported.</summary>
    TooOldWhenImported,
    /// <summary>Imported when the account was not configured, or not enabled: planning only happens at import.</summary>
    AccountAddedLater,
}

/// <summary>One account an article belongs to that never got an announcement of it, and why, in the publisher's words.</summary>
public sealed record MissedAnnouncement(Article Article, SocialAccount Account, MissedReason Reason, DateTimeOffset ImportedAt, string Explanation);

/// <summary>
/// The articles that missed accounts they belong to: announcements are planned once, when an article is first
/// imported, so an article older than Announcements:MaxAgeHours at import, or imported before its account was
/// configured, has none. Each is listed with its reason; <see cref="AnnounceNow"/> announces it with one command.
/// </summary>
public sealed class MissedAnnouncements(AnnouncementPlanner planner, DeliveryStore deliveries, ArticleStore articles, Database database, IOptions<AnnouncementOptions> options)
{
    /// <summary>The missed accounts of the given articles (those the dashboard shows), in the order given.</summary>
    public async Task<IReadOnlyList<MissedAnnouncement>> OfAsync(IReadOnlyList<Article> recent, CancellationToken cancellationToken)
    {
        if (recent.Count == 0) return [];
        var ids = recent.Select(a => a.Id).ToList();
        var planned = (await deliveries.ListForSubjectsAsync(SubjectKind.Article, ids, cancellationToken))
            .Select(d => (d.Subject.Id, d.Channel, d.Recipient.Id)).ToHashSet();
        var imported = await ImportedAtAsync(ids, cancellationToken);
        var maxAge = TimeSpan.FromHours(options.Value.MaxAgeHours);
        var missed = new List<MissedAnnouncement>();
        foreach (var article in recent)
        {
            if (!imported.TryGetValue(article.Id, out var importedAt)) continue;
            foreach (var account in planner.AccountsOf(article))
            {
                if (planned.Contains((article.Id, AnnouncementPlanner.Channel(account.Network), account.Name))) continue;
                // As the planner counts it: from announceAt when the file sets one.
                var age = importedAt - (article.Controls.AnnounceAt ?? article.PublishedAt);
                missed.Add(
                    !article.Controls.Announce
                        ? new(article, account, MissedReason.AnnounceOff, importedAt,
                            $"Not announced on {account.Name}: the article's file says announce: false (remove that line and import it again to announce it).")
                    : article.Controls.Skips(account.Name)
                        ? new(article, account, MissedReason.Skipped, importedAt,
                            $"Not announced on {account.Name}: the article's skipAccounts names this account (remove it there and import it again to announce it).")
                    : age > maxAge
                        ? new(article, account, MissedReason.TooOldWhenImported, importedAt,
                            $"Not announced on {account.Name}: it was published {Hours(age)} before it was imported, more than Announcements:MaxAgeHours ({options.Value.MaxAgeHours.ToString(System.Globalization.CultureInfo.InvariantCulture)} h).")
                        : new(article, account, MissedReason.AccountAddedLater, importedAt,
                            $"Not announced on {account.Name}: the account was not configured (or not enabled) when the article was imported on {Shared.IsoTime.Utc(importedAt)}."));
            }
        }
        return missed;
    }

    /// <summary>The missed accounts among the newest <paramref name="limit"/> articles.</summary>
    public async Task<IReadOnlyList<MissedAnnouncement>> RecentAsync(int limit, CancellationToken cancellationToken) =>
        await OfAsync(await articles.ListAsync(limit, cancellationToken), cancellationToken);

    private async Task<IReadOnlyDictionary<string, DateTimeOffset>> ImportedAtAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var parameters = new DynamicParameters();
        var rows = await connection.QueryAsync<(string Id, DateTimeOffset ImportedAt)>(new CommandDefinition(
            $"SELECT id, imported_at FROM articles WHERE id IN {SqlList.In(parameters, "id", ids)}", parameters, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.Id, r => r.ImportedAt, StringComparer.Ordinal);
    }

    private static string Hours(TimeSpan age) => age.TotalHours < 48 ? $"{(int)age.TotalHours} h" : $"{(int)age.TotalDays} days";
}
