using System.Data.Common;

namespace Syndicator.Articles;

/// <summary>
/// Told about every article an import creates or changes, inside the import's own transaction, so that what a
/// capability records about the change (feeds to rebuild, announcements to send) commits or rolls back with it.
/// </summary>
public interface IArticleChangeHandler
{
    /// <param name="before">The article as it was, or null when the import created it.</param>
    Task OnArticleChangedAsync(DbConnection connection, DbTransaction transaction, Article? before, Article after, CancellationToken cancellationToken);
}
