namespace Syndicator.Articles.Import;

/// <summary>A source file that cannot become an article. <see cref="Line"/> is 1-based where the problem has a place in the file.</summary>
public sealed class ArticleRejectedException(string problem, int? line = null, Exception? inner = null)
    : Exception(line is null ? problem : $"line {line}: {problem}", inner)
{
    public string Problem { get; } = problem;
    public int? Line { get; } = line;
}
