using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Syndicator.Announcements;
using Syndicator.Announcements.Bluesky;

namespace Syndicator.Tests.Announcements.Bluesky;

public sealed class BlueskyRichTextAndRecordTests
{
    private static string Slice(string text, BlueskyFacet facet) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text)[facet.ByteStart..facet.ByteEnd]);

    [Theory]
    // "Hello " 6 bytes + 👋 (U+1F44B, a surrogate pair: 2 UTF-16 units, 4 bytes) + " " 1
    [InlineData("Hello 👋 https://x.example/a", "https://x.example/a", 11)]
    // Persian, 2 bytes a letter: مقاله (5) + space + تازه (4) + ": " = 10 + 1 + 8 + 2
    [InlineData("مقاله تازه: https://m.example/p", "https://m.example/p", 21)]
    // Persian with a zero-width non-joiner (U+200C, 3 bytes): مقاله (10) + ZWNJ (3) + ی (2) + space (1)
    [InlineData("مقاله‌ی https://m.example/p", "https://m.example/p", 16)]
    // a flag (two regional indicators, 8 bytes) + space + Arabic مقال (8) + space + جديد (8) + ": "
    [InlineData("🇮🇷 مقال جديد: https://m.example/ar", "https://m.example/ar", 28)]
    // a ZWJ emoji sequence 👩‍💻 (4 + 3 + 4 bytes) + space
    [InlineData("👩‍💻 https://m.example/dev", "https://m.example/dev", 12)]
    public void The_link_facet_has_UTF8_byte_offsets_covering_exactly_the_URL(string text, string url, int byteStart)
    {
        var link = Assert.Single(BlueskyRichText.Facets(text, url), f => f.Kind == BlueskyFacetKind.Link);

        Assert.Equal(byteStart, link.ByteStart);
        Assert.Equal(byteStart + Encoding.UTF8.GetByteCount(url), link.ByteEnd);
        Assert.Equal(url, Slice(text, link));
        Assert.Equal(url, link.Value);
    }

    [Fact]
    public void Every_occurrence_of_the_URL_is_a_link_and_a_text_without_it_has_none()
    {
        var url = "https://m.example/p";
        var text = $"اقرأ {url} — بخوانید: {url}";

        var links = BlueskyRichText.Facets(text, url);

        Assert.Equal(2, links.Count);
        Assert.All(links, l => Assert.Equal(url, Slice(text, l)));
        Assert.True(links[0].ByteEnd <= links[1].ByteStart);
        Assert.Empty(BlueskyRichText.Facets("no link here", url));
        Assert.Empty(BlueskyRichText.Facets("no link here", null));
    }

    [Fact]
    public void Hashtags_become_tag_facets_without_the_hash_and_trailing_punctuation()
    {
        var text = "Read #Iran, #ایران and #2024 or #كلمة. https://m.example/x#frag #️⃣ mid#word #";

        var tags = BlueskyRichText.Facets(text, "https://m.example/x#frag").Where(f => f.Kind == BlueskyFacetKind.Tag).ToList();

        Assert.Equal(["Iran", "ایران", "كلمة"], tags.Select(t => t.Value));
        Assert.Equal(["#Iran", "#ایران", "#كلمة"], tags.Select(t => Slice(text, t)));
    }

    [Fact]
    public void A_tag_longer_than_64_characters_is_left_as_text()
    {
        Assert.Empty(BlueskyRichText.Facets("#" + new string('a', 65), null));
        Assert.Single(BlueskyRichText.Facets("#" + new string('a', 64), null));
    }

    [Fact]
    public void The_record_key_is_a_TID_derived_from_the_idempotency_key_alone()
    {
        var a = BlueskyRecordKey.FromIdempotencyKey("announce:article-1:magazine-bluesky");

        Assert.Equal(a, BlueskyRecordKey.FromIdempotencyKey("announce:article-1:magazine-bluesky"));
        Assert.NotEqual(a, BlueskyRecordKey.FromIdempotencyKey("announce:article-2:magazine-bluesky"));
        Assert.Matches("^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$", a);
        Assert.True(BlueskyRecordKey.IsValidTid(a));
        var keys = Enumerable.Range(0, 2000).Select(i => BlueskyRecordKey.FromIdempotencyKey($"delivery-{i}")).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.All(keys, k =>
        {
            var at = BlueskyRecordKey.Timestamp(k);
            // 2023-01-01 + 2^46 µs (about 2025-03-25): a plausible past time, never the future
            var start = new DateTimeOffset(2023, 1, 1, 0, 0, 0, TimeSpan.Zero);
            Assert.InRange(at, start, start.AddTicks((1L << BlueskyRecordKey.WindowBits) * 10));
        });
    }

    [Fact]
    public void A_known_TID_round_trips()
    {
        // 2023-01-01T00:00:00Z with clock id 0
        var tid = BlueskyRecordKey.Encode(BlueskyRecordKey.WindowStartMicroseconds << 10);
        Assert.Equal(new DateTimeOffset(2023, 1, 1, 0, 0, 0, TimeSpan.Zero), BlueskyRecordKey.Timestamp(tid));
        Assert.False(BlueskyRecordKey.IsValidTid("abc-def"));
        Assert.False(BlueskyRecordKey.IsValidTid("zzzzzzzzzzzzz")); // top bit set
    }

    [Fact]
    public void A_record_without_language_facets_or_image_has_only_text_date_and_card()
    {
        using var support = new BlueskyTestSupport();
        var record = support.Client().Record(new ComposedPost("plain words", "https://m.example/p", "T", "S", null, null, "k"));

        Assert.Equal(["$type", "text", "createdAt", "embed"], record.Select(p => p.Key));
        Assert.Equal("2026-11-23T08:30:15.250Z", record["createdAt"]!.GetValue<string>());
    }

    [Fact]
    public void The_client_resolves_as_a_typed_HttpClient_and_is_the_Bluesky_client()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IHostEnvironment>(new HostingEnvironment { ContentRootPath = Path.GetTempPath() });
        services.AddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddHttpClient<BlueskyClient>(c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddTransient<ISocialClient>(sp => sp.GetRequiredService<BlueskyClient>());
        using var provider = services.BuildServiceProvider();

        var client = Assert.Single(provider.GetServices<ISocialClient>());

        Assert.Equal(Network.Bluesky, client.Network);
    }
}
