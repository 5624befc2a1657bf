using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Shared;

namespace Syndicator.Deliveries;

/// <summary>What one drain came to. <see cref="Deferred"/>: handed back because a network told the account to wait.</summary>
public sealed record DrainReport(int Sent, int Retrying, int Failed, int Unconfirmed = 0, int Deferred = 0)
{
    public static DrainReport None { get; } = new(0, 0, 0);

    public int Attempted => Sent + Retrying + Failed + Unconfirmed;

    /// <summary>Some of what was tried did not go out and will not on its own.</summary>
    public bool LeftWorkFailed => Failed + Unconfirmed > 0;

    public DrainReport Add(DrainReport other) => new(Sent + other.Sent, Retrying + other.Retrying, Failed + other.Failed,
        Unconfirmed + other.Unconfirmed, Deferred + other.Deferred);

    public override string ToString()
    {
        var text = $"{Sent} sent, {Retrying} to retry, {Failed} failed";
        if (Unconfirmed > 0) text += $", {Unconfirmed} unconfirmed";
        if (Deferred > 0) text += $", {Deferred} waiting for a rate limit";
        return text;
    }
}

/// <summary>The name this process's claims carry in <c>deliveries.claimed_by</c>: <c>{machine}:{pid}</c>, one per cluster node.</summary>
public sealed record DeliveryNode(string Name)
{
    public static DeliveryNode ThisProcess { get; } = new($"{Environment.MachineName}:{Environment.ProcessId}");
}

/// <summary>
/// The one delivery worker, for every channel. It claims due deliveries (counting the attempt before anything is
/// sent), sends them through the channel in lanes at the channel's pace, keeps the claims' leases alive while the
/// batch is being sent, and records each outcome on its row the moment it is known. Transient failures wait with
/// exponential backoff and jitter, or until the service's own reset time; permanent ones fail at once; retries stop
/// at MaxAttempts. A network that says an account must wait pauses that account in the database, for every node,
/// and its claimed deliveries go back in their place. When the service stops, a send in progress may finish until
/// the shutdown deadline, and claims not yet started are handed back at once rather than left to their lease.
/// Data flows one way: claim → compose and send (the channel) → record.
/// </summary>
public sealed class DeliveryWorker(DeliveryStore store, DeliveryNode node, ShutdownGrace shutdown, IOptions<DeliveryOptions> options, TimeProvider time, ILogger<DeliveryWorker> logger)
{
    /// <summary>One run per channel (and account) per node at a time, so the channel's limits (connections, rate) hold on the node.</summary>
    private readonly ConcurrentDictionary<string, SemaphoreSlim> running = new(StringComparer.Ordinal);

    public string Node => node.Name;

    /// <summary>
    /// Sends the channel's due deliveries that match <paramref name="filter"/>: one batch, or with
    /// <paramref name="untilEmpty"/> batch after batch while the last one sent something (a service that refuses
    /// everything ends the run). Null when a run of the same channel and account is already sending on this node:
    /// it will send these too.
    /// </summary>
    public async Task<DrainReport?> DrainAsync(IDeliveryChannel channel, DrainFilter filter, bool untilEmpty, CancellationToken cancellationToken,
        IProgress<(int Done, int Total)>? progress = null)
    {
        using var activity = Telemetry.Source.StartActivity("delivery drain");
        activity?.SetTag(Telemetry.Channel, channel.Name);
        var gate = running.GetOrAdd(channel.Name + "\n" + filter.Recipient, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(TimeSpan.Zero, cancellationToken))
        {
            activity?.SetTag(Telemetry.State, "already_running");
            return null;
        }
        var policy = channel.Policy;
        // The pace outlives each batch, so a new batch does not start with a fresh burst.
        using var pace = policy.PerSecond is { } perSecond ? Pace(perSecond) : null;
        try
        {
            var total = DrainReport.None;
            while (!cancellationToken.IsCancellationRequested && !shutdown.Stopping.IsCancellationRequested)
            {
                var batch = await DrainBatchAsync(channel, policy, pace, filter, progress, cancellationToken);
                total = total.Add(batch);
                if (!untilEmpty || batch.Sent == 0) break;
            }
            activity?.SetTag("syndicator.drain.sent", total.Sent).SetTag("syndicator.drain.failed", total.Failed + total.Unconfirmed);
            return total;
        }
        finally
        {
            try
            {
                await channel.EndRunAsync();
            }
            finally
            {
                gate.Release();
            }
        }
    }

    private async Task<DrainReport> DrainBatchAsync(IDeliveryChannel channel, ChannelPolicy policy, RateLimiter? pace, DrainFilter filter,
        IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        using var activity = Telemetry.Source.StartActivity("delivery batch");
        activity?.SetTag(Telemetry.Channel, channel.Name);
        var o = options.Value;
        var limit = filter.Limit ?? o.BatchSize;
        if (policy.MaxPerHour is { } cap)
        {
            limit = Math.Min(limit, cap - await store.CountSentSinceAsync(channel.Name, time.GetUtcNow().AddHours(-1), cancellationToken));
            if (limit <= 0)
            {
                logger.LogInformation("{Channel}: the hourly cap ({Cap}) is reached; the rest waits for a later run", channel.Name, cap);
                return DrainReport.None;
            }
        }
        var lease = TimeSpan.FromSeconds(o.LeaseSeconds);
        var claimed = await store.ClaimDueAsync(channel.Name, Node, lease, limit, filter, policy.OneLanePerRecipient, cancellationToken);
        activity?.SetTag(Telemetry.Claimed, claimed.Count);
        if (claimed.Count == 0) return DrainReport.None;

        // Claims this batch still holds and has not finished: renewed while the batch runs, handed back at the end.
        var held = new ConcurrentDictionary<long, bool>(claimed.Select(d => KeyValuePair.Create(d.Id, true)));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, shutdown.Stopping);
        // The caller's token stops new sends only: a send under way is cut off by nothing but the shutdown deadline
        // (and its client's own timeout), so that its outcome is known and written.
        var abandon = shutdown.Deadline;
        using var batchOver = new CancellationTokenSource();
        var renewing = RenewWhileSendingAsync(channel.Name, held, lease, batchOver.Token);
        var counts = new int[5];
        var done = 0;
        await using var writer = store.OpenMarks(Node, lease);
        var sent = new MarkQueue(writer, held, logger);
        try
        {
            // A few quick reads: not cut short by a stop, after which the lanes start nothing anyway.
            await channel.BeginBatchAsync(claimed, CancellationToken.None);
            // A recipient with its own limit is a lane of its own, sent in order; otherwise Lanes lanes share the batch.
            var lanes = policy.OneLanePerRecipient
                ? claimed.GroupBy(d => d.Recipient.Id).Select(g => new ConcurrentQueue<Delivery>(g)).ToList()
                : Enumerable.Repeat(new ConcurrentQueue<Delivery>(claimed), Math.Min(Math.Max(1, policy.Lanes), claimed.Count)).ToList();
            await Task.WhenAll(lanes.Select(async (queue, lane) =>
            {
                while (queue.TryDequeue(out var delivery))
                {
                    if (!await TakeTurnAsync(pace, stop.Token)) return;
                    if (policy.OneLanePerRecipient && await store.PausedUntilAsync(channel.Name, delivery.Recipient.Id, CancellationToken.None) is { } until)
                    {
                        // Another attempt here or on another node was told to wait: nothing more reaches the account.
                        logger.LogInformation("{Channel}: account {Account} is paused until {Until:O}; its {Count} claimed deliveries wait in their place",
                            channel.Name, delivery.Recipient.Id, until, queue.Count + 1);
                        Interlocked.Add(ref counts[4], queue.Count + 1);
                        return;
                    }
                    var (state, keep) = await AttemptAsync(channel, policy, delivery, lane, abandon, sent);
                    if (!keep) held.TryRemove(delivery.Id, out _);
                    if (state is null) return; // cut off by the shutdown deadline: this lane starts nothing more
                    progress?.Report((Interlocked.Increment(ref done), claimed.Count));
                    if (state == DeliveryState.InFlight) continue; // another node took the claim over
                    if (state == DeliveryState.Pending)
                    {
                        // The account was told to wait: this delivery and the rest of its lane keep their places.
                        Interlocked.Add(ref counts[4], 1 + queue.Count);
                        return;
                    }
                    Interlocked.Increment(ref counts[state switch
                    {
                        DeliveryState.Sent => 0,
                        DeliveryState.RetryWait => 1,
                        DeliveryState.Unconfirmed => 3,
                        _ => 2,
                    }]);
                }
            }));
        }
        finally
        {
            // Written before the claims are handed back or stop being renewed: every sent outcome of the batch is on its row when the batch ends.
            try
            {
                Interlocked.Add(ref counts[0], -await sent.FlushAsync());
            }
            catch (Exception e)
            {
                // The database is away: those stay handed over and in flight, so the next claim marks them unconfirmed; never resent.
                logger.LogError(e, "{Channel}: writing the outcome of sent deliveries failed; they will show as unconfirmed", channel.Name);
            }
            await batchOver.CancelAsync();
            await renewing;
            await HandBackAsync(channel.Name, held.Keys.ToList());
        }
        return new DrainReport(counts[0], counts[1], counts[2], counts[3], counts[4]);
    }

    /// <summary>
    /// One attempt: the state it ended in (null when the shutdown deadline cut it off) and whether the claim is still
    /// this batch's to hand back (false once an outcome is written, or once the message may be at the service).
    /// </summary>
    private async Task<(DeliveryState? State, bool Keep)> AttemptAsync(IDeliveryChannel channel, ChannelPolicy policy, Delivery delivery, int lane, CancellationToken abandon, MarkQueue sent)
    {
        using var activity = Telemetry.Source.StartActivity("delivery attempt");
        activity?.SetTag(Telemetry.Channel, channel.Name).SetTag(Telemetry.DeliveryId, delivery.Id)
            .SetTag(Telemetry.SubjectKind, delivery.Subject.KindColumn).SetTag(Telemetry.Attempt, delivery.Attempts);
        var result = await AttemptUntracedAsync(channel, policy, delivery, lane, abandon, sent);
        activity?.SetTag(Telemetry.State, result.State?.ToColumn() ?? "cut_off");
        if (result.State is DeliveryState.Failed or DeliveryState.Unconfirmed) activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
        return result;
    }

    private async Task<(DeliveryState? State, bool Keep)> AttemptUntracedAsync(IDeliveryChannel channel, ChannelPolicy policy, Delivery delivery, int lane, CancellationToken abandon, MarkQueue sent)
    {
        DeliveryOutcome outcome;
        var attempt = new DeliveryAttempt(lane, remoteId => sent.HandOverAsync(delivery.Id, remoteId));
        if (policy.Guard == DuplicateGuard.HandOverMark && delivery.HandedOverAt is { } earlier)
        {
            outcome = new DeliveryOutcome.Unconfirmed(
                $"{channel.Name}: attempt {delivery.Attempts - 1} handed {Describe(delivery.RemoteId)} over at {earlier:u} and its node stopped before the answer was recorded");
        }
        else
        {
            try
            {
                using (var send = Telemetry.Source.StartActivity("delivery send"))
                {
                    send?.SetTag(Telemetry.Channel, channel.Name);
                    outcome = await channel.SendAsync(delivery, attempt, abandon);
                    send?.SetTag("syndicator.delivery.outcome", outcome.GetType().Name.ToLowerInvariant());
                }
            }
            catch (OperationCanceledException) when (abandon.IsCancellationRequested)
            {
                // Not yet handed over: given back with the unstarted ones. Handed over: left in flight, and the next
                // claim marks it unconfirmed (or the channel's idempotency key makes the retry harmless).
                return (null, !attempt.HandedOver);
            }
            catch (Exception e)
            {
                outcome = attempt.HandedOver && policy.Guard == DuplicateGuard.HandOverMark
                    ? new DeliveryOutcome.Unconfirmed($"{channel.Name}: {e.GetType().Name} after the message was handed over: {e.Message}")
                    : new DeliveryOutcome.Transient($"{channel.Name}: {e.GetType().Name}: {e.Message}");
            }
            if (policy.Guard == DuplicateGuard.HandOverMark && !attempt.HandedOver && outcome is DeliveryOutcome.Sent)
                throw new InvalidOperationException($"The {channel.Name} channel reported a message sent without marking its hand-over first.");
        }
        if (outcome is DeliveryOutcome.Sent accepted && outcome.PauseRecipientUntil is null && policy.Guard == DuplicateGuard.HandOverMark && attempt.HandedOver)
        {
            // Its hand-over mark is already on the row, so until the buffer writes it a crash leaves the delivery
            // unconfirmed (never resent): the outcome can wait for a few more and share their commit. Its claim stays
            // held (renewed) until then.
            await sent.AddAsync(new SentMark(delivery.Id, accepted.RemoteId, accepted.RemoteUrl));
            return (DeliveryState.Sent, true);
        }
        var state = await RecordAsync(channel.Name, delivery, outcome);
        if (state is not null) await RecordAttemptAsync(channel.Name, delivery, outcome, state.Value, attempt.Message);
        if (state is null)
        {
            // This node stalled past its lease and another node has claimed the delivery since: its outcome is theirs to write.
            logger.LogWarning("Delivery {DeliveryId} on {Channel}: the claim was taken over by another node before the outcome was written; left to that node", delivery.Id, channel.Name);
            return (DeliveryState.InFlight, false);
        }
        return (state, false);
    }

    /// <summary>Renews the batch's leases a few times per lease period until the batch is over.</summary>
    private async Task RenewWhileSendingAsync(string channel, ConcurrentDictionary<long, bool> held, TimeSpan lease, CancellationToken batchOver)
    {
        var every = lease / 3;
        try
        {
            while (true)
            {
                await Task.Delay(every, time, batchOver);
                var ids = held.Keys.ToList();
                if (ids.Count == 0) continue;
                try
                {
                    await store.RenewAsync(ids, Node, lease, CancellationToken.None);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The database is away: the next renewal tries again, and a claim that does run out is only taken over, never sent twice.
                    logger.LogWarning("{Channel}: renewing the leases of {Count} claimed deliveries failed: {Reason}", channel, ids.Count, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (batchOver.IsCancellationRequested)
        {
        }
    }

    /// <summary>Gives back claims this node is stopping before it starts; written whatever the stop, so they need no lease to run out.</summary>
    private async Task HandBackAsync(string channel, IReadOnlyCollection<long> ids)
    {
        var released = await store.ReleaseAsync(ids, Node, CancellationToken.None);
        if (released > 0) logger.LogInformation("{Count} claimed {Channel} deliveries handed back unsent", released, channel);
    }

    /// <summary>
    /// Writes an attempt's outcome on its row at once, so a crash right after loses nothing that happened (a sent
    /// message already marked as handed over goes through <see cref="MarkQueue"/> instead). Null when the row was no
    /// longer this node's to write.
    /// </summary>
    private async Task<DeliveryState?> RecordAsync(string channel, Delivery delivery, DeliveryOutcome outcome)
    {
        var o = options.Value;
        if (outcome.PauseRecipientUntil is { } pause)
        {
            var reason = outcome switch { DeliveryOutcome.Transient t => t.Error, _ => $"{channel}: no requests left in the network's window" };
            await store.PauseAsync(channel, delivery.Recipient.Id, pause, reason, CancellationToken.None);
            logger.LogWarning("{Channel}: account {Account} paused until {Until:O}: {Reason}", channel, delivery.Recipient.Id, pause, reason);
        }
        switch (outcome)
        {
            case DeliveryOutcome.Sent s:
                return await store.MarkSentAsync(delivery.Id, Node, s.RemoteId, s.RemoteUrl, CancellationToken.None) ? DeliveryState.Sent : null;
            case DeliveryOutcome.Transient t when outcome.PauseRecipientUntil is not null:
                // Refused for the account's rate only: not the delivery's fault, so no attempt is used up and it keeps its place.
                return await store.DeferAsync(delivery.Id, Node, t.Error, CancellationToken.None) ? DeliveryState.Pending : null;
            case DeliveryOutcome.Transient t when delivery.Attempts < o.MaxAttempts:
                var next = NextAttempt(delivery.Attempts, t.NotBefore);
                if (!await store.MarkRetryAsync(delivery.Id, Node, t.Error, next, CancellationToken.None)) return null;
                logger.LogWarning("Delivery {DeliveryId} on {Channel} ({Subject} to {Recipient}) failed (attempt {Attempt}), retrying at {NextAttempt:O}: {Error}",
                    delivery.Id, channel, delivery.Subject, delivery.Recipient, delivery.Attempts, next, t.Error);
                return DeliveryState.RetryWait;
            case DeliveryOutcome.Transient t:
                if (!await store.MarkFailedAsync(delivery.Id, Node, $"{t.Error} (gave up after {delivery.Attempts} attempts)", CancellationToken.None)) return null;
                logger.LogError("Delivery {DeliveryId} on {Channel} ({Subject} to {Recipient}) failed after {Attempt} attempts: {Error}",
                    delivery.Id, channel, delivery.Subject, delivery.Recipient, delivery.Attempts, t.Error);
                return DeliveryState.Failed;
            case DeliveryOutcome.Permanent p:
                if (!await store.MarkFailedAsync(delivery.Id, Node, p.Error, CancellationToken.None)) return null;
                logger.LogError("Delivery {DeliveryId} on {Channel} ({Subject} to {Recipient}) failed permanently: {Error}",
                    delivery.Id, channel, delivery.Subject, delivery.Recipient, p.Error);
                return DeliveryState.Failed;
            case DeliveryOutcome.Unconfirmed u:
                var error = $"{u.Error}. It may have been delivered, so it is not resent automatically: look for {Describe(u.RemoteId ?? delivery.RemoteId)} in the service's log, " +
                            $"and if it is not there run `syndicator deliveries retry {delivery.Id}`.";
                if (!await store.MarkUnconfirmedAsync(delivery.Id, Node, error, CancellationToken.None)) return null;
                logger.LogError("Delivery {DeliveryId} on {Channel} ({Subject} to {Recipient}) is unconfirmed: {Error}",
                    delivery.Id, channel, delivery.Subject, delivery.Recipient, error);
                return DeliveryState.Unconfirmed;
            default:
                throw new ArgumentOutOfRangeException(nameof(outcome));
        }
    }

    /// <summary>
    /// Adds the attempt to the delivery's history, after its outcome is on the row. The history is for people: a
    /// failure to write it is logged and changes nothing about the delivery.
    /// </summary>
    private async Task RecordAttemptAsync(string channel, Delivery delivery, DeliveryOutcome outcome, DeliveryState state, string? message)
    {
        var (error, cause) = outcome switch
        {
            DeliveryOutcome.Transient t => (t.Error, outcome.Cause),
            DeliveryOutcome.Permanent p => (p.Error, outcome.Cause),
            DeliveryOutcome.Unconfirmed u => (u.Error, outcome.Cause),
            _ => ((string?)null, FailureCause.Other),
        };
        try
        {
            await store.RecordAttemptAsync(new DeliveryAttemptRecord(delivery.Id, delivery.Attempts, Node, state.ToAttemptOutcome(), outcome.Status, cause, error, message, time.GetUtcNow()), CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("{Channel}: attempt {Attempt} of delivery {DeliveryId} could not be added to its history: {Reason}", channel, delivery.Attempts, delivery.Id, e.Message);
        }
    }

    private static string Describe(string? remoteId) => remoteId is { } id ? $"the message with Message-ID <{id.Trim('<', '>')}>" : "the message";

    /// <summary>base × 2^(attempt−1), capped, with ±20 % jitter so that many failures do not retry in step; never before the service's reset time.</summary>
    public DateTimeOffset NextAttempt(int attempts, DateTimeOffset? notBefore)
    {
        var o = options.Value;
        var seconds = Math.Min(o.RetryMaxSeconds, o.RetryBaseSeconds * Math.Pow(2, Math.Max(0, attempts - 1)));
        seconds *= 0.8 + Random.Shared.NextDouble() * 0.4;
        var next = time.GetUtcNow().AddSeconds(seconds);
        return notBefore is { } reset && reset > next ? reset : next;
    }

    private static TokenBucketRateLimiter Pace(double perSecond)
    {
        var tokens = Math.Max(1, (int)Math.Ceiling(perSecond));
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = tokens,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = TimeSpan.FromSeconds(tokens / perSecond),
            QueueLimit = int.MaxValue,
            AutoReplenishment = true,
        });
    }

    /// <summary>Waits for the channel's pace; false when the service is stopping, so the lane starts nothing more.</summary>
    private static async Task<bool> TakeTurnAsync(RateLimiter? pace, CancellationToken stop)
    {
        if (stop.IsCancellationRequested) return false;
        if (pace is null) return true;
        try
        {
            using var lease = await pace.AcquireAsync(1, stop);
            return true;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// A batch's hand-over marks and sent outcomes, written by one writer at a time (group commit): a lane whose mark
    /// finds no write under way writes every mark and outcome waiting, its own among them, in one transaction; one
    /// that finds a write under way waits for it, then writes what gathered meanwhile unless another lane already has.
    /// A lane is answered only once its own mark is committed, so nothing is handed over unmarked. One commit per
    /// message was most of a message's cost on SQLite, and a round trip and a commit per message most of the database
    /// server's on PostgreSQL (issue 15). Sent outcomes ride along with a write once <see cref="RideAlongAt"/> wait, or are
    /// written on their own once <see cref="FlushAt"/> wait or the oldest has waited <see cref="MaxWait"/>, and at the end of the batch.
    /// </summary>
    private sealed class MarkQueue(DeliveryMarks writer, ConcurrentDictionary<long, bool> held, ILogger logger)
    {
        public const int FlushAt = 32;
        public static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(250);

        /// <summary>
        /// How many outcomes must be waiting before a write of hand-over marks takes them along. Taking them at every
        /// write (one each over one connection) made every PostgreSQL write two statements, the second for a single row;
        /// now one write in eight carries the outcomes of the eight messages before it.
        /// </summary>
        public const int RideAlongAt = 8;

        /// <summary>One caller waiting for a write: with a hand-over mark, or (null) for the outcomes waiting to be written.</summary>
        private sealed class Waiter(HandOverMark? mark)
        {
            public HandOverMark? Mark { get; } = mark;
            public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        private readonly Lock gate = new();
        private List<Waiter> waiting = [];
        private List<SentMark> sent = [];
        private long oldest;
        private Task? writing;
        private int lost;

        /// <summary>Marks the delivery as handed over, once the write that carries the mark has committed; false when this node no longer holds its claim.</summary>
        public Task<bool> HandOverAsync(long id, string? remoteId) => WaitAsync(new Waiter(new HandOverMark(id, remoteId)));

        public async Task AddAsync(SentMark mark)
        {
            bool due;
            lock (gate)
            {
                if (sent.Count == 0) oldest = System.Diagnostics.Stopwatch.GetTimestamp();
                sent.Add(mark);
                due = writing is null && (sent.Count >= FlushAt || System.Diagnostics.Stopwatch.GetElapsedTime(oldest) >= MaxWait);
            }
            if (!due) return;
            try
            {
                await WaitAsync(new Waiter(null));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The message is out and marked as handed over; its outcome waits here for the next write or the batch's end.
                logger.LogWarning("Writing sent outcomes failed; they wait for the next write: {Reason}", e.Message);
            }
        }

        /// <summary>Writes what is left; how many of all the outcomes this queue took could not be written (their claims were taken over).</summary>
        public async Task<int> FlushAsync()
        {
            await WaitAsync(new Waiter(null));
            return lost;
        }

        private async Task<bool> WaitAsync(Waiter waiter)
        {
            lock (gate) waiting.Add(waiter);
            while (!waiter.Done.Task.IsCompleted)
            {
                Task? running;
                TaskCompletionSource? mine = null;
                List<Waiter> waiters = [];
                List<SentMark> outcomes = [];
                lock (gate)
                {
                    running = writing;
                    if (running is null && !waiter.Done.Task.IsCompleted)
                    {
                        mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        writing = mine.Task;
                        (waiters, waiting) = (waiting, []);
                        if (sent.Count >= RideAlongAt || waiters.Exists(w => w.Mark is null)) (outcomes, sent) = (sent, []);
                    }
                }
                if (mine is null)
                {
                    if (running is not null) await running;
                    continue;
                }
                try
                {
                    await WriteAsync(waiters, outcomes);
                }
                finally
                {
                    lock (gate) writing = null;
                    mine.SetResult();
                }
            }
            return await waiter.Done.Task;
        }

        private async Task WriteAsync(List<Waiter> waiters, List<SentMark> outcomes)
        {
            try
            {
                var marks = waiters.Where(w => w.Mark is not null).Select(w => w.Mark!).ToList();
                var (handedOver, written) = await writer.WriteAsync(marks, outcomes, CancellationToken.None);
                Settle(outcomes, written);
                foreach (var w in waiters) w.Done.SetResult(w.Mark is null || handedOver.Contains(w.Mark.Id));
            }
            catch (Exception e)
            {
                // Nothing of this write was committed: the outcomes wait for the next one, and each lane hears why its mark failed.
                lock (gate)
                {
                    if (sent.Count == 0 && outcomes.Count > 0) oldest = System.Diagnostics.Stopwatch.GetTimestamp();
                    sent.InsertRange(0, outcomes);
                }
                foreach (var w in waiters) w.Done.SetException(e);
            }
        }

        private void Settle(List<SentMark> marks, int written)
        {
            if (marks.Count == 0) return;
            foreach (var mark in marks) held.TryRemove(mark.Id, out _);
            if (written == marks.Count) return;
            Interlocked.Add(ref lost, marks.Count - written);
            // This node stalled past its lease and another node claimed some of them since: theirs to write (as unconfirmed).
            logger.LogWarning("{Count} of {Total} sent deliveries were taken over by another node before their outcome was written; left to that node",
                marks.Count - written, marks.Count);
        }
    }
}
