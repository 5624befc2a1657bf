using Quartz;

namespace Syndicator.Articles.Import;

/// <summary>Imports whatever has been dropped into the inbox folder since the last scan.</summary>
[DisallowConcurrentExecution]
public sealed class DropFolderImportJob(ArticleFiles files, Scheduling.JobTrigger jobs) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var summary = await files.ScanInboxAsync(cancellationToken);
        if (summary.ChangedArticles) await jobs.FireNowAsync(Scheduling.JobCatalog.FeedBuild, cancellationToken);
        context.Result = summary.Files.Count == 0
            ? JobRunReport.Skipped("inbox empty")
            : JobRunReport.Succeeded(summary.ToString()).With("created", summary.Created).With("updated", summary.Updated).With("rejected", summary.Rejected);
    }
}
