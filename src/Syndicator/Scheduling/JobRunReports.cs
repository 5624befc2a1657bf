using Quartz;
using Syndicator.Deliveries;

namespace Syndicator.Scheduling;

/// <summary>
/// Reports for runs that did only part of their work. Quartz's <see cref="JobRunResult"/> has no member for that, so
/// <see cref="JobRunOutcomes.PartlyFailed"/> is a value outside the enum, which Quartz passes through from the report
/// to the history (its meters tag it <c>_OTHER</c>) and our history store spells <c>partly-failed</c>.
/// </summary>
public static class JobRunReports
{
    extension(JobRunReport)
    {
        /// <summary>A run that did its work but left part of it undone; <paramref name="summary"/> says what and why.</summary>
        public static JobRunReport PartlyFailed(string summary) => JobRunReport.Failed(summary) with { Result = JobRunOutcomes.PartlyFailed };

        /// <summary>
        /// The outcome of a run that attempted deliveries: Skipped when it attempted none, Succeeded when every one was sent,
        /// Failed when none was sent and some failed for good, and PartlyFailed otherwise (some failed or wait for a retry).
        /// The counts are kept as the run's metrics <c>sent</c>, <c>retrying</c> and <c>failed</c>.
        /// </summary>
        /// <param name="summary">One line for the history, e.g. <c>"mastodon: 3 sent, 1 to retry, 0 failed"</c>.</param>
        public static JobRunReport FromDeliveries(string summary, int sent, int retrying, int failed)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(sent);
            ArgumentOutOfRangeException.ThrowIfNegative(retrying);
            ArgumentOutOfRangeException.ThrowIfNegative(failed);
            var report = (sent, retrying, failed) switch
            {
                (0, 0, 0) => JobRunReport.Skipped(summary),
                (_, 0, 0) => JobRunReport.Succeeded(summary),
                (0, _, > 0) => JobRunReport.Failed(summary),
                _ => JobRunReport.PartlyFailed(summary),
            };
            return report.With("sent", sent).With("retrying", retrying).With("failed", failed);
        }

        /// <summary>
        /// The outcome of a run that drained a channel, as <see cref="FromDeliveries"/> counts it; an unconfirmed
        /// delivery (it may or may not have arrived, and is not resent on its own) counts as failed. Skipped with
        /// <paramref name="nothingDue"/> when nothing was tried, or when a run on this node was already sending.
        /// </summary>
        public static JobRunReport FromDrain(string what, DrainReport? report, string nothingDue) => report switch
        {
            null => JobRunReport.Skipped($"{what}: being sent on this node already"),
            { Attempted: 0, Deferred: 0 } => JobRunReport.Skipped(nothingDue),
            _ => JobRunReport.FromDeliveries($"{what}: {report}", report.Sent, report.Retrying, report.Failed + report.Unconfirmed)
                .With("unconfirmed", report.Unconfirmed),
        };
    }
}
