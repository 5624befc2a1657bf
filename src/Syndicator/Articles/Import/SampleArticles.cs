using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Syndicator.Articles.Import;

/// <summary>Imports the shipped sample articles at start-up, so a fresh install has something to syndicate. Idempotent.</summary>
internal sealed class SampleArticles(ArticleFiles files, IOptions<ImportOptions> options, IHostEnvironment environment, ILogger<SampleArticles> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.Value.SamplesPath)) return;
        var path = Path.GetFullPath(options.Value.SamplesPath, environment.ContentRootPath);
        if (!Directory.Exists(path))
        {
            logger.LogWarning("Import:SamplesPath {Path} does not exist; no samples imported", path);
            return;
        }
        var summary = await files.ImportPathsAsync([path], null, cancellationToken);
        logger.LogInformation("Sample articles from {Path}: {Summary}", path, summary);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
