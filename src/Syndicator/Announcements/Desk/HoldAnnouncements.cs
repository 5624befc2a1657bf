using Syndicator.Articles;
using Syndicator.Deliveries;

namespace Syndicator.Announcements;

/// <summary>
/// Keeps an article off social media for now, or lets it go again: while held, none of its announcements is sent
/// (they wait in their place) and announce now / announce again refuse. Lifting the hold sends what is due.
/// </summary>
public sealed class HoldAnnouncements(DeliveryStore deliveries)
{
    /// <summary>True when the article was not held before.</summary>
    public Task<bool> HoldAsync(Article article, CancellationToken cancellationToken) =>
        deliveries.HoldAsync(DeliverySubject.Article(article.Id), cancellationToken);

    /// <summary>True when the article was held.</summary>
    public Task<bool> UnholdAsync(Article article, CancellationToken cancellationToken) =>
        deliveries.UnholdAsync(DeliverySubject.Article(article.Id), cancellationToken);

    public async Task<DateTimeOffset?> HeldSinceAsync(Article article, CancellationToken cancellationToken) =>
        (await deliveries.HeldAsync(SubjectKind.Article, [article.Id], cancellationToken)).TryGetValue(article.Id, out var at) ? at : null;
}
