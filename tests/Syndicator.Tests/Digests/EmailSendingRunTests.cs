using Syndicator.Digests;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

public sealed class EmailSendingRunTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_second_sending_run_on_the_same_node_steps_aside_while_the_first_is_sending_so_the_node_limits_hold()
    {
        // One message a second, so the first run is still sending when the second asks.
        await using var world = await DigestWorld.CreateAsync(settings: new() { ["Digests:Smtp:MessagesPerSecond"] = "1" });
        for (var i = 0; i < 3; i++) await world.SubscribeAsync($"reader{i}@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);

        var first = world.App.SendAllEmailAsync(Ct);
        while (world.Mailed().Count == 0) await Task.Delay(20, Ct);
        var second = await world.App.SendAllEmailAsync(Ct);

        Assert.Null(second);
        Assert.Equal(3, (await first)!.Sent);
        Assert.Equal(3, world.Mailed().Count);
        Assert.Equal(0, (await world.App.SendAllEmailAsync(Ct))!.Attempted);
    }
}
