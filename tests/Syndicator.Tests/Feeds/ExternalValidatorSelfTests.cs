using Syndicator.Tests.Support;

namespace Syndicator.Tests.Feeds;

/// <summary>
/// Proves the external validators (Debian's feedparser and jing with RFC 4287's schema) really tell good feeds from
/// bad ones, on hand-written documents, so that "the generated feed passed" means something.
/// </summary>
public sealed class ExternalValidatorSelfTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string ValidAtom = """
        <?xml version="1.0" encoding="utf-8"?>
        <feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
          <title type="text">Example Feed</title>
          <subtitle type="html">A &lt;em&gt;short&lt;/em&gt; subtitle</subtitle>
          <id>urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6</id>
          <updated>2024-03-05T10:15:00Z</updated>
          <link rel="alternate" type="text/html" href="https://example.org/"/>
          <link rel="self" type="application/atom+xml" href="https://example.org/feed.atom"/>
          <author><name>Jane Doe</name><email>jane@example.org</email></author>
          <generator uri="https://example.org/syndicator" version="1.0">Syndicator</generator>
          <entry>
            <title>Atom-Powered Robots Run Amok</title>
            <link rel="alternate" type="text/html" href="https://example.org/2024/03/robots"/>
            <link rel="enclosure" type="audio/mpeg" length="1337" href="https://example.org/robots.mp3"/>
            <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
            <published>2024-03-05T09:00:00+01:00</published>
            <updated>2024-03-05T10:15:00Z</updated>
            <category term="robots" label="Robots"/>
            <summary>Some text.</summary>
            <content type="html">&lt;p&gt;Some &lt;b&gt;bold&lt;/b&gt; text.&lt;/p&gt;</content>
          </entry>
        </feed>
        """;

    private const string ValidRss = """
        <?xml version="1.0" encoding="utf-8"?>
        <rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
          <channel>
            <title>Example Channel</title>
            <link>https://example.org/</link>
            <description>News about examples</description>
            <language>en-gb</language>
            <lastBuildDate>Tue, 05 Mar 2024 10:15:00 GMT</lastBuildDate>
            <atom:link href="https://example.org/rss.xml" rel="self" type="application/rss+xml"/>
            <item>
              <title>First post</title>
              <link>https://example.org/posts/1</link>
              <guid isPermaLink="false">post-1</guid>
              <author>jane@example.org (Jane Doe)</author>
              <category>news</category>
              <category>examples</category>
              <pubDate>Tue, 05 Mar 2024 09:00:00 +0100</pubDate>
              <enclosure url="https://example.org/audio/1.mp3" length="12345" type="audio/mpeg"/>
              <description>&lt;p&gt;Hello &amp;amp; welcome.&lt;/p&gt;</description>
            </item>
            <item>
              <title>Second post</title>
              <link>https://example.org/posts/2</link>
              <guid>https://example.org/posts/2</guid>
              <description>Plain.</description>
            </item>
          </channel>
        </rss>
        """;

    private const string MinimalJsonFeed = """
        {
          "version": "https://jsonfeed.org/version/1.1",
          "title": "Example JSON Feed",
          "home_page_url": "https://example.org/",
          "feed_url": "https://example.org/feed.json",
          "authors": [{ "name": "Jane Doe" }],
          "items": [
            {
              "id": "post-1",
              "url": "https://example.org/posts/1",
              "title": "First post",
              "content_html": "<p>Hello</p>",
              "date_published": "2024-03-05T09:00:00+01:00",
              "tags": ["news"],
              "attachments": [{ "url": "https://example.org/audio/1.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 12345 }],
              "_syndicator": { "source": "test" }
            }
          ]
        }
        """;

    // ------------------------------------------------------------------ jing + RFC 4287 schema

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hand_written_valid_Atom_feed_passes_jing_against_the_RFC_4287_schema()
    {
        using var dir = new TempDir();
        var result = await ExternalFeedValidators.ValidateAtomWithJingAsync(dir.File("feed.atom", ValidAtom), Ct);
        Assert.True(result.Valid, result.ToString());
        Assert.Equal("", result.Errors);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_Atom_feed_without_its_id_fails_jing_naming_the_missing_element()
    {
        using var dir = new TempDir();
        var noId = ValidAtom.Replace("<id>urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6</id>", "", StringComparison.Ordinal);
        Assert.NotEqual(ValidAtom, noId);

        var result = await ExternalFeedValidators.ValidateAtomWithJingAsync(dir.File("feed.atom", noId), Ct);

        Assert.False(result.Valid);
        Assert.Contains("missing required element \"id\"", result.Errors, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_Atom_feed_with_an_element_the_spec_does_not_define_fails_jing()
    {
        using var dir = new TempDir();
        var bogus = ValidAtom.Replace("<summary>Some text.</summary>", "<summary>Some text.</summary><description>Not Atom</description>", StringComparison.Ordinal);
        Assert.NotEqual(ValidAtom, bogus);

        var result = await ExternalFeedValidators.ValidateAtomWithJingAsync(dir.File("feed.atom", bogus), Ct);

        Assert.False(result.Valid);
        Assert.Contains("element \"description\" not allowed", result.Errors, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_Atom_entry_whose_published_date_has_no_time_fails_jing()
    {
        using var dir = new TempDir();
        var dateOnly = ValidAtom.Replace("<published>2024-03-05T09:00:00+01:00</published>", "<published>2024-03-05</published>", StringComparison.Ordinal);
        Assert.NotEqual(ValidAtom, dateOnly);

        var result = await ExternalFeedValidators.ValidateAtomWithJingAsync(dir.File("feed.atom", dateOnly), Ct);

        Assert.False(result.Valid);
        Assert.Contains("published", result.Errors, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_document_that_is_not_well_formed_XML_fails_jing()
    {
        using var dir = new TempDir();
        var broken = ValidAtom.Replace("</entry>", "", StringComparison.Ordinal);

        var result = await ExternalFeedValidators.ValidateAtomWithJingAsync(dir.File("feed.atom", broken), Ct);

        Assert.False(result.Valid);
        Assert.NotEqual("", result.Errors);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_RSS_document_is_not_accepted_as_Atom_by_jing()
    {
        using var dir = new TempDir();
        var result = await ExternalFeedValidators.ValidateAtomWithJingAsync(dir.File("feed.rss", ValidRss), Ct);
        Assert.False(result.Valid);
    }

    // ------------------------------------------------------------------ feedparser

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hand_written_valid_Atom_feed_parses_with_feedparser_as_atom10_without_bozo()
    {
        using var dir = new TempDir();
        var result = await ExternalFeedValidators.AssertFeedparserAcceptsAsync(dir.File("feed.atom", ValidAtom), "atom10", Ct);

        Assert.Equal("Example Feed", result.Title);
        Assert.Equal(1, result.Entries);
        var entry = Assert.IsType<FeedParserEntry>(result.FirstEntry);
        Assert.Equal("urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a", entry.Id);
        Assert.Equal("https://example.org/2024/03/robots", entry.Link);
        Assert.Equal(new DateTimeOffset(2024, 3, 5, 8, 0, 0, TimeSpan.Zero), entry.PublishedParsed);
        Assert.Equal(["robots"], entry.Tags);
        Assert.Equal("text/html", entry.ContentType);
        var enclosure = Assert.Single(entry.Enclosures);
        Assert.Equal(("https://example.org/robots.mp3", "audio/mpeg", "1337"), (enclosure.Href, enclosure.Type, enclosure.Length));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_hand_written_valid_RSS_2_0_feed_parses_with_feedparser_as_rss20_without_bozo()
    {
        using var dir = new TempDir();
        var result = await ExternalFeedValidators.ParseWithFeedparserAsync(dir.File("feed.rss", ValidRss), Ct);

        Assert.False(result.Bozo, result.ToString());
        Assert.Null(result.BozoException);
        Assert.Equal("rss20", result.Version);
        Assert.Equal("Example Channel", result.Title);
        Assert.Equal(2, result.Entries);
        var entry = Assert.IsType<FeedParserEntry>(result.FirstEntry);
        Assert.Equal("post-1", entry.Id);
        Assert.Equal("First post", entry.Title);
        Assert.Equal("https://example.org/posts/1", entry.Link);
        Assert.Equal("jane@example.org (Jane Doe)", entry.Author);
        Assert.Equal("Tue, 05 Mar 2024 09:00:00 +0100", entry.Published);
        Assert.Equal(new DateTimeOffset(2024, 3, 5, 8, 0, 0, TimeSpan.Zero), entry.PublishedParsed);
        Assert.Equal(["news", "examples"], entry.Tags);
        var enclosure = Assert.Single(entry.Enclosures);
        Assert.Equal(("https://example.org/audio/1.mp3", "audio/mpeg", "12345"), (enclosure.Href, enclosure.Type, enclosure.Length));
        Assert.Equal("text/html", entry.ContentType);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Malformed_XML_makes_feedparser_report_bozo_with_the_parser_error()
    {
        using var dir = new TempDir();
        var broken = ValidRss.Replace("</title>\n      <link>https://example.org/posts/1", "\n      <link>https://example.org/posts/1", StringComparison.Ordinal);
        Assert.NotEqual(ValidRss, broken);

        var result = await ExternalFeedValidators.ParseWithFeedparserAsync(dir.File("feed.rss", broken), Ct);

        Assert.True(result.Bozo, result.ToString());
        Assert.NotNull(result.BozoException);
        Assert.Contains("mismatched tag", result.BozoException, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_undeclared_entity_makes_feedparser_report_bozo()
    {
        using var dir = new TempDir();
        var broken = ValidRss.Replace("<description>Plain.</description>", "<description>&nbsp;Plain.</description>", StringComparison.Ordinal);
        Assert.NotEqual(ValidRss, broken);

        var result = await ExternalFeedValidators.ParseWithFeedparserAsync(dir.File("feed.rss", broken), Ct);

        Assert.True(result.Bozo, result.ToString());
    }

    // ------------------------------------------------------------------ JSON Feed

    [Fact]
    public void A_minimal_JSON_Feed_1_1_passes_the_structural_check()
    {
        using var dir = new TempDir();
        var result = ExternalFeedValidators.ValidateJsonFeed(dir.File("feed.json", MinimalJsonFeed));
        Assert.True(result.Valid, result.ToString());
    }

    [Fact]
    public void A_JSON_Feed_with_missing_required_fields_wrong_types_and_bad_dates_fails_the_structural_check()
    {
        using var dir = new TempDir();
        var broken = """
            {
              "version": "https://jsonfeed.org/version/1",
              "items": [
                { "id": 42, "title": "no content", "date_published": "Tue, 05 Mar 2024 09:00:00 +0100" },
                { "id": "b", "content_text": "x", "tags": "news", "attachments": [{ "url": "/relative.mp3" }], "contentHtml": "typo" }
              ]
            }
            """;

        var errors = ExternalFeedValidators.ValidateJsonFeed(dir.File("feed.json", broken)).Errors;

        Assert.Contains(errors, e => e.Contains("version is 'https://jsonfeed.org/version/1'", StringComparison.Ordinal));
        Assert.Contains("feed: title is required", errors);
        Assert.Contains(errors, e => e.StartsWith("items[0]: id must be a string", StringComparison.Ordinal));
        Assert.Contains("items[0]: content_html or content_text is required", errors);
        Assert.Contains(errors, e => e.StartsWith("items[0]: date_published", StringComparison.Ordinal));
        Assert.Contains("items[1]: tags must be an array of strings", errors);
        Assert.Contains("items[1].attachments[0]: mime_type is required", errors);
        Assert.Contains(errors, e => e.StartsWith("items[1].attachments[0]: url '/relative.mp3'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("items[1]: unknown key 'contentHtml'", StringComparison.Ordinal));
    }

    [Fact]
    public void Text_that_is_not_JSON_fails_the_JSON_Feed_check()
    {
        using var dir = new TempDir();
        var result = ExternalFeedValidators.ValidateJsonFeed(dir.File("feed.json", MinimalJsonFeed.TrimEnd()[..^1]));
        Assert.False(result.Valid);
        Assert.StartsWith("not valid JSON", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Feedparser_reads_JSON_Feed_as_json11_when_it_supports_it_and_otherwise_reports_it_unreadable()
    {
        using var dir = new TempDir();
        var result = await ExternalFeedValidators.ParseWithFeedparserAsync(dir.File("feed.json", MinimalJsonFeed), Ct);

        if (result.SupportsJsonFeed)
        {
            Assert.False(result.Bozo, result.ToString());
            Assert.Equal("json11", result.Version);
            Assert.Equal("Example JSON Feed", result.Title);
            Assert.Equal(1, result.Entries);
        }
        else
        {
            // Debian 12's feedparser 6.0.10 has no JSON Feed parser: it tries XML and fails, hence ValidateJsonFeed.
            Assert.True(result.Bozo, result.ToString());
            Assert.Equal("", result.Version);
        }
    }
}
