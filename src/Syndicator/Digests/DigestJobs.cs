using Quartz;
using Syndicator.Deliveries;
using Syndicator.Scheduling;

namespace Syndicator.Digests;

/// <summary>Plans the daily digests that are due, then sends what is due.</summary>
[DisallowConcurrentExecution]
public sealed class DailyDigestJob(DigestPlanner planner, DeliveryWorker worker, EmailChannel email) : IJob
{
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default) =>
        DigestRun.ExecuteAsync(context, planner, worker, email, DigestFrequency.Daily, cancellationToken);
}

/// <summary>Plans the weekly digests that are due, then sends what is due.</summary>
[DisallowConcurrentExecution]
public sealed class WeeklyDigestJob(DigestPlanner planner, DeliveryWorker worker, EmailChannel email) : IJob
{
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default) =>
        DigestRun.ExecuteAsync(context, planner, worker, email, DigestFrequency.Weekly, cancellationToken);
}

/// <summary>Sends due e-mail (digests planned earlier, retries, sign-up confirmations) without planning anything new.</summary>
[DisallowConcurrentExecution]
public sealed class EmailSendJob(DeliveryWorker worker, EmailChannel email) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default) =>
        context.Result = JobRunReport.FromDrain("e-mail", await worker.DrainAsync(email, DrainFilter.All, untilEmpty: true, cancellationToken), "no e-mail due");
}

internal static class DigestRun
{
    public static async ValueTask ExecuteAsync(IJobExecutionContext context, DigestPlanner planner, DeliveryWorker worker, EmailChannel email, DigestFrequency frequency, CancellationToken cancellationToken)
    {
        var plan = await planner.PlanAsync(frequency, manual: false, cancellationToken);
        var report = await worker.DrainAsync(email, DrainFilter.All, untilEmpty: true, cancellationToken);
        var sending = JobRunReport.FromDrain("e-mail", report, "no e-mail due");
        // Planning is this run's own work: with nothing to send it still succeeded, and a sending failure shows as it is.
        context.Result = (sending.Result == JobRunResult.Skipped ? JobRunReport.Succeeded($"{plan}; {sending.Summary}") : sending with { Summary = $"{plan}; {sending.Summary}" })
            .With("planned", plan.Planned);
    }
}
