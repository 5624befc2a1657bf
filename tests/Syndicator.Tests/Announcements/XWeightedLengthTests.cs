using Microsoft.Extensions.Options;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Hosting;
using Syndicator.Shared;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements;

/// <summary>Our X length against X's own twitter-text (npm), the oracle, on texts and on every post we compose.</summary>
public sealed class XWeightedLengthTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Titles in Latin, Arabic, Persian (with ZWNJ), Hebrew, Cyrillic, CJK, Hindi, and emoji: ZWJ sequences, flags, skin tones, keycaps.</summary>
    public static readonly string[] Titles =
    [
        "The Iranian regime is losing its regional mystique",
        "Café société: l'été où tout a changé",
        "رژیم ایران در حال از دست دادن جذابیت منطقه‌ای خود است",
        "نقش ایران در خاورمیانه؛ می‌خواهم بدانم چرا",
        "الحرب في اليمن: ما الذي تغير؟",
        "מה קרה בירושלים",
        "Почему это важно для Европы",
        "中国经济的未来与挑战",
        "日本の選挙：何が変わるのか",
        "한국 정치의 새로운 장",
        "भारत में चुनाव: क्या बदलेगा",
        "Family 👨‍👩‍👧‍👦 and flags 🇮🇷🇺🇦 and thumbs 👍🏽👍🏿",
        "Keycap 1️⃣ heart ❤️ rainbow flag 🏳️‍🌈 technologist 👩🏽‍💻",
        "C++ and C# & F#: 𝕄𝕒𝕥𝕙 and 𠜎𠜱 ext-B",
        "Links in a title: example.com, sub.example.org/path and https://t.co/abc123",
        "Dots... and an e-mail jane@example.com, not a link",
    ];

    /// <summary>Texts as they may reach the counter: raw IRIs, percent-encoded URIs, IDNs, bare domains, .example (no TLD X knows).</summary>
    public static readonly string[] Texts =
    [
        "hello",
        "read https://magazine.com/نقش-ایران now",
        "read https://magazine.com/%D9%86%D9%82%D8%B4 now",
        "https://magazine.example/a-very-long-slug-that-goes-on-and-on-and-on",
        "https://www.bücher.de/ein-buch and https://xn--bcher-kva.de/ein-buch",
        "مقاله https://magazine.ir/رژیم-ایران را بخوانید",
        "visit example.com/path?q=1#frag, then t.co/x and https://t.co/abcdefghijklmnopqrstuvwxyz0123456789abcdefgh",
        "\uFEFF zero width no-break space is refused by X",
        "👨‍👩‍👧‍👦🇮🇷👍🏽 ok",
        new string('a', 280),
        new string('a', 281),
        string.Concat(Enumerable.Repeat("中", 141)),
        "",
    ];

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task X_weighted_length_and_validity_equal_twitter_text_on_a_corpus_of_scripts_emoji_and_urls()
    {
        string[] corpus = [.. Texts, .. Titles];
        var oracle = await TwitterTextOracle.ParseAsync(corpus, Ct);
        for (var i = 0; i < corpus.Length; i++)
        {
            var (length, valid) = PostLength.XParse(corpus[i]);
            Assert.True(oracle[i].WeightedLength == length, $"\"{corpus[i]}\": twitter-text weighs {oracle[i].WeightedLength}, we computed {length}");
            Assert.True(oracle[i].Valid == valid, $"\"{corpus[i]}\": twitter-text says valid={oracle[i].Valid}, we said {valid}");
        }
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Every_composed_X_post_weighs_what_twitter_text_says_fits_280_and_links_the_whole_article_url()
    {
        var composer = Composer();
        var account = new SocialAccount { Name = "x", Network = Network.X };
        var articles = Titles.SelectMany(title => new[]
        {
            Article(title, title, ["Iran", "C++"]),
            Article(title, string.Join(' ', Enumerable.Repeat(title, 12)), ["Middle East", "سیاست", "中国"]),
        }).ToList();
        var posts = articles.Select(a => composer.Compose(a, account, "k")).ToList();

        var oracle = await TwitterTextOracle.ParseAsync(posts.Select(p => p.Text).ToList(), Ct);
        for (var i = 0; i < posts.Count; i++)
        {
            Assert.True(oracle[i].WeightedLength == PostLength.Measure(Network.X, posts[i].Text),
                $"post {i}: twitter-text weighs {oracle[i].WeightedLength}, we computed {PostLength.Measure(Network.X, posts[i].Text)}:\n{posts[i].Text}");
            Assert.True(oracle[i].Valid, $"post {i} is not a valid post for X ({oracle[i].WeightedLength}):\n{posts[i].Text}");
            // X links the whole article URL, not just the host: the slug in any script is percent-encoded.
            Assert.Contains(articles[i].CanonicalUrl.Value, oracle[i].Urls);
        }
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_Persian_slug_is_percent_encoded_so_X_links_the_article_not_the_home_page()
    {
        var title = "رژیم ایران در حال از دست دادن جذابیت منطقه‌ای خود است";
        var url = WebUrl.Combine("https://magazine.com", Slug.FromText(title));
        Assert.StartsWith("https://magazine.com/%D8%B1%DA%98%DB%8C%D9%85-", url.Value);

        var raw = $"{title}\n\nhttps://magazine.com/{Slug.FromText(title).Value}";
        var encoded = $"{title}\n\n{url.Value}";
        var oracle = await TwitterTextOracle.ParseAsync([raw, encoded], Ct);
        // The raw IRI is what the tester saw: X links only part of it; the URI form is one link of 23.
        Assert.DoesNotContain(raw[(title.Length + 2)..], oracle[0].Urls);
        Assert.Equal([url.Value], oracle[1].Urls);
        Assert.Equal(oracle[1].WeightedLength, PostLength.Measure(Network.X, encoded));
        Assert.Equal(oracle[0].WeightedLength, PostLength.Measure(Network.X, raw));
    }

    private static PostComposer Composer() => new(
        Options.Create(new AnnouncementOptions { TemplatesPath = Path.Combine(Repo.Root, "config", "templates") }),
        Options.Create(new SiteOptions { Title = "M", BaseUrl = "https://magazine.com", Language = "en" }),
        new PostLengthAndCompositionTests.FixedEnvironment(Repo.Root));

    private static Article Article(string title, string summary, IReadOnlyList<string> tags) => new(
        "id-1", Slug.FromText(title), title, summary, "<p>x</p>",
        new Author("a", "Hassan Mahmoudi", null, new SocialHandles("hassan_mahmou1", null, null)),
        tags, null, WebUrl.Combine("https://magazine.com", Slug.FromText(title)), null, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "h");
}
