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
