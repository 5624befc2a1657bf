using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.Digests;

using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>Double opt-in and unsubscribe over real HTTP against the running app.</summary>
public sealed partial class SubscriptionHttpTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static async Task<(DigestWorld World, HttpClient Http)> StartAsync(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Http:Urls"] = "http://127.0.0.1:0",
            ["Jobs:DropFolderImport:Enabled"] = "false",
            ["Jobs:FeedBuild:Enabled"] = "false",
            ["Jobs:WebSubPing:Enabled"] = "false",
            ["Jobs:Announcements:Enabled"] = "false",
            ["Jobs:DailyDigest:Enabled"] = "false",
            ["Jobs:WeeklyDigest:Enabled"] = "false",
            ["Jobs:EmailSend:Enabled"] = "false",
        };
        foreach (var (key, value) in extra ?? []) settings[key] = value;
        var world = await DigestWorld.CreateAsync(settings: settings);
        await world.App.App.StartAsync(Ct);
        var address = world.App.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (world, new HttpClient { BaseAddress = new Uri(address) });
    }

    private static string Token(string url) => Uri.UnescapeDataString(TokenPattern().Match(url).Groups[1].Value);

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Signing_up_sends_only_a_confirmation_and_the_link_confirms_only_when_its_button_is_pressed()
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;

        var response = await http.PostAsync("/subscribe", new FormUrlEncodedContent([new("email", "new@example.com"), new("frequency", "weekly"), new("tz", "Europe/London")]), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Check your inbox", await response.Content.ReadAsStringAsync(Ct));
        await world.App.SendEmailAsync(null, Ct);

        var confirmation = Assert.Single(world.Mailed());
        Assert.StartsWith("Confirm your subscription", confirmation.Subject);
        var link = Regex.Match(confirmation.TextBody!, @"https?://\S+/subscribe/confirm\?token=\S+").Value;
        Assert.NotEmpty(link);
        var subscriber = await world.App.Get<SubscriberStore>().FindAsync("new@example.com", Ct);
        Assert.Equal(SubscriberState.Pending, subscriber!.State);

        // A pending address gets no digest.
        await world.ImportAsync("News", "Jane Doe");
        world.Time.Advance(TimeSpan.FromDays(1)); // within the link's 48 hours
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Weekly, manual: true, Ct);
        await world.App.SendEmailAsync(null, Ct);
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

    [Fact(Timeout = TestTimeouts.Default)]
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

    [Theory(Timeout = TestTimeouts.Default)]
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

    private static string BaseAddress(DigestWorld world) =>
        world.App.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    private static Task<HttpResponseMessage> SignUpAsync(HttpClient http, string email, string? name = null) =>
        http.PostAsync("/subscribe", new FormUrlEncodedContent([new("email", email), new("name", name ?? ""), new("frequency", "daily"), new("tz", "UTC")]), Ct);

    /// <summary>Sends what is due and returns the confirmation link of the newest message to <paramref name="email"/>.</summary>
    private static async Task<string> ConfirmationTokenAsync(DigestWorld world, string email)
    {
        await world.App.SendEmailAsync(null, Ct);
        var message = world.Mailed().Last(m => m.To.Mailboxes.Any(a => a.Address == email));
        return Token(Regex.Match(message.TextBody!, @"https?://\S+/subscribe/confirm\?token=\S+").Value);
    }

    private static async Task<int> ConfirmationsQueuedAsync(DigestWorld world) =>
        (await world.App.Get<Syndicator.Deliveries.DeliveryStore>().CountByChannelAndStateAsync(Ct)).Where(c => c.Channel == EmailChannel.ChannelName).Sum(c => (int)c.Count);

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_flood_of_sign_ups_from_one_client_gets_429_with_Retry_After_and_no_more_confirmations_than_the_limit()
    {
        var (world, http) = await StartAsync(new() { ["Subscriptions:SignUpsPerClient"] = "3", ["Subscriptions:SignUpsOverall"] = "100", ["Subscriptions:WindowSeconds"] = "600" });
        await using var _ = world;
        using var __ = http;

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 30; i++) answers.Add(await SignUpAsync(http, $"flood{i}@example.com"));

        Assert.Equal(3, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        var refused = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(27, refused.Count);
        Assert.All(refused, r => Assert.InRange(int.Parse(r.Headers.GetValues("Retry-After").Single()), 1, 600));
        while ((await world.App.SendEmailAsync(null, Ct)).Attempted > 0) { }
        Assert.Equal(3, world.Mailed().Count);
        // Pages other than the sign-up POST are not counted.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/subscribe", Ct)).StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_overall_sign_up_limit_holds_across_many_client_addresses()
    {
        var (world, http) = await StartAsync(new() { ["Subscriptions:SignUpsPerClient"] = "2", ["Subscriptions:SignUpsOverall"] = "5" });
        await using var _ = world;
        using var __ = http;
        var port = new Uri(BaseAddress(world)).Port;

        var statuses = new List<HttpStatusCode>();
        // Linux routes all of 127.0.0.0/8 to loopback: each client binds a different source address.
        for (var i = 2; i <= 9; i++)
        {
            var source = IPAddress.Parse($"127.0.0.{i}");
            using var client = new HttpClient(new SocketsHttpHandler
            {
                ConnectCallback = async (context, ct) =>
                {
                    var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(IPAddress.Loopback, port, ct);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                },
            }) { BaseAddress = new Uri(BaseAddress(world)) };
            statuses.Add((await SignUpAsync(client, $"client{i}@example.com")).StatusCode);
        }

        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(3, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.Equal(5, await ConfirmationsQueuedAsync(world));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_5_MB_name_or_an_oversized_chunked_form_is_refused_with_413_never_500(bool chunked)
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        // Declared, 5 MB is refused from its Content-Length alone. Chunked, the size shows only while reading: 64 KiB (past
        // the 16 KiB bound, and small enough to sit in the socket's buffer, so the client can read the answer) proves it.
        var body = "email=big%40example.com&frequency=daily&tz=UTC&name=" + new string('A', chunked ? 64 * 1024 : 5 * 1024 * 1024);
        HttpContent content = chunked
            ? new StreamContent(new MemoryStream(System.Text.Encoding.ASCII.GetBytes(body)))
            : new StringContent(body, System.Text.Encoding.ASCII);
        content.Headers.ContentType = new("application/x-www-form-urlencoded");
        if (chunked) content.Headers.ContentLength = null;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/subscribe") { Content = content };
        if (chunked) request.Headers.TransferEncodingChunked = true;

        var response = await http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Null(await world.App.Get<SubscriberStore>().FindAsync("big@example.com", Ct));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("10000", "longer than 254 characters")]
    [InlineData("a@[127.0.0.1]", "names an IP address")]
    [InlineData("a@127.0.0.1", "names an IP address")]
    [InlineData("a@localhost", "is a single name")]
    [InlineData("local65", "longer than 64 octets")]
    [InlineData("Jane <jane@example.com>", "write the address alone")]
    [InlineData("jane@example.com\r\nBcc: x@evil.example", "control character")]
    [InlineData("jane@-bad-.example", "not a valid domain name")]
    [InlineData("", "is empty")]
    [InlineData("no-at-sign.example", "needs a name, an @ and a domain")]
    public async Task Each_hostile_address_is_refused_with_its_reason(string address, string reason)
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        var email = address switch
        {
            "10000" => new string('a', 9_988) + "@example.com",
            "local65" => new string('a', 65) + "@example.com",
            _ => address,
        };

        var response = await SignUpAsync(http, email);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var page = WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync(Ct));
        Assert.Contains(reason, page);
        // The form is shown again (with its zone list, several kB) but never with a huge address echoed into it.
        Assert.DoesNotContain(new string('a', 100), page);
        Assert.Empty(await world.App.Get<SubscriberStore>().ListAsync(Ct));
        Assert.Equal(0, await ConfirmationsQueuedAsync(world));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("reader@مثال.ایران")]
    [InlineData("jane.doe+digest@mail.example.co.uk")]
    [InlineData("o'brien@example.ie")]
    public async Task Real_addresses_in_any_script_are_accepted(string email)
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;

        Assert.Equal(HttpStatusCode.OK, (await SignUpAsync(http, email)).StatusCode);
        Assert.Equal(SubscriberState.Pending, (await world.App.Get<SubscriberStore>().FindAsync(email, Ct))!.State);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("Visit http://phish.example now", "")]
    [InlineData("Win at phish.example", "")]
    [InlineData("www.phish.example", "")]
    [InlineData("mail me: eve@evil.example", "")]
    [InlineData("Jane\u0007\u202E Doe", "Jane Doe")]
    [InlineData("مریم\u200Cسادات رضایی 🌷", "مریم\u200Cسادات رضایی 🌷")]
    [InlineData("J. R. R. Tolkien", "J. R. R. Tolkien")]
    [InlineData("long", "")]
    public async Task A_name_is_cleaned_and_one_with_a_link_is_never_echoed_into_the_mail(string given, string greeted)
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        var name = given == "long" ? new string('N', SubscriberName.MaxLength + 1) : given;
        var expected = greeted;

        Assert.Equal(HttpStatusCode.OK, (await SignUpAsync(http, "named@example.com", name)).StatusCode);
        await world.App.SendEmailAsync(null, Ct);

        var mail = Assert.Single(world.Mailed());
        var greeting = mail.TextBody!.Split('\n')[0].Trim();
        Assert.Equal(expected.Length == 0 ? "Hello," : $"Hello {expected},", greeting);
        Assert.Equal(expected, mail.To.Mailboxes.Single().Name ?? "");
        Assert.DoesNotContain("phish", mail.ToString());
        Assert.DoesNotContain("evil", mail.ToString());
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_confirmed_and_a_new_address_get_the_same_answer_and_the_same_queued_e_mail()
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        var known = await world.SubscribeAsync("known@example.com", DigestFrequency.Weekly);

        var toKnown = await SignUpAsync(http, "known@example.com", "Mallory");
        var toNew = await SignUpAsync(http, "fresh@example.com");

        Assert.Equal(toNew.StatusCode, toKnown.StatusCode);
        Assert.Equal((await toNew.Content.ReadAsStringAsync(Ct)).Replace("fresh@", "X@"), (await toKnown.Content.ReadAsStringAsync(Ct)).Replace("known@", "X@"));
        Assert.Equal(2, await ConfirmationsQueuedAsync(world));
        await world.App.SendEmailAsync(null, Ct);
        var mails = world.Mailed();
        Assert.Equal(2, mails.Count);
        // The reader who already subscribes is told so, and a stranger changed nothing of theirs.
        Assert.Contains("already receives it", mails.Single(m => m.To.Mailboxes.Single().Address == "known@example.com").TextBody);
        var after = (await world.App.Get<SubscriberStore>().FindAsync("known@example.com", Ct))!;
        Assert.Equal((SubscriberState.Confirmed, DigestFrequency.Weekly, (string?)null, known.CoveredUntil), (after.State, after.Frequency, after.Name, after.CoveredUntil));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_confirmation_link_older_than_its_lifetime_is_refused_and_offers_to_sign_up_again()
    {
        var (world, http) = await StartAsync(new() { ["Subscriptions:ConfirmationHours"] = "48" });
        await using var _ = world;
        using var __ = http;
        await SignUpAsync(http, "late@example.com");
        var token = await ConfirmationTokenAsync(world, "late@example.com");

        world.Time.Advance(TimeSpan.FromHours(49));
        var page = await http.GetAsync("/subscribe/confirm?token=" + Uri.EscapeDataString(token), Ct);
        var post = await http.PostAsync("/subscribe/confirm?token=" + Uri.EscapeDataString(token), null, Ct);

        Assert.Equal((HttpStatusCode.Gone, HttpStatusCode.Gone), (page.StatusCode, post.StatusCode));
        var body = await post.Content.ReadAsStringAsync(Ct);
        Assert.Contains("expired", body);
        Assert.Contains("href=\"/subscribe\"", body);
        Assert.Equal(SubscriberState.Pending, (await world.App.Get<SubscriberStore>().FindAsync("late@example.com", Ct))!.State);

        // Signing up again gives a new link that works.
        await SignUpAsync(http, "late@example.com");
        var fresh = await ConfirmationTokenAsync(world, "late@example.com");
        Assert.NotEqual(token, fresh);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/subscribe/confirm?token=" + Uri.EscapeDataString(fresh), null, Ct)).StatusCode);
        Assert.Equal(SubscriberState.Confirmed, (await world.App.Get<SubscriberStore>().FindAsync("late@example.com", Ct))!.State);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_link_from_before_an_unsubscribe_and_a_new_sign_up_is_refused()
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        await SignUpAsync(http, "shared@example.com");
        var first = await ConfirmationTokenAsync(world, "shared@example.com");
        var subscriber = (await world.App.Get<SubscriberStore>().FindAsync("shared@example.com", Ct))!;
        var unsubscribe = world.App.Get<SubscriberTokens>().Unsubscribe(subscriber.Id);

        // The first link is never used; the reader unsubscribes; someone else signs the address up again an hour later.
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/unsubscribe?token=" + Uri.EscapeDataString(unsubscribe), null, Ct)).StatusCode);
        var afterUnsubscribe = await http.PostAsync("/subscribe/confirm?token=" + Uri.EscapeDataString(first), null, Ct);
        Assert.Equal(HttpStatusCode.Gone, afterUnsubscribe.StatusCode);
        world.Time.Advance(TimeSpan.FromHours(1));
        // An unsubscribed address is suppressed: a sign-up now mails nothing until the publisher lifts it.
        await SignUpAsync(http, "shared@example.com");
        Assert.Equal(SubscriberState.Unsubscribed, (await world.App.Get<SubscriberStore>().FindAsync("shared@example.com", Ct))!.State);
        Assert.True(await world.App.Get<SuppressionList>().LiftAsync("shared@example.com", Ct));
        await SignUpAsync(http, "shared@example.com");
        var second = await ConfirmationTokenAsync(world, "shared@example.com");

        var old = await http.PostAsync("/subscribe/confirm?token=" + Uri.EscapeDataString(first), null, Ct);
        Assert.Equal(HttpStatusCode.Gone, old.StatusCode);
        Assert.Contains("earlier sign-up", await old.Content.ReadAsStringAsync(Ct));
        Assert.Equal(SubscriberState.Pending, (await world.App.Get<SubscriberStore>().FindAsync("shared@example.com", Ct))!.State);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/subscribe/confirm?token=" + Uri.EscapeDataString(second), null, Ct)).StatusCode);
        Assert.Equal(SubscriberState.Confirmed, (await world.App.Get<SubscriberStore>().FindAsync("shared@example.com", Ct))!.State);
    }

    [GeneratedRegex(@"token=([^\s>]+)")]
    private static partial Regex TokenPattern();
}
