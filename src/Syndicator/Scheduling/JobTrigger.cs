using Quartz;

namespace Syndicator.Scheduling;

/// <summary>Fires a scheduled job now, off its schedule: after an import changes articles, or by hand.</summary>
public sealed class JobTrigger(ISchedulerFactory schedulers, JobCatalog catalog)
{
    public async Task FireNowAsync(string jobName, CancellationToken cancellationToken)
    {
        var job = catalog.Find(jobName)
            ?? throw new ArgumentException($"There is no job called '{jobName}'; the jobs are {string.Join(", ", JobCatalog.Names)}.", nameof(jobName));
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        if (await scheduler.Exists(job.Key, cancellationToken)) await scheduler.TriggerJob(job.Key, cancellationToken);
    }
}
