using Quartz;

namespace Syndicator.Articles.Import;

/// <summary>Imports whatever has been dropped into the inbox folder since the last scan.</summary>
[DisallowConcurrentExecution]
public sealed class DropFolderImportJob(ArticleFiles files) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var summary = await files.ScanInboxAsync(cancellationToken);
        context.Result = summary.Files.Count == 0
            ? JobRunReport.Skipped("inbox empty")
            : JobRunReport.Succeeded(summary.ToString()).With("created", summary.Created).With("updated", summary.Updated).With("rejected", summary.Rejected);
    }
}
