using Syndicator.Articles;
using Syndicator.Articles.Import;

namespace Syndicator.Tests.Support;

public static class ImportedArticles
{
    /// <summary>The stored article an import's outcome names: the import summary keeps no article text, the store does.</summary>
    public static async Task<Article> StoredAsync(this ArticleStore store, ArticleOutcome outcome, CancellationToken cancellationToken) =>
        await store.FindByIdAsync(outcome.Id, cancellationToken) ?? throw new InvalidOperationException($"Article {outcome.Id} ({outcome.Slug}) was reported imported but is not stored.");
}
