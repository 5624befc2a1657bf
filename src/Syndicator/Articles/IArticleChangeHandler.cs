using System.Data.Common;

namespace Syndicator.Articles;

/// <summary>One article an import created (<see cref="Before"/> null) or changed.</summary>
public sealed record ArticleChange(Article? Before, Article After);

/// <summary>
/// Told about every article an import creates or changes, inside the import's own transaction, so that what a
/// capability records about the change (feeds to rebuild, announcements to send) commits or rolls back with it.
/// </summary>
public interface IArticleChangeHandler
{
    /// <param name="before">The article as it was, or null when the import created it.</param>
    Task OnArticleChangedAsync(DbConnection connection, DbTransaction transaction, Article? before, Article after, CancellationToken cancellationToken);

    /// <summary>
    /// The changes of one import batch, in the order they were made, once the batch's articles are written. One at a
    /// time unless the handler can record many in fewer statements.
    /// </summary>
    async Task OnArticlesChangedAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<ArticleChange> changes, CancellationToken cancellationToken)
    {
        foreach (var change in changes) await OnArticleChangedAsync(connection, transaction, change.Before, change.After, cancellationToken);
    }
}
