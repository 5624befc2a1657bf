using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Controls;

/// <summary>
/// announce: false, announceAt, social texts per network and skipAccounts, from front matter, sidecars and JSON,
/// through import, the store (SQLite and PostgreSQL), the planner and the loopback X and Mastodon.
/// </summary>
public sealed class AnnouncementControlTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static async Task<IReadOnlyList<Delivery>> DeliveriesAsync(SocialTestRig rig, Article article) =>
        await rig.App.Get<DeliveryStore>().ListForSubjectAsync(DeliverySubject.Article(article.Id), Ct);

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Announce_false_posts_nothing_says_why_per_account_and_turning_it_back_on_plans_the_posts(StorageProvider provider)
    {
        await using var rig = await SocialTestRig.StartAsync(provider);
        var article = await rig.App.Get<ArticleStore>().StoredAsync((await rig.ImportAsync("kept-off", "announce: false\n")).Articles[0], Ct);
        Assert.False(article.Controls.Announce);

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Empty(rig.X.PostedTexts);
        Assert.Empty(rig.Mastodon.Posts);
        var stored = (await rig.App.Get<ArticleStore>().FindByIdAsync(article.Id, Ct))!;
        Assert.False(stored.Controls.Announce);
        var missed = await rig.App.Get<MissedAnnouncements>().OfAsync([stored], Ct);
        Assert.Equal(["magazine-x", "magazine-mastodon"], missed.Select(m => m.Account.Name));
        Assert.All(missed, m => Assert.Equal(MissedReason.AnnounceOff, m.Reason));
        // Announce now does not overrule the file.
        Assert.NotNull((await rig.App.Get<AnnounceNow>().RunAsync(stored, Ct)).Refusal);
        Assert.Empty(await DeliveriesAsync(rig, stored));

        // The publisher changes their mind: the same file without the line plans both posts.
        await rig.ImportAsync("kept-off", "announce: true\n");
        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Single(rig.X.PostedTexts);
        Assert.Single(rig.Mastodon.Posts);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task AnnounceAt_holds_the_posts_until_that_time_and_moving_it_moves_what_waits(StorageProvider provider)
    {
        await using var rig = await SocialTestRig.StartAsync(provider);
        // 15:30 in Tehran (+03:30) is 12:00 UTC; the article is announced at 14:00 UTC.
        var imported = await rig.ImportAsync("scheduled", "announceAt: 2026-11-20T17:30:00+03:30\n");
        var article = await rig.App.Get<ArticleStore>().StoredAsync(imported.Articles[0], Ct);
        var at = new DateTimeOffset(2026, 11, 20, 14, 0, 0, TimeSpan.Zero);
        Assert.Equal(at, article.Controls.AnnounceAt);
        Assert.All(await DeliveriesAsync(rig, article), d => Assert.Equal(at, d.NextAttemptAt));

        rig.Time.Advance(TimeSpan.FromHours(1));
        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Empty(rig.X.PostedTexts);
        Assert.Empty(rig.Mastodon.Posts);

        // Moved one more hour: the deliveries not tried yet move with it.
        await rig.ImportAsync("scheduled", "announceAt: 2026-11-20T15:00:00Z\n");
        rig.Time.Advance(TimeSpan.FromHours(1.5));
        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Empty(rig.X.PostedTexts);

        rig.Time.Advance(TimeSpan.FromHours(1));
        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Single(rig.X.PostedTexts);
        Assert.Single(rig.Mastodon.Posts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Social_texts_replace_the_template_per_network_keep_the_link_and_are_cleaned_of_control_characters()
    {
        await using var rig = await SocialTestRig.StartAsync();
        var json = """
            {
              "title": "Rivers",
              "date": "2026-11-20T11:59:00Z",
              "url": "https://magazine.example/rivers",
              "body": "Body.",
              "social": {
                "x": "رودخانه‌ها خشک می‌شوند 🌊 — 河流正在干涸\r\nRead on:",
                "mastodon": "A thread-worthy piece\u0007 about rivers\u202E, with the link inline: https://magazine.example/rivers #rivers"
              }
            }
            """;
        var path = rig.App.Dir.File("in/rivers.json", json);
        var file = (await rig.App.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct)).Files[0];
        var article = await rig.App.Get<ArticleStore>().StoredAsync(file.Articles[0], Ct);
        Assert.Contains(article.Warnings, w => w.Contains("'social.mastodon'") && w.Contains("2 control character(s)"));

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        var x = Assert.Single(rig.X.PostedTexts);
        Assert.Equal("رودخانه‌ها خشک می‌شوند 🌊 — 河流正在干涸\nRead on:\n\nhttps://magazine.example/rivers", x);
        var verdict = (await TwitterTextOracle.ParseAsync([x], Ct))[0];
        Assert.True(verdict.Valid);
        Assert.Equal(verdict.WeightedLength, PostLength.Measure(Network.X, x));
        var mastodon = Assert.Single(rig.Mastodon.Posts).Status;
        Assert.Equal("A thread-worthy piece about rivers, with the link inline: https://magazine.example/rivers #rivers", mastodon);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_social_text_over_its_networks_limit_is_dropped_with_a_warning_naming_the_key_and_the_template_writes_the_post()
    {
        await using var rig = await SocialTestRig.StartAsync();
        // 150 CJK characters weigh 300 on X, over 280; on Mastodon (500 characters) the same text fits.
        var cjk = new string('字', 150);
        var file = await rig.ImportAsync("long-social", $"social:\n  x: \"{cjk}\"\n  mastodon: \"{cjk}\"\n  bluesky: \"{new string('a', 6000)}\"\n");

        var article = await rig.App.Get<ArticleStore>().StoredAsync(file.Articles[0], Ct);
        Assert.Null(article.Controls.Texts.X);
        Assert.Equal(cjk, article.Controls.Texts.Mastodon);
        Assert.Null(article.Controls.Texts.Bluesky);
        var xWarning = Assert.Single(article.Warnings, w => w.Contains("'social.x'"));
        Assert.Contains("over its limit of 280", xWarning);
        Assert.False((await TwitterTextOracle.ParseAsync([PostComposer.OwnText(cjk, article.CanonicalUrl.Value)], Ct))[0].Valid);
        Assert.Contains(article.Warnings, w => w.Contains("'social.bluesky'") && w.Contains("6,000 characters"));

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.StartsWith("long-social", Assert.Single(rig.X.PostedTexts)); // the template's post, title first
        Assert.StartsWith(cjk, Assert.Single(rig.Mastodon.Posts).Status);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task SkipAccounts_keeps_the_article_off_the_named_account_and_an_unknown_name_is_a_warning()
    {
        await using var rig = await SocialTestRig.StartAsync();
        var file = await rig.ImportAsync("no-x", "skipAccounts: [magazine-x, magazine-mastdon]\n");
        var article = await rig.App.Get<ArticleStore>().StoredAsync(file.Articles[0], Ct);

        Assert.Contains(article.Warnings, w => w.Contains("\"magazine-mastdon\"") && w.Contains("no account under Announcements:Accounts"));
        var planned = await DeliveriesAsync(rig, article);
        Assert.Equal(["magazine-mastodon"], planned.Select(d => d.Recipient.Id));
        var skipped = Assert.Single(await rig.App.Get<MissedAnnouncements>().OfAsync([article], Ct));
        Assert.Equal(("magazine-x", MissedReason.Skipped), (skipped.Account.Name, skipped.Reason));

        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);
        Assert.Empty(rig.X.PostedTexts);
        Assert.Single(rig.Mastodon.Posts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_sidecar_sets_the_controls_of_a_plain_text_article()
    {
        await using var rig = await SocialTestRig.StartAsync();
        var path = rig.App.Dir.File("in/piece.txt", "A piece\n\nBody.\n");
        rig.App.Dir.File("in/piece.meta.yaml", $"date: {SocialTestRig.Now.AddMinutes(-1):O}\nskip_accounts: magazine-mastodon\nsocial: {{ twitter: \"Our own words\" }}\n");

        await rig.App.Get<ArticleFiles>().ImportPathsAsync([Path.GetDirectoryName(path)!], null, Ct);
        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.StartsWith("Our own words\n\nhttps://", Assert.Single(rig.X.PostedTexts));
        Assert.Empty(rig.Mastodon.Posts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Announce_false_set_after_planning_stops_the_waiting_post_with_a_reason_that_says_how_to_undo_it()
    {
        await using var rig = await SocialTestRig.StartAsync();
        var article = await rig.App.Get<ArticleStore>().StoredAsync((await rig.ImportAsync("changed-mind", "announceAt: 2026-11-20T13:00:00Z\n")).Articles[0], Ct);
        await rig.ImportAsync("changed-mind", "announceAt: 2026-11-20T13:00:00Z\nannounce: false\n");

        rig.Time.Advance(TimeSpan.FromHours(2));
        await rig.App.Get<Announcer>().SendDueAsync(null, Ct);

        Assert.Empty(rig.X.PostedTexts);
        Assert.Empty(rig.Mastodon.Posts);
        Assert.All(await DeliveriesAsync(rig, article), d =>
        {
            Assert.Equal(DeliveryState.Failed, d.State);
            Assert.Contains("announce: false", d.LastError);
            Assert.Contains($"deliveries retry {d.Id}", d.LastError);
        });
    }

    [Theory]
    [InlineData("announce: flase\n", "'announce' is \"flase\"", 4)]
    [InlineData("announce: [x]\n", "'announce' should be a single value", 4)]
    [InlineData("announceAt: 2026-11-20 10:00\n", "not an ISO 8601 time with its offset", 4)]
    [InlineData("announce_at: tomorrow\n", "'announce_at' is \"tomorrow\"", 4)]
    [InlineData("announceAt: 2026-13-45T10:00:00Z\n", "not an ISO 8601 time", 4)]
    [InlineData("social: hello\n", "'social' should hold one text per network", 4)]
    public void A_control_that_could_post_against_the_publishers_wish_refuses_the_file_naming_key_and_line(string line, string expected, int lineNumber)
    {
        var e = Assert.Throws<ArticleRejectedException>(() =>
            MarkdownArticleParser.Parse($"---\ntitle: T\ndate: 2026-11-20T10:00:00Z\n{line}---\nBody.\n", "t.md", "Ed"));
        Assert.Contains(expected, e.Problem);
        Assert.Equal(lineNumber, e.Line);
    }

    [Fact]
    public void Json_and_markdown_read_the_same_controls()
    {
        var markdown = MarkdownArticleParser.Parse("""
            ---
            title: T
            announce: no
            announceAt: 2026-11-21T08:00:00-05:00
            social:
              x: "X words"
              bsky: "Bluesky words"
            skipAccounts: [a, b, a]
            ---
            Body.
            """, "t.md", "Ed");
        var json = JsonArticleParser.Parse("""
            {"title": "T", "body": "Body.", "announce": false, "announce_at": "2026-11-21T13:00:00Z",
             "social": {"twitter": "X words", "bluesky": "Bluesky words"}, "skip_accounts": ["a", "b"]}
            """, "t.json", "Ed")[0];

        var expected = new AnnouncementControls(false, new DateTimeOffset(2026, 11, 21, 13, 0, 0, TimeSpan.Zero), new SocialTexts("X words", null, "Bluesky words"), ["a", "b"]);
        Assert.Equal(expected, markdown.Controls);
        Assert.Equal(expected, json.Controls);
    }
}
