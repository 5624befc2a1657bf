using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Quartz;

namespace Syndicator.Scheduling;

/// <summary>
/// The job store is persistent, so a job switched off in configuration would otherwise keep its old trigger.
/// On start, jobs whose schedule says Enabled=false are removed from the store.
/// </summary>
internal sealed class DisabledJobCleanup(ISchedulerFactory schedulers, IOptions<ScheduleOptions> options, JobCatalog catalog) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var disabled = catalog.All.Where(j => options.Value.TryGetValue(j.Name, out var s) && !s.Enabled).ToList();
        if (disabled.Count == 0) return;
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        foreach (var job in disabled) await scheduler.DeleteJob(job.Key, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
