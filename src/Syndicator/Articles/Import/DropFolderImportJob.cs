using Quartz;

namespace Syndicator.Articles.Import;

/// <summary>Imports whatever has been dropped into the inbox folder since the last scan.</summary>
[DisallowConcurrentExecution]
public sealed class DropFolderImportJob(ArticleFiles files, InboxWatcher watcher, Scheduling.JobTrigger jobs) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var summary = await files.ScanInboxAsync(cancellationToken);
        // New articles go to the feeds and the channels now, not at their jobs' next interval: the announcement
        // planned in the import's transaction is due at once (an article published in the future waits anyway).
        if (summary.ChangedArticles) await jobs.FireNowAsync(Scheduling.JobCatalog.FeedBuild, cancellationToken);
        if (summary.Created > 0) await jobs.FireNowAsync(Scheduling.JobCatalog.Announcements, cancellationToken);
        if (summary.Waiting > 0) watcher.WakeLater();
        context.Result = summary.Files.Count == 0
            ? JobRunReport.Skipped("inbox empty")
            : JobRunReport.Succeeded(summary.ToString()).With("created", summary.Created).With("updated", summary.Updated).With("rejected", summary.Rejected);
    }
}
