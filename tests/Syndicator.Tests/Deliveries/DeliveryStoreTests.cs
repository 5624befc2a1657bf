using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Deliveries;

public sealed class DeliveryStoreTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static async Task<(TestApp App, FakeTimeProvider Time, DeliveryStore Store)> CreateAsync(StorageProvider provider)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        var app = await TestApp.CreateAsync(provider, services: s => s.AddSingleton<TimeProvider>(time));
        return (app, time, app.Get<DeliveryStore>());
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_delivery_is_created_once_per_channel_subject_and_recipient(StorageProvider provider)
    {
        var (app, time, store) = await CreateAsync(provider);
        await using var _ = app;

        Assert.True(await store.EnsureAsync("x", "article", "a1", "acct-1", time.GetUtcNow(), Ct));
        Assert.False(await store.EnsureAsync("x", "article", "a1", "acct-1", time.GetUtcNow(), Ct));
        Assert.True(await store.EnsureAsync("x", "article", "a1", "acct-2", time.GetUtcNow(), Ct));
        Assert.True(await store.EnsureAsync("mastodon", "article", "a1", "acct-1", time.GetUtcNow(), Ct));

        Assert.Equal(3, (await store.ListAsync(null, "a1", 10, Ct)).Count);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Claiming_counts_the_attempt_before_sending_and_a_claimed_delivery_is_not_claimed_again(StorageProvider provider)
    {
        var (app, time, store) = await CreateAsync(provider);
        await using var _ = app;
        await store.EnsureAsync("x", "article", "a1", "acct", time.GetUtcNow(), Ct);

        var claimed = Assert.Single(await store.ClaimDueAsync("x", "node-a", Lease, 10, Ct));
        Assert.Equal(DeliveryState.InFlight, claimed.State);
        Assert.Equal(1, claimed.Attempts);
        Assert.Equal("node-a", claimed.ClaimedBy);
        Assert.Empty(await store.ClaimDueAsync("x", "node-b", Lease, 10, Ct));

        Assert.True(await store.MarkSentAsync(claimed.Id, "node-a", "remote-1", "https://x.example/1", Ct));
        var sent = await store.GetAsync(claimed.Id, Ct);
        Assert.Equal(DeliveryState.Sent, sent!.State);
        Assert.Equal("remote-1", sent.RemoteId);
        Assert.Equal(time.GetUtcNow(), sent.SentAt);
        Assert.Empty(await store.ClaimDueAsync("x", "node-a", Lease, 10, Ct));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_transient_failure_waits_until_its_next_attempt_time_and_keeps_its_error(StorageProvider provider)
    {
        var (app, time, store) = await CreateAsync(provider);
        await using var _ = app;
        await store.EnsureAsync("email", "digest", "d1", "sub-1", time.GetUtcNow(), Ct);
        var first = (await store.ClaimDueAsync("email", "n", Lease, 10, Ct))[0];

        Assert.True(await store.MarkRetryAsync(first.Id, "n", "smtp: 451 try later", time.GetUtcNow().AddMinutes(2), Ct));
        var waiting = await store.GetAsync(first.Id, Ct);
        Assert.Equal(DeliveryState.RetryWait, waiting!.State);
        Assert.Equal("smtp: 451 try later", waiting.LastError);

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(await store.ClaimDueAsync("email", "n", Lease, 10, Ct));
        time.Advance(TimeSpan.FromMinutes(1));
        var second = Assert.Single(await store.ClaimDueAsync("email", "n", Lease, 10, Ct));
        Assert.Equal(2, second.Attempts);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_failed_delivery_keeps_its_error_and_can_be_retried_by_hand(StorageProvider provider)
    {
        var (app, time, store) = await CreateAsync(provider);
        await using var _ = app;
        await store.EnsureAsync("x", "article", "a1", "acct", time.GetUtcNow(), Ct);
        var claimed = (await store.ClaimDueAsync("x", "n", Lease, 10, Ct))[0];
        Assert.True(await store.MarkFailedAsync(claimed.Id, "n", "x: 401 Unauthorized", Ct));

        Assert.Empty(await store.ClaimDueAsync("x", "n", Lease, 10, Ct));
        Assert.Equal("x: 401 Unauthorized", Assert.Single(await store.ListAsync(DeliveryState.Failed, null, 10, Ct)).LastError);

        Assert.True(await store.RetryAsync(claimed.Id, Ct));
        Assert.False(await store.RetryAsync(claimed.Id, Ct)); // only failed deliveries can be retried
        var again = Assert.Single(await store.ClaimDueAsync("x", "n", Lease, 10, Ct));
        Assert.Equal(2, again.Attempts);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_delivery_whose_node_died_is_reclaimed_after_its_lease_and_the_late_node_cannot_finish_it(StorageProvider provider)
    {
        var (app, time, store) = await CreateAsync(provider);
        await using var _ = app;
        await store.EnsureAsync("x", "article", "a1", "acct", time.GetUtcNow(), Ct);
        var lost = (await store.ClaimDueAsync("x", "dead-node", Lease, 10, Ct))[0];

        time.Advance(Lease - TimeSpan.FromSeconds(1));
        Assert.Empty(await store.ClaimDueAsync("x", "survivor", Lease, 10, Ct));
        time.Advance(TimeSpan.FromSeconds(2));
        var reclaimed = Assert.Single(await store.ClaimDueAsync("x", "survivor", Lease, 10, Ct));
        Assert.Equal(lost.Id, reclaimed.Id);
        Assert.Equal(2, reclaimed.Attempts);

        Assert.False(await store.MarkSentAsync(lost.Id, "dead-node", "late", null, Ct));
        Assert.True(await store.MarkSentAsync(lost.Id, "survivor", "r", null, Ct));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task One_write_marks_several_hand_overs_and_the_waiting_sent_outcomes_and_only_those_this_node_still_holds(StorageProvider provider)
    {
        var (app, time, store) = await CreateAsync(provider);
        await using var _ = app;
        for (var i = 0; i < 5; i++) await store.EnsureAsync("email", "digest", $"d{i}", $"reader-{i}", time.GetUtcNow(), Ct);
        var claimed = await store.ClaimDueAsync("email", "node-a", Lease, 5, Ct);
        foreach (var d in claimed.Take(2)) Assert.True(await store.MarkHandedOverAsync(d.Id, "node-a", $"<{d.Id}@m.example>", Lease, Ct));
        // The third one's lease ran out and another node took it over: node-a's outcome for it is not written.
        await using (var connection = await app.Get<Database>().OpenAsync(Ct))
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE deliveries SET claimed_by = 'node-b' WHERE id = @id", new { id = claimed[2].Id });

        await using var writer = store.OpenMarks("node-a", Lease);
        var marks = new List<SentMark> { new(claimed[0].Id, null, null), new(claimed[1].Id, "<relay-id@m.example>", "https://m.example/1"), new(claimed[2].Id, null, null) };
        var (handedOver, written) = await writer.WriteAsync([new(claimed[3].Id, "<next@m.example> ✉ پیام"), new(claimed[4].Id, null), new(claimed[2].Id, "<taken@m.example>")], marks, Ct);

        Assert.Equal([claimed[3].Id, claimed[4].Id], handedOver.Order());
        Assert.Equal(2, written);
        var first = (await store.GetAsync(claimed[0].Id, Ct))!;
        Assert.Equal((DeliveryState.Sent, $"<{claimed[0].Id}@m.example>", (DateTimeOffset?)null), (first.State, first.RemoteId, first.HandedOverAt));
        var second = (await store.GetAsync(claimed[1].Id, Ct))!;
        Assert.Equal((DeliveryState.Sent, "<relay-id@m.example>", "https://m.example/1"), (second.State, second.RemoteId, second.RemoteUrl));
        var taken = (await store.GetAsync(claimed[2].Id, Ct))!;
        Assert.Equal((DeliveryState.InFlight, (string?)null, (DateTimeOffset?)null), (taken.State, taken.RemoteId, taken.HandedOverAt));
        var next = (await store.GetAsync(claimed[3].Id, Ct))!;
        Assert.Equal((DeliveryState.InFlight, "<next@m.example> ✉ پیام", (DateTimeOffset?)time.GetUtcNow()), (next.State, next.RemoteId, next.HandedOverAt));
        var unnamed = (await store.GetAsync(claimed[4].Id, Ct))!;
        Assert.Equal((DeliveryState.InFlight, (string?)null, (DateTimeOffset?)time.GetUtcNow()), (unnamed.State, unnamed.RemoteId, unnamed.HandedOverAt));

        // The same writer (its statements kept prepared) writes again; a node that no longer holds a claim may not hand over,
        // and the outcomes it carries are still written where they are its own.
        await store.EnsureAsync("email", "digest", "d9", "reader-9", time.GetUtcNow(), Ct);
        var last = Assert.Single(await store.ClaimDueAsync("email", "node-a", Lease, 1, Ct));
        Assert.Empty((await writer.WriteAsync([new(claimed[2].Id, "<late@m.example>")], [], Ct)).HandedOver);
        var (none, one) = await writer.WriteAsync([new(claimed[2].Id, "<late@m.example>")], [new(claimed[3].Id, null, null)], Ct);
        Assert.Equal((0, 1), (none.Count, one));
        Assert.Equal(DeliveryState.Sent, (await store.GetAsync(claimed[3].Id, Ct))!.State);
        Assert.Equal(DeliveryState.InFlight, (await store.GetAsync(last.Id, Ct))!.State);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Claims_honour_the_limit_and_take_the_oldest_due_first(StorageProvider provider)
    {
        var (app, time, store) = await CreateAsync(provider);
        await using var _ = app;
        for (var i = 0; i < 5; i++) await store.EnsureAsync("x", "article", $"a{i}", "acct", time.GetUtcNow().AddSeconds(-i), Ct);

        var claimed = await store.ClaimDueAsync("x", "n", Lease, 2, Ct);

        Assert.Equal(["a4", "a3"], claimed.Select(d => d.Subject.Id));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_claim_takes_the_oldest_due_across_waiting_retrying_and_lapsed_rows_and_never_a_finished_held_or_future_one(StorageProvider provider)
    {
        // The due index holds only rows still to be sent, in claim order (migration 0029): a finished row older than
        // everything, a lapsed claim and a retry must still come out in due-time order, ties by id.
        var (app, time, store) = await CreateAsync(provider);
        await using var _ = app;
        var t0 = time.GetUtcNow();
        string[] first = ["sent", "failed", "unconfirmed", "retry", "lapsed", "held"];
        for (var i = 0; i < first.Length; i++) await store.EnsureAsync("x", "article", first[i], "acct ✉ حساب", t0.AddMinutes(i - 10), Ct);
        var claimed = await store.ClaimDueAsync("x", "old-node", Lease, 10, Ct);
        Assert.Equal(first, claimed.Select(d => d.Subject.Id));
        var old = claimed.ToDictionary(d => d.Subject.Id, d => d.Id);
        Assert.True(await store.MarkSentAsync(old["sent"], "old-node", null, null, Ct));
        Assert.True(await store.MarkFailedAsync(old["failed"], "old-node", "refused", Ct));
        Assert.True(await store.MarkUnconfirmedAsync(old["unconfirmed"], "old-node", "dropped after DATA", Ct));
        Assert.True(await store.MarkRetryAsync(old["retry"], "old-node", "busy", t0.AddMinutes(-7), Ct));
        time.Advance(Lease + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await store.RenewAsync([old["held"]], "old-node", Lease, Ct)); // "lapsed" is not renewed
        var now = time.GetUtcNow();
        await store.EnsureAsync("x", "article", "waiting-1", "acct", now.AddMinutes(-3), Ct);
        await store.EnsureAsync("x", "article", "waiting-2", "acct", now.AddMinutes(-3), Ct);
        await store.EnsureAsync("x", "article", "future", "acct", now.AddMinutes(1), Ct);
        await store.EnsureAsync("y", "article", "other-channel", "acct", now.AddDays(-1), Ct);

        Assert.Equal(["retry", "lapsed", "waiting-1"], (await store.ClaimDueAsync("x", "new-node", Lease, 3, Ct)).Select(d => d.Subject.Id));
        Assert.Equal(["waiting-2"], (await store.ClaimDueAsync("x", "new-node", Lease, 10, Ct)).Select(d => d.Subject.Id));
        Assert.Equal(0, (await store.CountDueByChannelAsync(Ct)).GetValueOrDefault("x"));
        time.Advance(TimeSpan.FromMinutes(2)); // within every lease taken above
        Assert.Equal(["future"], (await store.ClaimDueAsync("x", "new-node", Lease, 10, Ct)).Select(d => d.Subject.Id));
        Assert.Equal(["other-channel"], (await store.ClaimDueAsync("y", "new-node", Lease, 10, Ct)).Select(d => d.Subject.Id));
        var states = (await store.ListForSubjectsAsync(SubjectKind.Article, first, Ct)).ToDictionary(d => d.Subject.Id, d => (d.State, d.ClaimedBy));
        Assert.Equal((DeliveryState.Sent, "old-node"), states["sent"]);
        Assert.Equal((DeliveryState.Failed, "old-node"), states["failed"]);
        Assert.Equal((DeliveryState.Unconfirmed, "old-node"), states["unconfirmed"]);
        Assert.Equal((DeliveryState.InFlight, "old-node"), states["held"]);
    }

    [Fact]
    public void The_state_machine_allows_only_the_documented_moves()
    {
        Assert.True(DeliveryStates.CanMove(DeliveryState.Pending, DeliveryState.InFlight));
        Assert.True(DeliveryStates.CanMove(DeliveryState.InFlight, DeliveryState.RetryWait));
        Assert.True(DeliveryStates.CanMove(DeliveryState.Failed, DeliveryState.Pending));
        Assert.False(DeliveryStates.CanMove(DeliveryState.Sent, DeliveryState.Pending));
        Assert.False(DeliveryStates.CanMove(DeliveryState.Pending, DeliveryState.Sent));
        Assert.All(Enum.GetValues<DeliveryState>(), s => Assert.Equal(s, DeliveryStates.FromColumn(s.ToColumn())));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Renewing_leases_while_sent_marks_are_written_for_the_same_rows_never_deadlocks(StorageProvider provider)
    {
        var (app, time, store) = await CreateAsync(provider);
        await using var _ = app;
        for (var i = 0; i < 120; i++) await store.EnsureAsync("email", "digest", $"d{i}", $"reader-{i}", time.GetUtcNow(), Ct);
        var claimed = await store.ClaimDueAsync("email", "n", Lease, 200, Ct);
        Assert.Equal(120, claimed.Count);
        var ids = claimed.Select(d => d.Id).ToList();

        // Renewals of every claim (in a shuffled order) race sent marks of slices of the same rows, as a batch's renewal
        // timer and its lanes' sent-mark flushes do. Before, PostgreSQL aborted one of them as a deadlock now and then.
        var random = new Random(15);
        var renewing = Task.Run(async () =>
        {
            for (var round = 0; round < 40; round++)
                await store.RenewAsync(ids.OrderBy(_ => random.Next()).ToList(), "n", Lease, Ct);
        }, Ct);
        var marking = Enumerable.Range(0, 4).Select(lane => Task.Run(async () =>
        {
            var written = 0;
            foreach (var slice in ids.Where((_, i) => i % 4 == lane).Chunk(6))
                written += await store.MarkSentAsync(slice.Reverse().Select(id => new SentMark(id, $"<{id}@bench>", null)).ToList(), "n", Ct);
            return written;
        }, Ct)).ToList();
        await renewing;
        Assert.Equal(120, (await Task.WhenAll(marking)).Sum());
        Assert.All(ids, id => Assert.Equal(DeliveryState.Sent, store.GetAsync(id, Ct).Result!.State));
    }
}
