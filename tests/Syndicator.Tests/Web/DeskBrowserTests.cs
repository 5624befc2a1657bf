using Microsoft.Playwright;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Tests.Announcements.Mastodon;
using Syndicator.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace Syndicator.Tests.Web;

/// <summary>
/// The publisher's desk in a real browser against the running app and the loopback Mastodon: find an article, read
/// why its post failed and what to do, retry it, see the text posted, announce it again, hold one, and the pages at
/// a phone's width.
/// </summary>
public sealed class DeskBrowserTests(Chromium chromium) : IClassFixture<Chromium>
{
    private const int TestTimeout = 120_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Desk(StatusServer Server, FakeMastodonServer Mastodon, string TokenVariable) : IAsyncDisposable
    {
        public string Url(string path) => new Uri(Server.Address, path).ToString();

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            await Mastodon.DisposeAsync();
            Environment.SetEnvironmentVariable(TokenVariable, null);
        }
    }

    /// <summary>The app with one Mastodon account on the loopback server, whose token variable holds <paramref name="token"/> (null: the right one).</summary>
    private static async Task<Desk> StartAsync(CancellationToken cancellationToken, string? token = null)
    {
        var mastodon = await FakeMastodonServer.StartAsync();
        var variable = "SYN_TEST_DESK_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, token ?? mastodon.Token);
        var server = await StatusServer.StartAsync(cancellationToken, new()
        {
            ["Site:AllowLocalUrls"] = "true",
            ["Announcements:TemplatesPath"] = Path.Combine(Repo.Root, "config", "templates"),
            ["Announcements:Accounts:0:Name"] = "magazine-mastodon",
            ["Announcements:Accounts:0:Network"] = "Mastodon",
            ["Announcements:Accounts:0:BaseUrl"] = mastodon.BaseUrl,
            ["Announcements:Accounts:0:Credentials:AccessToken"] = "env:" + variable,
        });
        return new Desk(server, mastodon, variable);
    }

    private static async Task<Article> ImportAsync(StatusServer server, string slug, string title, string author, DateTimeOffset? published = null)
    {
        var path = server.Dir.File($"articles/{slug}.md",
            $"---\ntitle: \"{title}\"\nslug: {slug}\nauthor: {author}\ndate: {(published ?? DateTimeOffset.UtcNow.AddHours(-1)):O}\ntags: [Water]\n---\nBody of {slug}.\n");
        var result = await server.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);
        return await server.Get<ArticleStore>().StoredAsync(result.Files[0].Articles[0], Ct);
    }

    private static async Task ClickAsync(IPage page, string name) =>
        await page.Locator("#actions").GetByRole(AriaRole.Button, new() { Name = name, Exact = true }).ClickAsync();

    [Fact(Timeout = TestTimeout)]
    public async Task A_publisher_finds_the_article_reads_why_the_post_failed_retries_it_sees_the_text_posted_and_announces_it_again()
    {
        await using var desk = await StartAsync(TestContext.Current.CancellationToken, token: "a-revoked-token");
        await ImportAsync(desk.Server, "river-rights", "River rights", "Sara Tehrani");
        var article = await ImportAsync(desk.Server, "water-wars", "Water wars 🌊", "Jane Doe");
        var (context, page) = await chromium.NewPageAsync();
        await using var _ = context;

        // Found by search, as a person would.
        await page.GotoAsync(desk.Url("/status"));
        await page.Locator("#q").FillAsync("WATER w");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.Locator("#articles tr[data-article]")).ToHaveCountAsync(1);
        var row = page.Locator("#articles tr[data-article='water-wars']");
        await Expect(row.Locator("[data-account='magazine-mastodon']")).ToHaveAttributeAsync("data-state", "pending");
        await row.GetByRole(AriaRole.Link, new() { Name = "Water wars 🌊" }).ClickAsync();
        Assert.EndsWith("/status/articles/water-wars", page.Url);

        // Before it goes out: the text the announcer will post, rendered now.
        var post = page.Locator("#networks article[data-account='magazine-mastodon']");
        await Expect(post.Locator("pre[data-preview]")).ToContainTextAsync("Water wars 🌊");
        await Expect(post.Locator("pre[data-preview]")).ToContainTextAsync("water-wars");

        // Announced now with a revoked token: Mastodon answers 401, and the page says what to check.
        await ClickAsync(page, "Announce now");
        await Expect(page.Locator("p.notice")).ToContainTextAsync("Announced now");
        await Expect(post).ToHaveAttributeAsync("data-state", "failed");
        await Expect(post.Locator("[data-advice]")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(
            "^Mastodon refused the access token for account magazine-mastodon: check the secret that `Credentials:AccessToken` names\\."));
        await Expect(post.Locator("[data-error]")).ToContainTextAsync("401");
        await post.Locator("details").Last.Locator("summary").ClickAsync();
        await Expect(post.Locator("tr[data-attempt='1']")).ToContainTextAsync("failed");
        Assert.Empty(desk.Mastodon.Posts);

        // The secret fixed, Retry puts it back and Announce now sends it.
        Environment.SetEnvironmentVariable(desk.TokenVariable, desk.Mastodon.Token);
        await post.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        await Expect(page.Locator("p.notice")).ToContainTextAsync("is pending again");
        Assert.Contains("/status/articles/water-wars?retried=", page.Url);
        await Expect(post).ToHaveAttributeAsync("data-state", "pending");
        await ClickAsync(page, "Announce now");
        await Expect(post).ToHaveAttributeAsync("data-state", "sent");
        var sentText = Assert.Single(desk.Mastodon.Posts).Status;
        await Expect(post.Locator("pre[data-posted]")).ToHaveTextAsync(sentText);
        Assert.StartsWith(desk.Mastodon.BaseUrl + "/@magazine/", await post.Locator("a[data-remote]").GetAttributeAsync("href"));
        await Expect(post.Locator("[data-advice]")).ToHaveCountAsync(0);

        // Announced again on purpose: a second, recorded post.
        await page.Locator("#actions select[name='account']").SelectOptionAsync("magazine-mastodon");
        await ClickAsync(page, "Announce again");
        await Expect(page.Locator("p.notice")).ToContainTextAsync("Announced again");
        var posts = page.Locator("#networks article[data-account='magazine-mastodon']");
        await Expect(posts).ToHaveCountAsync(2);
        await Expect(posts.Nth(1)).ToHaveAttributeAsync("data-state", "sent");
        await Expect(posts.Nth(1)).ToContainTextAsync("announced again");
        Assert.Equal(2, desk.Mastodon.Posts.Count);
        var versions = (await desk.Server.Get<DeliveryStore>().ListForSubjectAsync(DeliverySubject.Article(article.Id), Ct)).Select(d => d.Subject.Version);
        Assert.Equal(["", "again-1"], versions.Order());

        Directory.CreateDirectory(Chromium.ScreenshotFolder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.ScreenshotFolder, "desk-article.png"), FullPage = true });
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_held_article_sends_nothing_shows_held_everywhere_and_goes_out_once_let_go()
    {
        await using var desk = await StartAsync(TestContext.Current.CancellationToken);
        var article = await ImportAsync(desk.Server, "embargoed", "Embargoed until Monday", "Jane Doe");
        var (context, page) = await chromium.NewPageAsync();
        await using var _ = context;

        await page.GotoAsync(desk.Url("/status/articles/embargoed"));
        await ClickAsync(page, "Hold");
        await Expect(page.Locator("p.notice")).ToContainTextAsync("Held");
        await Expect(page.Locator("#article .badge.held")).ToHaveCountAsync(1);
        await Expect(page.Locator("#actions").GetByRole(AriaRole.Button, new() { Name = "Announce now" })).ToHaveCountAsync(0);

        // The announcer's run passes it by; the CLI's announce-again refuses it, naming the way out.
        await desk.Server.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Empty(desk.Mastodon.Posts);
        var refused = await desk.Server.Get<AnnounceAgain>().RunAsync(article, null, Ct);
        Assert.Contains("--unhold", refused.Refusal!);

        await page.GotoAsync(desk.Url("/status"));
        await Expect(page.Locator("#articles tr[data-article='embargoed'] .badge.held")).ToHaveCountAsync(1);
        await Expect(page.Locator("#summary [data-count='held'] strong")).ToHaveTextAsync("1");

        await page.GotoAsync(desk.Url("/status/articles/embargoed"));
        await ClickAsync(page, "Let it go (unhold)");
        await Expect(page.Locator("p.notice")).ToContainTextAsync("No longer held");
        await desk.Server.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Single(desk.Mastodon.Posts);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Search_matches_title_slug_and_author_in_any_script_and_takes_wildcards_literally()
    {
        await using var desk = await StartAsync(TestContext.Current.CancellationToken);
        await ImportAsync(desk.Server, "payam", "پیام هشدار", "Sara Tehrani");
        await ImportAsync(desk.Server, "kawa", "川の水 water", "Jane Doe");
        await ImportAsync(desk.Server, "percent", "Fifty percent", "Jane Doe");
        var (context, page) = await chromium.NewPageAsync();
        await using var _ = context;

        async Task<string[]> FindAsync(string query)
        {
            await page.GotoAsync(desk.Url("/status?q=" + Uri.EscapeDataString(query)));
            return (await page.Locator("#articles tr[data-article]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.article)")).Order().ToArray();
        }

        Assert.Equal(["payam"], await FindAsync("tehrani"));
        Assert.Equal(["payam"], await FindAsync("هشدار"));
        Assert.Equal(["kawa"], await FindAsync("川の"));
        Assert.Equal(["kawa"], await FindAsync("KAWA"));
        Assert.Equal(["kawa", "percent"], await FindAsync("jane"));
        Assert.Empty(await FindAsync("%"));
        await Expect(page.Locator("[data-found='0']")).ToContainTextAsync("“%”");
        Assert.Empty(await FindAsync("<script>alert(1)</script>"));
        Assert.Equal("<script>alert(1)</script>", await page.Locator("#q").InputValueAsync());
        Assert.Equal(3, (await FindAsync("")).Length);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task At_a_phones_width_the_front_page_article_page_and_operations_fit_without_sideways_scrolling()
    {
        await using var desk = await StartAsync(TestContext.Current.CancellationToken, token: "wrong");
        var article = await ImportAsync(desk.Server, "a-rather-long-slug-for-a-rather-long-title-that-must-wrap-on-a-phone",
            "A rather long title that must wrap on a phone, with a Persian tail: بحران آب در ایران", "Jane Doe");
        await desk.Server.Get<AnnounceNow>().RunAsync(article, Ct); // fails: a long error and advice to lay out
        var (context, page) = await chromium.NewPageAsync();
        await using var _ = context;
        await page.SetViewportSizeAsync(390, 844);

        foreach (var path in new[] { "/status", $"/status/articles/{article.Slug}", "/status/operations" })
        {
            await page.GotoAsync(desk.Url(path));
            var widths = await page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
            Assert.True(widths[0] <= widths[1], $"{path} is {widths[0]} px wide in a {widths[1]} px viewport");
        }
        await page.GotoAsync(desk.Url($"/status/articles/{article.Slug}"));
        await Expect(page.Locator("[data-advice]")).ToContainTextAsync("magazine-mastodon");
        Directory.CreateDirectory(Chromium.ScreenshotFolder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.ScreenshotFolder, "desk-phone.png"), FullPage = true });
    }
}
