using Quartz;
using Syndicator.Deliveries;

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
        context.Result = (await worker.DrainAsync(email, DrainFilter.All, untilEmpty: true, cancellationToken)).ToJobRun("e-mail", "no e-mail due");
}

internal static class DigestRun
{
    public static async ValueTask ExecuteAsync(IJobExecutionContext context, DigestPlanner planner, DeliveryWorker worker, EmailChannel email, DigestFrequency frequency, CancellationToken cancellationToken)
    {
        var plan = await planner.PlanAsync(frequency, manual: false, cancellationToken);
        var report = await worker.DrainAsync(email, DrainFilter.All, untilEmpty: true, cancellationToken);
        var summary = $"{plan}; e-mail: {report?.ToString() ?? "being sent on this node already"}";
        context.Result = (report is { LeftWorkFailed: true } ? JobRunReport.Failed(summary) : JobRunReport.Succeeded(summary))
            .With("planned", plan.Planned).With("sent", report?.Sent ?? 0).With("failed", report?.Failed ?? 0).With("unconfirmed", report?.Unconfirmed ?? 0);
    }
}
