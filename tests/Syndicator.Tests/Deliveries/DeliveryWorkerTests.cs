using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Support;

using Syndicator.Shared;

namespace Syndicator.Tests.Deliveries;

public sealed class DeliveryWorkerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(DeliveryStoreTests.Providers), MemberType = typeof(DeliveryStoreTests))]
    public async Task A_stop_during_a_drain_lets_the_current_send_finish_and_hands_the_unstarted_claims_back_uncounted(StorageProvider provider)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        await using var app = await TestApp.CreateAsync(provider, services: s => s.AddSingleton<TimeProvider>(time));
        var store = app.Get<DeliveryStore>();
        for (var i = 0; i < 5; i++) await store.EnsureAsync("mastodon", "article", $"a{i}", "acct", time.GetUtcNow(), Ct);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var sent = new List<string>();
        var report = await app.Get<DeliveryWorker>().DrainAsync("mastodon", async (delivery, ct) =>
        {
            stop.Cancel(); // the stop arrives while the first post is on its way
            await Task.Yield();
            ct.ThrowIfCancellationRequested(); // the send itself is not cut off by the stop, only by the deadline
            sent.Add(delivery.Subject.Id);
            return new DeliveryOutcome.Sent("remote", null);
        }, stop.Token);

        Assert.Equal(new DrainReport(1, 0, 0), report);
        var all = await store.ListAsync(null, null, 10, Ct);
        Assert.Equal(DeliveryState.Sent, Assert.Single(all, d => d.Subject.Id == sent.Single()).State);
        var handedBack = all.Where(d => d.Subject.Id != sent.Single()).ToList();
        Assert.Equal(4, handedBack.Count);
        Assert.All(handedBack, d => Assert.Equal((DeliveryState.Pending, 0), (d.State, d.Attempts)));
        Assert.Equal(4, (await store.ClaimDueAsync("mastodon", "node-b", TimeSpan.FromMinutes(5), 10, Ct)).Count);
    }

    /// <summary>Two lanes sharing batches of three, as e-mail's connections share theirs.</summary>
    private static readonly ChannelPolicy SharedLanes = new(RecipientKind.Account, DuplicateGuard.IdempotencyKey, Lanes: 2);

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(DeliveryStoreTests.Providers), MemberType = typeof(DeliveryStoreTests))]
    public async Task Batch_after_batch_the_next_is_claimed_while_the_last_send_of_the_one_before_is_under_way_and_each_delivery_goes_out_once(StorageProvider provider)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        await using var app = await TestApp.CreateAsync(provider, settings: new() { ["Deliveries:BatchSize"] = "3" }, services: s => s.AddSingleton<TimeProvider>(time));
        var store = app.Get<DeliveryStore>();
        // Ten, due one second apart (claims take them in that order), named in Persian, Chinese and emoji.
        var names = Enumerable.Range(0, 10).Select(i => $"{(i % 3 == 0 ? "مقاله" : i % 3 == 1 ? "文章" : "📰")}-{i}").ToList();
        for (var i = 0; i < names.Count; i++) await store.EnsureAsync("mastodon", "article", names[i], "acct", time.GetUtcNow().AddSeconds(i - 20), Ct);

        var sent = new System.Collections.Concurrent.ConcurrentBag<string>();
        var inFlightDuringThird = -1;
        var report = await app.Get<DeliveryWorker>().DrainAsync("mastodon", async (delivery, ct) =>
        {
            if (delivery.Subject.Id == names[2])
            {
                // The first batch's last delivery: the lane that found nothing left claims the next batch meanwhile.
                for (var waited = 0; waited < 100 && inFlightDuringThird < 4; waited++)
                {
                    inFlightDuringThird = (await store.ListAsync(DeliveryState.InFlight, null, 20, ct)).Count;
                    if (inFlightDuringThird < 4) await Task.Delay(50, ct);
                }
            }
            sent.Add(delivery.Subject.Id);
            return new DeliveryOutcome.Sent("remote-" + delivery.Subject.Id, null);
        }, Ct, SharedLanes, untilEmpty: true);

        Assert.Equal(4, inFlightDuringThird); // the third delivery and the three of the next batch
        Assert.Equal(new DrainReport(10, 0, 0), report);
        Assert.Equal(names.Order(), sent.Order());
        var all = await store.ListAsync(null, null, 20, Ct);
        Assert.All(all, d => Assert.Equal((DeliveryState.Sent, 1), (d.State, d.Attempts)));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(DeliveryStoreTests.Providers), MemberType = typeof(DeliveryStoreTests))]
    public async Task A_batch_claimed_ahead_goes_back_uncounted_when_the_batch_before_it_sent_nothing(StorageProvider provider)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        await using var app = await TestApp.CreateAsync(provider, settings: new() { ["Deliveries:BatchSize"] = "3" }, services: s => s.AddSingleton<TimeProvider>(time));
        var store = app.Get<DeliveryStore>();
        for (var i = 0; i < 6; i++) await store.EnsureAsync("mastodon", "article", $"a{i}", "acct", time.GetUtcNow().AddSeconds(i - 20), Ct);

        // The service refuses everything: the run ends after its first batch, whose lanes have claimed the next.
        var report = await app.Get<DeliveryWorker>().DrainAsync("mastodon", (_, _) =>
            Task.FromResult<DeliveryOutcome>(new DeliveryOutcome.Transient("mastodon: 503 Service Unavailable")), Ct, SharedLanes, untilEmpty: true);

        Assert.Equal(new DrainReport(0, 3, 0), report);
        var all = await store.ListAsync(null, null, 10, Ct);
        Assert.Equal(["a0", "a1", "a2"], all.Where(d => d.State == DeliveryState.RetryWait).Select(d => d.Subject.Id).Order());
        var ahead = all.Where(d => d.Subject.Id is "a3" or "a4" or "a5").ToList();
        Assert.All(ahead, d => Assert.Equal((DeliveryState.Pending, 0), (d.State, d.Attempts)));
        Assert.Equal(3, (await store.ClaimDueAsync("mastodon", "node-b", TimeSpan.FromMinutes(5), 10, Ct)).Count);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Service_ShutdownTimeoutSeconds_sets_how_long_the_host_waits_and_out_of_range_values_name_the_key()
    {
        await using var app = await TestApp.CreateAsync(settings: new() { ["Service:ShutdownTimeoutSeconds"] = "12" });
        Assert.Equal(TimeSpan.FromSeconds(12), app.Get<IOptions<HostOptions>>().Value.ShutdownTimeout);

        await using var bad = await TestApp.CreateAsync(settings: new() { ["Service:ShutdownTimeoutSeconds"] = "1" });
        var error = Assert.Throws<OptionsValidationException>(() => bad.Get<IOptions<Syndicator.Shared.ServiceOptions>>().Value);
        Assert.Contains("Service:ShutdownTimeoutSeconds must be between 5 and 3600", error.Message);
        Assert.Contains("TimeoutStopSec", error.Message);
    }
}
