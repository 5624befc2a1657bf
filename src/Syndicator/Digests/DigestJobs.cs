using Quartz;

namespace Syndicator.Digests;

/// <summary>Plans the daily digests that are due, then sends what is due.</summary>
[DisallowConcurrentExecution]
public sealed class DailyDigestJob(DigestPlanner planner, DigestSender sender) : IJob
{
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default) =>
        DigestRun.ExecuteAsync(context, planner, sender, DigestFrequency.Daily, cancellationToken);
}

/// <summary>Plans the weekly digests that are due, then sends what is due.</summary>
[DisallowConcurrentExecution]
public sealed class WeeklyDigestJob(DigestPlanner planner, DigestSender sender) : IJob
{
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default) =>
        DigestRun.ExecuteAsync(context, planner, sender, DigestFrequency.Weekly, cancellationToken);
}

/// <summary>Sends due e-mail (digests planned earlier, retries, sign-up confirmations) without planning anything new.</summary>
[DisallowConcurrentExecution]
public sealed class EmailSendJob(DigestSender sender) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        context.Result = await sender.SendAllDueAsync(cancellationToken) switch
        {
            null => JobRunReport.Skipped("e-mail is being sent on this node already"),
            { Attempted: 0 } => JobRunReport.Skipped("no e-mail due"),
            var report => JobRunReport.Succeeded($"e-mail: {report}").With("sent", report.Sent),
        };
    }
}

internal static class DigestRun
{
    public static async ValueTask ExecuteAsync(IJobExecutionContext context, DigestPlanner planner, DigestSender sender, DigestFrequency frequency, CancellationToken cancellationToken)
    {
        var plan = await planner.PlanAsync(frequency, manual: false, cancellationToken);
        var report = await sender.SendAllDueAsync(cancellationToken);
        context.Result = JobRunReport.Succeeded($"{plan}; e-mail: {report?.ToString() ?? "being sent on this node already"}")
            .With("planned", plan.Planned).With("sent", report?.Sent ?? 0);
    }
}
