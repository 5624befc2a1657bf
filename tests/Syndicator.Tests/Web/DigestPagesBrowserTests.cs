using System.Net;
using Dapper;
using Microsoft.Playwright;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Digests.Feedback;
using Syndicator.Storage;
using Syndicator.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace Syndicator.Tests.Web;

/// <summary>
/// The reader's sign-up page and the publisher's <c>/status/digests</c> page in a real browser (Debian's chromium
/// through Playwright) against the running app: the browser's zone preselected, the next digest previewed, a test send
/// that reaches a real SMTP server and is nobody's digest, and the report of a run.
/// </summary>
public sealed class DigestPagesBrowserTests(Chromium chromium) : IClassFixture<Chromium>
{
    private const int TestTimeout = 120_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory(Timeout = TestTimeout)]
    [InlineData("Asia/Tehran", true)]
    // Chromium reports this zone by its old id, America/Buenos_Aires, which the list spells differently: the script adds it.
    [InlineData("America/Argentina/Buenos_Aires", true)]
    [InlineData("Asia/Tehran", false)]
    public async Task The_sign_up_page_preselects_the_browsers_zone_or_the_sites_without_script_and_signs_up_with_the_follows_ticked(string browserZone, bool script)
    {
        var (context, page) = await chromium.NewPageAsync(timezoneId: browserZone, javaScriptEnabled: script);
        await using var _ = context;
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken, new() { ["Site:Title"] = "The Opinion Magazine", ["Site:TimeZone"] = "Europe/Berlin" });
        await server.SeedAsync();
        var refusals = new List<string>();
        page.Console += (_, message) => { if (message.Text.Contains("Content Security Policy", StringComparison.Ordinal)) refusals.Add(message.Text); };
        page.PageError += (_, error) => refusals.Add(error);

        await page.GotoAsync(new Uri(server.Address, "/subscribe").ToString());

        await Expect(page.Locator("h1")).ToHaveTextAsync("Subscribe to The Opinion Magazine");
        var expected = script ? await page.EvaluateAsync<string>("Intl.DateTimeFormat().resolvedOptions().timeZone") : "Europe/Berlin";
        if (script) Assert.Contains(expected, new[] { browserZone, "America/Buenos_Aires" });
        await Expect(page.Locator("select#tz")).ToHaveValueAsync(expected);
        // The script ran under the page's policy (allowed by its hash), with nothing refused.
        Assert.Empty(refusals);
        await page.Locator("#email").FillAsync("reader.tehran@example.com");
        await page.Locator("#frequency").SelectOptionAsync("weekly");
        await page.GetByLabel("Jane Doe").CheckAsync();
        await page.GetByLabel("Climate").CheckAsync();
        Directory.CreateDirectory(Chromium.ScreenshotFolder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.ScreenshotFolder, $"subscribe-{browserZone.Replace('/', '-')}-{(script ? "script" : "no-script")}.png"), FullPage = true });
        await page.GetByRole(AriaRole.Button, new() { Name = "Subscribe" }).ClickAsync();

        await Expect(page.Locator("h1")).ToHaveTextAsync("Check your inbox");
        var subscriber = (await server.Get<SubscriberStore>().FindAsync("reader.tehran@example.com", Ct))!;
        Assert.Equal((SubscriberState.Pending, DigestFrequency.Weekly, expected), (subscriber.State, subscriber.Frequency, subscriber.TimeZone));
        Assert.Equal(["Jane Doe"], subscriber.FollowedAuthors);
        Assert.Equal(["Climate"], subscriber.FollowedTags);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task The_digests_page_previews_the_next_digest_for_a_sample_reader_and_for_a_chosen_subscriber()
    {
        var (context, page) = await chromium.NewPageAsync();
        await using var _ = context;
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        var seeded = await server.SeedAsync();
        await AgeArticlesAsync(server);

        // Reached from the status page, as a person would.
        await page.GotoAsync(new Uri(server.Address, "/status").ToString());
        await page.GetByRole(AriaRole.Link, new() { Name = "Digests", Exact = true }).ClickAsync();
        Assert.EndsWith("/status/digests", page.Url);

        var preview = page.Locator("#preview");
        await Expect(preview.Locator("[data-preview]")).ToHaveAttributeAsync("data-preview", "sample");
        await Expect(preview.Locator("[data-to]")).ToContainTextAsync(DigestPreview.SampleAddress);
        await Expect(preview.Locator("[data-subject]")).ToContainTextAsync("1 new article");
        await Expect(preview.Locator("pre[data-text]")).ToContainTextAsync("Water wars");
        await Expect(preview.Locator("pre[data-text]")).ToContainTextAsync("/preferences?token=");
        // The HTML is in a frame that may run nothing: no script, no forms, no navigation of the page around it.
        Assert.Equal("", await preview.Locator("iframe").GetAttributeAsync("sandbox"));
        var frame = page.FrameLocator("#preview iframe");
        await Expect(frame.GetByRole(AriaRole.Link, new() { Name = "Water wars" })).ToHaveAttributeAsync("href", seeded.Article.CanonicalUrl.ToString());
        await Expect(frame.GetByRole(AriaRole.Link, new() { Name = "Unsubscribe" })).ToBeVisibleAsync();

        // For a chosen reader: their own next digest, addressed to them.
        await preview.GetByLabel("Subscriber's address").FillAsync("reader@example.com");
        await preview.GetByRole(AriaRole.Button, new() { Name = "Preview" }).ClickAsync();
        await Expect(preview.Locator("[data-preview]")).ToHaveAttributeAsync("data-preview", "subscriber");
        await Expect(preview.Locator("[data-to]")).ToContainTextAsync("reader@example.com");
        await Expect(frame.GetByRole(AriaRole.Link, new() { Name = "Water wars" })).ToBeVisibleAsync();
        Directory.CreateDirectory(Chromium.ScreenshotFolder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.ScreenshotFolder, "digests.png"), FullPage = true });

        // A reader who follows only another author has nothing new: the page says so and why.
        await server.Get<SubscriberStore>().SaveAsync("picky@example.com", null, DigestFrequency.Daily, "UTC", SubscriberState.Confirmed, ["Someone Else"], [], DateTimeOffset.UtcNow.AddDays(-3), Ct);
        await preview.GetByLabel("Subscriber's address").FillAsync("picky@example.com");
        await preview.GetByRole(AriaRole.Button, new() { Name = "Preview" }).ClickAsync();
        await Expect(preview.Locator("[data-preview-problem]")).ToContainTextAsync("nothing new for picky@example.com");
        await Expect(preview.Locator("iframe")).ToHaveCountAsync(0);

        // Previews planned nothing.
        await using var connection = await server.Get<Database>().OpenAsync(Ct);
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digests"));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_test_send_reaches_the_smtp_server_and_records_no_delivery_and_the_report_shows_each_runs_outcome()
    {
        await using var smtp = await SmtpTestServer.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var (context, page) = await chromium.NewPageAsync();
        await using var _ = context;
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken, new()
        {
            ["Site:AllowLocalUrls"] = "true",
            ["Digests:Smtp:Host"] = smtp.Host, ["Digests:Smtp:Port"] = smtp.Port.ToString(), ["Digests:Smtp:Security"] = "None",
        });
        await server.SeedAsync();
        var deliveries = server.Get<DeliveryStore>();
        var email = Assert.Single(await deliveries.ListAsync(DeliveryState.Sent, EmailChannel.ChannelName, null, 10, Ct));
        await server.Get<FeedbackRecorder>().RecordAsync(new FeedbackEvent(FeedbackKind.HardBounce, email.Key, null, null, "5.1.1", "user unknown"), "test:1", "test", Ct);
        var before = await deliveries.CountByChannelAndStateAsync(Ct);

        await page.GotoAsync(new Uri(server.Address, "/status/digests").ToString());
        var run = page.Locator("#runs tr[data-run='2026-01-01']");
        await Expect(run.Locator("[data-count='planned']")).ToHaveTextAsync("1");
        await Expect(run.Locator("[data-count='sent']")).ToHaveTextAsync("1");
        await Expect(run.Locator("[data-count='hard-bounced']")).ToHaveTextAsync("1");
        foreach (var column in new[] { "failed", "unconfirmed", "soft-bounced", "complained", "unsubscribed" })
            await Expect(run.Locator($"[data-count='{column}']")).ToHaveTextAsync("0");

        var form = page.Locator("#test-send");
        await form.GetByLabel("Send to").FillAsync("publisher+test@example.com");
        await form.GetByRole(AriaRole.Button, new() { Name = "Send test digest" }).ClickAsync();

        await Expect(page.Locator("[data-test-send]")).ToHaveAttributeAsync("data-test-send", "sent");
        await Expect(page.Locator("[data-test-send]")).ToContainTextAsync("no delivery was recorded");
        var received = Assert.Single(await smtp.WaitForMessagesAsync(1, TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(["publisher+test@example.com"], received.Recipients);
        Assert.NotNull(received.Message.Headers[DigestTestSend.TestHeader]);
        Assert.Contains("Water wars", received.Message.TextBody);
        Assert.Equal(before, await deliveries.CountByChannelAndStateAsync(Ct));
        // The report is unchanged: a test send is no run.
        await Expect(page.Locator("#runs tr[data-run]")).ToHaveCountAsync(1);

        // A bad address is refused on the page, naming the field; nothing reaches the server.
        await form.GetByLabel("Send to").FillAsync("someone@localhost");
        await form.GetByRole(AriaRole.Button, new() { Name = "Send test digest" }).ClickAsync();
        await Expect(page.Locator("[data-test-send]")).ToHaveAttributeAsync("data-test-send", "refused");
        await Expect(page.Locator("[data-test-send]")).ToContainTextAsync("the address to send to");
        Assert.Single(await smtp.MessagesAsync(Ct));
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("no-token")]
    [InlineData("other-origin")]
    [InlineData("cross-site")]
    public async Task A_test_send_posted_from_elsewhere_is_refused_and_sends_nothing(string kind)
    {
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        await server.SeedAsync();
        var page = await server.GetTextAsync("/status/digests");
        var csrf = System.Text.RegularExpressions.Regex.Match(page.Body, "name=\"csrf\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(csrf);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/status/digests/test-send")
        {
            Content = new FormUrlEncodedContent([new("to", "publisher@example.com"), new("csrf", kind == "no-token" ? "" : csrf)]),
        };
        if (kind == "other-origin") request.Headers.Add("Origin", "https://evil.example");
        if (kind == "cross-site") request.Headers.Add("Sec-Fetch-Site", "cross-site");

        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var pickup = Path.Combine(server.Dir.Path, "mail-pickup");
        Assert.False(Directory.Exists(pickup) && Directory.EnumerateFiles(pickup).Any(), "a refused test send wrote a message");
    }

    /// <summary>The planner leaves articles imported in the last five seconds to the next digest; the preview of a reader's next digest likewise.</summary>
    private static async Task AgeArticlesAsync(StatusServer server)
    {
        await using var connection = await server.Get<Database>().OpenAsync(Ct);
        await connection.ExecuteAsync(new CommandDefinition("UPDATE articles SET created_at = @at", new { at = DateTimeOffset.UtcNow.AddMinutes(-10) }, cancellationToken: Ct));
    }
}
