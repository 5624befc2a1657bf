using Microsoft.Playwright;
using Syndicator.Deliveries;
using Syndicator.Feeds;
using Syndicator.Scheduling;
using static Microsoft.Playwright.Assertions;

namespace Syndicator.Tests.Web;

/// <summary>The <c>/status</c> pages in a real browser (Debian's chromium through Playwright) against the running app.</summary>
public sealed class DashboardBrowserTests(Chromium chromium) : IClassFixture<Chromium>
{
    private const int TestTimeout = 90_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeout)]
    public async Task The_dashboard_shows_every_job_with_its_next_run_and_last_outcome_and_the_deliveries_by_channel_and_state()
    {
        var (context, page) = await chromium.NewPageAsync();
        await using var _ = context;
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        await server.SeedAsync();
        // EmailSend finds nothing due and reports Skipped; it starts no other job, so the chart holds exactly its run.
        var run = await server.RunJobAsync(JobCatalog.EmailSend);

        await page.GotoAsync(new Uri(server.Address, "/status/operations").ToString());

        await Expect(page.Locator("h1")).ToContainTextAsync("Syndicator status");
        await Expect(page.Locator("#scheduler")).ToContainTextAsync("running");
        foreach (var job in JobCatalog.Names)
        {
            var row = page.Locator($"#jobs tr[data-job='{job}']");
            await Expect(row).ToContainTextAsync(job);
            // Every job is on the 2099 cron: the next run shown is that one.
            Assert.Equal("2099-01-01T03:00:00.0000000+00:00", await row.Locator("td[data-next]").GetAttributeAsync("data-next"));
        }
        Assert.Equal(Quartz.JobRunResult.Skipped, run.LastResult);
        var emailSend = page.Locator("#jobs tr[data-job='EmailSend']");
        await Expect(emailSend.Locator("td[data-outcome]")).ToHaveAttributeAsync("data-outcome", "Skipped");
        await Expect(emailSend).ToContainTextAsync("no e-mail due");
        await Expect(page.Locator("#jobs tr[data-job='DailyDigest'] td[data-outcome]")).ToContainTextAsync("no run recorded");

        // The run just made is a bar of the hourly chart.
        await Expect(page.Locator("#runs svg g[data-runs]")).ToHaveCountAsync(1);
        Assert.Equal("1", await page.Locator("#runs svg g[data-runs]").GetAttributeAsync("data-runs"));

        await Expect(page.Locator("#deliveries tr[data-channel='mastodon'] td[data-state='sent']")).ToHaveTextAsync("1");
        await Expect(page.Locator("#deliveries tr[data-channel='mastodon'] td[data-state='failed']")).ToHaveTextAsync("0");
        await Expect(page.Locator("#deliveries tr[data-channel='bluesky'] td[data-state='failed']")).ToHaveTextAsync("1");
        await Expect(page.Locator("#deliveries tr[data-channel='email'] td[data-state='sent']")).ToHaveTextAsync("1");
        Directory.CreateDirectory(Chromium.ScreenshotFolder);
        var screenshot = Path.Combine(Chromium.ScreenshotFolder, "status.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot of /status is suspiciously small");
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_failed_delivery_shows_its_error_and_pressing_Retry_puts_it_back_to_pending()
    {
        var (context, page) = await chromium.NewPageAsync();
        await using var _ = context;
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        var seeded = await server.SeedAsync();

        await page.GotoAsync(new Uri(server.Address, "/status/operations").ToString());
        var row = page.Locator($"#failed tr[data-delivery='{seeded.FailedId}']");
        await Expect(row).ToContainTextAsync(StatusServer.BlueskyError);
        await Expect(row).ToContainTextAsync("Bluesky");
        await Expect(row.Locator("[data-advice]")).ToContainTextAsync("magazine-bluesky");
        await Expect(row.GetByRole(AriaRole.Link, new() { Name = "Water wars" })).ToHaveAttributeAsync("href", $"/status/articles/{seeded.Article.Id}");

        await row.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();

        await Expect(page.Locator("p.notice")).ToContainTextAsync($"Delivery {seeded.FailedId} is pending again");
        Assert.EndsWith($"/status/operations?retried={seeded.FailedId}", page.Url);
        await Expect(page.Locator($"#failed tr[data-delivery='{seeded.FailedId}']")).ToHaveCountAsync(0);
        var delivery = await server.Get<DeliveryStore>().GetAsync(seeded.FailedId, Ct);
        Assert.Equal(DeliveryState.Pending, delivery!.State);
        Assert.Equal(StatusServer.BlueskyError, delivery.LastError); // kept for the record
        await Expect(page.Locator("#deliveries tr[data-channel='bluesky'] td[data-state='pending']")).ToHaveTextAsync("1");
    }

    [Fact(Timeout = TestTimeout)]
    public async Task The_article_page_lists_each_feed_the_article_is_in_the_post_on_each_network_and_the_digest_emails()
    {
        var (context, page) = await chromium.NewPageAsync();
        await using var _ = context;
        await using var server = await StatusServer.StartAsync(TestContext.Current.CancellationToken);
        var seeded = await server.SeedAsync();
        var links = server.Get<FeedLinks>();
        var article = seeded.Article;

        // Reached from the overview, as a person would.
        await page.GotoAsync(new Uri(server.Address, "/status").ToString());
        await page.Locator("#articles").GetByRole(AriaRole.Link, new() { Name = "Water wars" }).ClickAsync();
        await Expect(page.Locator("#article h2")).ToHaveTextAsync("Water wars");
        Assert.EndsWith("/status/articles/water-wars", page.Url);

        Assert.Equal(2, article.Tags.Count);
        IReadOnlyList<FeedScope> expected;
        await using (var connection = await server.Get<FeedStore>().OpenAsync(TestContext.Current.CancellationToken))
            expected = await server.Get<FeedStore>().ScopesOfAsync(connection, article, TestContext.Current.CancellationToken);
        await Expect(page.Locator("#feeds tr[data-feed]")).ToHaveCountAsync(expected.Count);
        foreach (var scope in expected)
        {
            var row = page.Locator($"#feeds tr[data-feed='{scope.Id}']");
            await Expect(row).ToContainTextAsync("current feed");
            Assert.Equal(links.Url(scope, null, FeedPaths.Rss), await row.GetByRole(AriaRole.Link, new() { Name = "RSS", Exact = true }).GetAttributeAsync("href"));
            Assert.Equal(links.Url(scope, null, FeedPaths.Atom), await row.GetByRole(AriaRole.Link, new() { Name = "Atom", Exact = true }).GetAttributeAsync("href"));
        }
        Assert.Equal("https://magazine.example/feeds/authors/jane-doe/rss.xml", links.Url(expected[1], null, FeedPaths.Rss));

        var mastodon = page.Locator("#networks [data-channel='mastodon']");
        await Expect(mastodon).ToContainTextAsync("sent");
        await Expect(mastodon.Locator("a[data-remote]")).ToHaveAttributeAsync("href", StatusServer.PostUrl);
        await Expect(mastodon.Locator("a[data-remote]")).ToHaveAttributeAsync("rel", "noopener noreferrer");
        var bluesky = page.Locator("#networks [data-channel='bluesky']");
        await Expect(bluesky).ToContainTextAsync("failed");
        await Expect(bluesky).ToContainTextAsync(StatusServer.BlueskyError);

        await Expect(page.Locator("#email [data-digests]")).ToHaveAttributeAsync("data-digests", "1");
        await Expect(page.Locator("#email")).ToContainTextAsync("1 sent");

        Directory.CreateDirectory(Chromium.ScreenshotFolder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.ScreenshotFolder, "article.png"), FullPage = true });

        // Retry from the article page comes back to the article page.
        await bluesky.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        await Expect(page.Locator("p.notice")).ToContainTextAsync("is pending again");
        Assert.Contains($"/status/articles/water-wars?retried={seeded.FailedId}", page.Url);
        await Expect(page.Locator("#networks [data-channel='bluesky']")).ToHaveAttributeAsync("data-state", "pending");
    }
}
