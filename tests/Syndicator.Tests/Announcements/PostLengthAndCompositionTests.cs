using Microsoft.Extensions.Options;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Hosting;
using Syndicator.Tests.Support;
using Syndicator.Shared;

namespace Syndicator.Tests.Announcements;

public sealed class PostLengthAndCompositionTests
{
    [Theory]
    [InlineData("hello", 5)]
    [InlineData("https://magazine.com/a-very-long-slug-that-goes-on-and-on-and-on", 23)]
    [InlineData("read https://t.co/x now", 32)]
    [InlineData("https://magazine.example/abc", 28)] // .example is no TLD X knows: not a link, counted as written
    [InlineData("😀", 2)]
    [InlineData("👨‍👩‍👧‍👦", 2)]
    [InlineData("🇮🇷", 2)]
    [InlineData("日本語", 6)]
    [InlineData("سلام دنیا", 9)]
    [InlineData("ایران", 5)]
    [InlineData("café", 4)]
    public void X_counts_weighted_characters_with_urls_as_23(string text, int expected)
    {
        Assert.Equal(expected, PostLength.Measure(Network.X, text));
    }

    [Theory]
    [InlineData("hello https://magazine.example/a-very-long-slug-that-goes-on-and-on", 29)]
    [InlineData("👨‍👩‍👧‍👦 ok", 4)]
    public void Mastodon_counts_characters_with_urls_as_23(string text, int expected)
    {
        Assert.Equal(expected, PostLength.Measure(Network.Mastodon, text));
    }

    [Theory]
    [InlineData("hello https://magazine.example/abc", 34)]
    [InlineData("👨‍👩‍👧‍👦🇮🇷 سلام", 7)]
    public void Bluesky_counts_graphemes_of_the_text_as_written(string text, int expected)
    {
        Assert.Equal(expected, PostLength.Measure(Network.Bluesky, text));
    }

    private static PostComposer Composer() => new(
        Options.Create(new AnnouncementOptions { TemplatesPath = Path.Combine(Repo.Root, "config", "templates") }),
        Options.Create(new SiteOptions { Title = "M", BaseUrl = "https://magazine.example", Language = "en" }),
        new FixedEnvironment(Repo.Root));

    private static Article Article(string title, string summary, params string[] tags) => new(
        "id-1", Syndicator.Shared.Slug.Parse("slug"), title, summary, "<p>x</p>",
        new Author("a", "Hassan Mahmoudi", null, new SocialHandles("hassan_mahmou1", "hassan@mastodon.example", "hassan.bsky.social")),
        tags, null, Syndicator.Shared.WebUrl.Parse("https://magazine.example/the-iranian-regime-is-losing-its-regional-mystique-and-a-very-long-slug-indeed"),
        null, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "h");

    public static TheoryData<Network, string, string> LongPosts => new()
    {
        { Network.X, "A title", string.Join(' ', Enumerable.Repeat("Persian ایران و عراق and emoji 🇮🇷🙈 words", 40)) },
        { Network.Mastodon, "عنوان طويل جدا " + string.Join(' ', Enumerable.Repeat("كلمة", 30)), string.Join(' ', Enumerable.Repeat("مستقبل العراق بعد الانتخابات 😀", 60)) },
        { Network.Bluesky, string.Join(' ', Enumerable.Repeat("Title", 80)), string.Join(' ', Enumerable.Repeat("Emoji 👨‍👩‍👧‍👦 family", 80)) },
        { Network.X, string.Join(' ', Enumerable.Repeat("日本語のタイトル", 40)), "short" },
    };

    [Theory, MemberData(nameof(LongPosts))]
    public void A_long_post_is_trimmed_to_the_networks_limit_at_a_word_boundary_and_keeps_the_whole_url(Network network, string title, string summary)
    {
        var article = Article(title, summary, "Middle East", "Iraq");
        var post = Composer().Compose(article, new SocialAccount { Name = "a", Network = network }, "k");

        Assert.True(PostLength.Measure(network, post.Text) <= PostLength.Limit(network), $"{PostLength.Measure(network, post.Text)} > {PostLength.Limit(network)}: {post.Text}");
        Assert.Contains(article.CanonicalUrl, post.Text);
        Assert.Contains("…", post.Text);
        Assert.DoesNotContain("\uFFFD", post.Text);
    }

    [Fact]
    public void A_short_post_carries_title_handle_summary_url_and_hashtags()
    {
        var post = Composer().Compose(Article("Short title", "A short summary.", "Middle East", "Iraq"), new SocialAccount { Name = "a", Network = Network.X }, "k");

        Assert.Equal("Short title by @hassan_mahmou1\n\nA short summary.\n\nhttps://magazine.example/the-iranian-regime-is-losing-its-regional-mystique-and-a-very-long-slug-indeed #MiddleEast #Iraq", post.Text);
    }

    [Fact]
    public void The_sample_articles_summary_never_carries_the_bio_caption_or_comment_line()
    {
        var draft = PlainTextArticleParser.Parse(File.ReadAllText(Repo.SampleArticle), "s.txt", "Ed");
        var article = Article(draft.Title, draft.Summary!);
        foreach (var network in Enum.GetValues<Network>())
        {
            var post = Composer().Compose(article, new SocialAccount { Name = "a", Network = network }, "k");
            Assert.DoesNotContain("social analyst", post.Text);
            Assert.DoesNotContain("YouTube screengrab", post.Text);
            Assert.DoesNotContain("To comment", post.Text);
            Assert.DoesNotContain("technical problems", post.Text);
            Assert.StartsWith("The Iranian regime is losing its regional mystique", post.Text);
        }
    }

    internal sealed class FixedEnvironment(string root) : Microsoft.Extensions.Hosting.IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Test";
        public string ApplicationName { get; set; } = "syndicator";
        public string ContentRootPath { get; set; } = root;
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = null!;
    }
}
