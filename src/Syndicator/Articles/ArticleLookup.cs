namespace Syndicator.Articles;

/// <summary>How the CLI and the dashboard find the article a person names: by its slug, or by its id.</summary>
public static class ArticleLookup
{
    /// <summary>The article whose slug, else whose id, is <paramref name="slugOrId"/>; null when neither is.</summary>
    public static async Task<Article?> FindBySlugOrIdAsync(this ArticleStore articles, string slugOrId, CancellationToken cancellationToken) =>
        await articles.FindBySlugAsync(slugOrId, cancellationToken) ?? await articles.FindByIdAsync(slugOrId, cancellationToken);
}
