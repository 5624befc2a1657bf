using Syndicator.Articles;
using Syndicator.Deliveries;

namespace Syndicator.Announcements;

/// <summary>An announced article reads as its title and slug.</summary>
public sealed class ArticleNamer(ArticleStore articles) : IDeliveryNamer
{
    public async Task NameAsync(IReadOnlyCollection<Delivery> deliveries, DeliveryNames names, CancellationToken cancellationToken)
    {
        foreach (var subject in deliveries.Select(d => d.Subject).Where(s => s.Kind == SubjectKind.Article).Distinct())
            names.Add(subject, await articles.FindByIdAsync(subject.Id, cancellationToken) is { } article
                ? $"“{article.Title}” ({article.Slug})"
                : $"article {subject.Id} (no longer in the store)");
    }
}
