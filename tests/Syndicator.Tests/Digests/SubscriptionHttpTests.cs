using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.Digests;

namespace Syndicator.Tests.Digests;

/// <summary>Double opt-in and unsubscribe over real HTTP against the running app.</summary>
public sealed partial class SubscriptionHttpTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(DigestWorld World, HttpClient Http)> StartAsync()
    {
        var world = await DigestWorld.CreateAsync(settings: new()
        {
            ["Http:Urls"] = "http://127.0.0.1:0",
            ["Jobs:DropFolderImport:Enabled"] = "false",
            ["Jobs:FeedBuild:Enabled"] = "false",
            ["Jobs:WebSubPing:Enabled"] = "false",
            ["Jobs:Announcements:Enabled"] = "false",
            ["Jobs:DailyDigest:Enabled"] = "false",
            ["Jobs:WeeklyDigest:Enabled"] = "false",
            ["Jobs:EmailSend:Enabled"] = "false",
        });
        await world.App.App.StartAsync(Ct);
        var address = world.App.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (world, new HttpClient { BaseAddress = new Uri(address) });
    }

    private static string Token(string url) => Uri.UnescapeDataString(TokenPattern().Match(url).Groups[1].Value);

    [Fact]
    public async Task Signing_up_sends_only_a_confirmation_and_the_link_confirms_only_when_its_button_is_pressed()
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;

        var response = await http.PostAsync("/subscribe", new FormUrlEncodedContent([new("email", "new@example.com"), new("frequency", "weekly"), new("tz", "Europe/London")]), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("confirmation link", await response.Content.ReadAsStringAsync(Ct));
        await world.App.Get<DigestSender>().SendDueAsync(null, Ct);

        var confirmation = Assert.Single(world.Mailed());
        Assert.StartsWith("Confirm your subscription", confirmation.Subject);
        var link = Regex.Match(confirmation.TextBody!, @"https?://\S+/subscribe/confirm\?token=\S+").Value;
        Assert.NotEmpty(link);
        var subscriber = await world.App.Get<SubscriberStore>().FindAsync("new@example.com", Ct);
        Assert.Equal(SubscriberState.Pending, subscriber!.State);

        // A pending address gets no digest.
        await world.ImportAsync("News", "Jane Doe");
        world.Time.Advance(TimeSpan.FromDays(8));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Weekly, manual: true, Ct);
        await world.App.Get<DigestSender>().SendDueAsync(null, Ct);
        Assert.Single(world.Mailed());

        // Following the link (as a mail scanner would) changes nothing; pressing the button confirms.
        var page = await http.GetAsync("/subscribe/confirm?token=" + Uri.EscapeDataString(Token(link)), Ct);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<form method=\"post\"", await page.Content.ReadAsStringAsync(Ct));
        Assert.Equal(SubscriberState.Pending, (await world.App.Get<SubscriberStore>().FindAsync("new@example.com", Ct))!.State);
        var confirmed = await http.PostAsync("/subscribe/confirm?token=" + Uri.EscapeDataString(Token(link)), null, Ct);
        Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        Assert.Equal(SubscriberState.Confirmed, (await world.App.Get<SubscriberStore>().FindAsync("new@example.com", Ct))!.State);
    }

    [Fact]
    public async Task One_click_unsubscribe_works_at_once_and_a_get_only_shows_the_button()
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        await world.SubscribeAsync("reader@example.com");
        await world.ImportAsync("First", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));
        var header = Assert.Single(world.Mailed()).Headers["List-Unsubscribe"]!;
        var url = new Uri(Regex.Match(header, "<(http[^>]+)>").Groups[1].Value);

        var get = await http.GetAsync(url.PathAndQuery, Ct);
        Assert.Contains("Unsubscribe</button>", await get.Content.ReadAsStringAsync(Ct));
        Assert.Equal(SubscriberState.Confirmed, (await world.App.Get<SubscriberStore>().FindAsync("reader@example.com", Ct))!.State);

        var post = await http.PostAsync(url.PathAndQuery, new FormUrlEncodedContent([new("List-Unsubscribe", "One-Click")]), Ct);
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal(SubscriberState.Unsubscribed, (await world.App.Get<SubscriberStore>().FindAsync("reader@example.com", Ct))!.State);

        await world.ImportAsync("Second", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromDays(1));
        Assert.Single(world.Mailed());
    }

    [Theory]
    [InlineData("forged")]
    [InlineData("altered")]
    [InlineData("other-purpose")]
    [InlineData("missing")]
    public async Task A_forged_or_altered_token_is_refused(string kind)
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        var subscriber = await world.SubscribeAsync("reader@example.com");
        var tokens = world.App.Get<SubscriberTokens>();
        var good = tokens.Unsubscribe(subscriber.Id);
        var token = kind switch
        {
            "forged" => subscriber.Id + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "altered" => good[..^1] + (good[^1] == 'A' ? 'B' : 'A'),
            "other-purpose" => tokens.Confirmation(subscriber.Id, SubscriberTokens.NewSignUpId()),
            _ => "",
        };

        var response = await http.PostAsync("/unsubscribe?token=" + Uri.EscapeDataString(token), null, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(SubscriberState.Confirmed, (await world.App.Get<SubscriberStore>().FindAsync("reader@example.com", Ct))!.State);
    }

    [GeneratedRegex(@"token=([^\s>]+)")]
    private static partial Regex TokenPattern();
}
