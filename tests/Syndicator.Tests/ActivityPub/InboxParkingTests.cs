using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.ActivityPub;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.ActivityPub;

/// <summary>
/// An inbox that fails every delivery for ActivityPub:ParkInboxAfterDays is parked (its deliveries wait, on every
/// node), shows as parked on the dashboard, and takes its waiting deliveries again when un-parked; the article page
/// shows likes, boosts, replies and each inbox's deliveries; the operations page shows followers per account.
/// </summary>
public sealed class InboxParkingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    /// <summary>The real clock, moved on by hand: timers and pacing run in real time, dates are as far on as the test says.</summary>
    private sealed class ShiftedTime : TimeProvider
    {
        public TimeSpan Offset { get; set; }
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task An_inbox_failing_for_a_day_is_parked_its_deliveries_wait_and_it_resumes_when_unparked(StorageProvider provider)
    {
        var downStatus = 503;
        var downPosts = 0;
        var upPosts = 0;
        await using var remote = await LoopbackServer.StartAsync(app =>
        {
            app.MapPost("/down/inbox", () => { Interlocked.Increment(ref downPosts); return Results.StatusCode(Volatile.Read(ref downStatus)); });
            app.MapPost("/up/inbox", () => { Interlocked.Increment(ref upPosts); return Results.StatusCode(202); });
        });
        var clock = new ShiftedTime();
        await using var world = await ActivityPubWorld.StartAsync(provider,
            new() { ["ActivityPub:ParkInboxAfterDays"] = "1", ["Deliveries:RetryBaseSeconds"] = "1", ["Deliveries:RetryMaxSeconds"] = "2" },
            services => services.AddSingleton<TimeProvider>(clock));
        var followers = world.Get<FollowerStore>();
        var health = world.Get<InboxHealth>();
        var store = world.Get<DeliveryStore>();
        var down = $"{remote.BaseUrl}/down/inbox";
        await using (var connection = await world.Get<Database>().OpenAsync(Ct))
        await using (var transaction = await connection.BeginTransactionAsync(Ct))
        {
            await followers.AddAsync(connection, transaction, "magazine", new RemoteActor($"{remote.BaseUrl}/down/users/مریم", $"{remote.BaseUrl}/down/users/مریم/inbox", down),
                $"{remote.BaseUrl}/down/follows/1", FollowState.Accepted, Ct);
            await followers.AddAsync(connection, transaction, "magazine", new RemoteActor($"{remote.BaseUrl}/up/users/陈", $"{remote.BaseUrl}/up/inbox", null),
                $"{remote.BaseUrl}/up/follows/1", FollowState.Accepted, Ct);
            await transaction.CommitAsync(Ct);
        }

        // Day 0: the first article; the down inbox fails, the other gets it.
        var first = await world.ImportAsync("shahr", "شهر در شب 🌃", "<p>متن.</p>");
        await world.DrainAsync();
        Assert.Equal(1, upPosts);
        Assert.Equal(1, downPosts);
        Assert.Empty(await health.ParkedAsync(Ct));
        Assert.Null(await store.PausedUntilAsync(ActivityPubPlanner.Channel, down, Ct));
        var failingSince = clock.GetUtcNow();

        // A day and an hour later every delivery has still failed: the next failure parks it.
        clock.Offset = TimeSpan.FromHours(25);
        await world.ImportAsync("second", "東京 second", "<p>Text.</p>");
        await world.DrainAsync();
        var parked = Assert.Single((await health.ParkedAsync(Ct)).Values);
        Assert.Equal(down, parked.Inbox);
        Assert.InRange(parked.FailingSince, failingSince.AddMinutes(-5), failingSince);
        Assert.Contains("503", parked.LastError);
        Assert.Equal(InboxHealth.Indefinitely, await store.PausedUntilAsync(ActivityPubPlanner.Channel, down, Ct));
        var toDown = (await world.DeliveriesAsync()).Where(d => d.Recipient.Id == down).ToList();
        Assert.Equal(2, toDown.Count);
        Assert.DoesNotContain(toDown, d => d.State == DeliveryState.Failed || d.State == DeliveryState.Sent);
        Assert.Equal(2, upPosts);

        // Parked: however often the job runs and however late, nothing more reaches it.
        var postsWhenParked = downPosts;
        clock.Offset = TimeSpan.FromDays(3);
        await world.DrainAsync();
        await world.DrainAsync();
        Assert.Equal(postsWhenParked, downPosts);

        // The dashboard: followers per account with the parked inbox, and the article's likes, boosts, replies and inboxes.
        foreach (var (activity, kind) in new[] { ("like-1", "like"), ("like-2", "like"), ("boost-1", "announce"), ("reply-1", "reply") })
            await followers.AddInteractionAsync($"{remote.BaseUrl}/{activity}", first, kind, $"{remote.BaseUrl}/up/users/陈", Ct);
        var operations = await world.Http.GetStringAsync("/status/operations", Ct);
        Assert.Contains("<tr data-actor=\"magazine\" data-followers=\"2\" data-parked=\"1\">", operations);
        Assert.Contains("<tr data-actor=\"jane\" data-followers=\"0\" data-parked=\"0\">", operations);
        var page = await world.Http.GetStringAsync("/status/articles/shahr", Ct);
        Assert.Contains("data-likes=\"2\" data-boosts=\"1\" data-replies=\"1\"", page);
        Assert.Contains($"<tr data-inbox=\"{down}\" data-activity=\"create\">", page);
        Assert.Contains($"<tr data-inbox=\"{remote.BaseUrl}/up/inbox\" data-activity=\"create\">", page);
        Assert.Contains("parked</span>", page);

        // Un-parked (by `activitypub resend` or a new Follow from it) and working again: its waiting deliveries go out.
        Volatile.Write(ref downStatus, 202);
        Assert.True(await health.UnparkAsync(down, Ct));
        Assert.False(await health.UnparkAsync(down, Ct));
        Assert.Null(await store.PausedUntilAsync(ActivityPubPlanner.Channel, down, Ct));
        await world.DrainAsync();
        Assert.All((await world.DeliveriesAsync()).Where(d => d.Recipient.Id == down), d => Assert.Equal(DeliveryState.Sent, d.State));
        Assert.Empty(await health.ParkedAsync(Ct));
        Assert.DoesNotContain("parked</span>", await world.Http.GetStringAsync("/status/articles/shahr", Ct));
    }
}
