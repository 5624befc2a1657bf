using System.ServiceModel.Syndication;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Xml;
using System.Xml.Linq;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Feeds;
using Syndicator.Shared;

namespace Syndicator.Tests.Feeds;

/// <summary>
/// The feed writers splice entries rendered once per article into each document. Their bytes must be exactly what
/// System.ServiceModel.Syndication's formatters (and the single-pass JSON writer) produced before, for every edge an
/// article can have: the reference implementations below are the previous writers, kept here as the oracle.
/// </summary>
public sealed class FeedWriterEquivalenceTests
{
    private static readonly DateTimeOffset At = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static FeedLinks Links(bool extras) => new(
        Options.Create(new SiteOptions { BaseUrl = "https://mag.example", Title = "Mag & <Co> \"مجله\"", Language = "fa", DefaultAuthor = "Desk 🖋" }),
        Options.Create(extras ? new FeedOptions { IconUrl = "https://mag.example/icon.png", Hubs = ["https://hub.example", "https://hub2.example/p?a=1&b=2"] } : new FeedOptions()));

    private static Article Article(int n, string title, string summary, string body, ArticleImage? image, WebUrl? comments, DateTimeOffset published, DateTimeOffset updated, params string[] tags) => new(
        $"0190{n:D4}-0000-7000-8000-000000000000", Slug.FromText("piece " + n), title, summary, body,
        new Author("au" + n, n % 2 == 0 ? "Ali \"A\" <a> & Co" : "حسن محمودی", null, new SocialHandles(null, null, null)), tags, image,
        WebUrl.Parse($"https://mag.example/p/{n}?a=1&b=2"), comments, published, updated, "hash" + n);

    private static IReadOnlyList<Article> Articles() =>
    [
        Article(1, "سلام & <b>😀</b> \"q\" 'x'", "Summary\u2028line > x", "<p>Body &amp; <em>x</em>\r\n]]> \t</p>\n<p>二</p>",
            new ArticleImage(WebUrl.Parse("https://img.example/a%20b.webp?x=1&y=2"), "Caption & \"cap\"", "Credit <c>"), WebUrl.Parse("https://mag.example/c#x"),
            At, At.AddDays(1), "C#", "شعر", "日本 & <tag>"),
        Article(2, "Empty summary and body", "", "", null, null, At.AddHours(1), At, "solo"),
        Article(3, "Image without caption 🇮🇷", "s", "<p>x</p>", new ArticleImage(WebUrl.Parse("https://img.example/p.png"), null, "AP"), null,
            new DateTimeOffset(2025, 3, 21, 12, 30, 0, TimeSpan.FromHours(3.5)), new DateTimeOffset(2025, 3, 22, 1, 0, 0, TimeSpan.FromHours(-5))),
        Article(4, "Control\u0001 chars\u000B in text, a lone \uD800 surrogate and \uFFFE", "sum\u0008", "<p>bad\u001F</p>", new ArticleImage(WebUrl.Parse("https://img.example/photo"), "Only caption", null), null,
            At.AddYears(-3), At.AddYears(-3), "مستقبل"),
        Article(5, "No tags", "—", new string('x', 20_000), null, WebUrl.Parse("https://comments.example/t/5"), At.AddMinutes(5), At.AddMinutes(5)),
    ];

    public static TheoryData<int?, int, int, bool> Documents => new()
    {
        { null, 0, 5, true }, { null, 3, 5, false }, { 1, 3, 2, true }, { 2, 3, 5, false }, { 3, 3, 1, true }, { null, 0, 0, true }, { null, 0, 0, false }, { 2, 2, 0, false },
    };

    [Theory, MemberData(nameof(Documents))]
    public void Every_format_is_byte_for_byte_what_the_reference_writers_produce(int? archivePage, int completePages, int items, bool extras)
    {
        var links = Links(extras);
        foreach (var scope in new[] { FeedScope.Site, new FeedScope(FeedKind.Tag, "C# & .NET", Slug.FromText("c-sharp-net"), "C# & .NET"), new FeedScope(FeedKind.Author, "au1", Slug.FromText("hassan"), "حسن محمودی") })
        {
            var document = new FeedDocument(scope, Articles().Take(items).ToList(), archivePage, completePages);
            var page = document.Render(new FeedEntryRenderer());
            Assert.Equal(Encoding.UTF8.GetString(ReferenceSyndication.Rss(document, links)), Encoding.UTF8.GetString(SyndicationWriter.Rss(page, links).ToArray()));
            Assert.Equal(Encoding.UTF8.GetString(ReferenceSyndication.Atom(document, links)), Encoding.UTF8.GetString(SyndicationWriter.Atom(page, links).ToArray()));
            Assert.Equal(Encoding.UTF8.GetString(ReferenceJsonFeed.Write(document, links)), Encoding.UTF8.GetString(JsonFeedWriter.Write(page, links).ToArray()));
        }
    }

    /// <summary>
    /// An incremental build takes unchanged entries back out of the files it wrote (<see cref="WrittenEntries"/>): each
    /// must come out byte for byte as rendered, whatever the document around it and whatever the article holds,
    /// including text that reads like another entry's start in each format.
    /// </summary>
    [Theory, MemberData(nameof(Documents))]
    public void Entries_cut_out_of_written_documents_are_the_rendered_bytes(int? archivePage, int completePages, int items, bool extras)
    {
        var links = Links(extras);
        var lookalike = "\n    <item>\n      <guid isPermaLink=\"false\">urn:uuid:0190" + "\n  <entry>\n    <id>urn:uuid:0190" + "\n    {\n      \"id\": \"urn:uuid:0190";
        var articles = Articles().Take(items)
            .Append(Article(6, lookalike, lookalike, "<p>" + lookalike + "</p>", null, null, At.AddDays(2), At.AddDays(2), lookalike))
            .ToList();
        var scope = new FeedScope(FeedKind.Tag, "北京 🚀", Slug.FromText("北京"), "北京 🚀");
        var page = new FeedDocument(scope, articles, archivePage, completePages).Render(new FeedEntryRenderer());

        var written = new WrittenEntries();
        written.Add(SyndicationWriter.Rss(page, links).ToArray(), SyndicationWriter.Atom(page, links).ToArray(), JsonFeedWriter.Write(page, links).ToArray());

        Assert.Equal(articles.Count, written.Count);
        foreach (var entry in page.Entries)
        {
            var found = written.Find(entry.ArticleId, entry.Updated);
            Assert.NotNull(found);
            Assert.Equal(entry.Rss, found.Rss);
            Assert.Equal(entry.Atom, found.Atom);
            Assert.Equal(entry.Json, found.Json);
        }
    }

    [Fact]
    public void A_file_not_shaped_as_written_gives_no_entries_and_an_id_that_needs_escaping_is_never_taken()
    {
        var links = Links(extras: true);
        var page = new FeedDocument(FeedScope.Site, Articles(), null, 0).Render(new FeedEntryRenderer());
        var rss = SyndicationWriter.Rss(page, links).ToArray();
        var atom = SyndicationWriter.Atom(page, links).ToArray();
        var json = JsonFeedWriter.Write(page, links).ToArray();

        // Cut short (a file being replaced by another program, a disk error): nothing is taken from it.
        var cut = new WrittenEntries();
        cut.Add(rss[..(rss.Length / 2)], atom[..^1], json[..^3]);
        Assert.Equal(0, cut.Count);
        Assert.Null(cut.Find(page.Entries[0].ArticleId, page.Entries[0].Updated));

        // An entry missing from one format is not found at all, so the three formats never disagree.
        var partial = new WrittenEntries();
        partial.Add(rss, atom, null);
        Assert.Null(partial.Find(page.Entries[0].ArticleId, page.Entries[0].Updated));

        // An id with characters XML or JSON would escape (say "a&amp;b" beside "a&b") is rendered, never matched by its escaped form.
        var odd = Article(7, "t", "s", "<p>b</p>", null, null, At, At) with { Id = "a&b" };
        var oddPage = new FeedDocument(FeedScope.Site, [odd], null, 0).Render(new FeedEntryRenderer());
        var oddWritten = new WrittenEntries();
        oddWritten.Add(SyndicationWriter.Rss(oddPage, links).ToArray(), SyndicationWriter.Atom(oddPage, links).ToArray(), JsonFeedWriter.Write(oddPage, links).ToArray());
        Assert.Null(oddWritten.Find("a&amp;b", At));
        Assert.Null(oddWritten.Find("a&b", At));
    }

    private static DateTimeOffset Updated(FeedDocument document) =>
        document.Items.Count == 0 ? DateTimeOffset.UnixEpoch : document.Items.Max(a => a.UpdatedAt > a.PublishedAt ? a.UpdatedAt : a.PublishedAt);

    private static class ReferenceSyndication
    {
        private static readonly XmlWriterSettings Settings = new() { Encoding = new UTF8Encoding(false), Indent = true, Async = false };

        public static byte[] Rss(FeedDocument document, FeedLinks links) => Write(document, links, rss: true);

        public static byte[] Atom(FeedDocument document, FeedLinks links) => Write(document, links, rss: false);

        private static byte[] Write(FeedDocument document, FeedLinks links, bool rss)
        {
            var scope = document.Scope;
            var file = rss ? FeedPaths.Rss : FeedPaths.Atom;
            var mediaType = rss ? "application/rss+xml" : "application/atom+xml";
            var self = links.Url(scope, document.ArchivePage, file);
            var feed = new SyndicationFeed(links.Title(scope), links.Description(scope), new Uri(links.SiteUrl))
            {
                Id = self,
                Language = links.Site.Language,
                LastUpdatedTime = Updated(document),
                Generator = FeedLinks.Generator,
            };
            if (links.Options.IconUrl is { } icon) feed.ImageUrl = new Uri(icon);
            foreach (var (rel, href, type) in FeedLevelLinks(document, links, file, mediaType))
            {
                // RSS 2.0 has no element for these, so they go in as atom:link, as RSS readers and WebSub expect.
                if (rss) feed.ElementExtensions.Add(AtomLink(rel, href, type));
                else feed.Links.Add(new SyndicationLink(new Uri(href), rel, null, type, 0));
            }

            if (rss)
            {
                feed.AttributeExtensions.Add(new XmlQualifiedName("atom", Ns.Xmlns), Ns.Atom);
                feed.AttributeExtensions.Add(new XmlQualifiedName("content", Ns.Xmlns), Ns.Content);
                feed.AttributeExtensions.Add(new XmlQualifiedName("dc", Ns.Xmlns), Ns.DublinCore);
            }
            feed.AttributeExtensions.Add(new XmlQualifiedName("media", Ns.Xmlns), Ns.Media);
            if ((document.ArchivePage is not null))
            {
                feed.AttributeExtensions.Add(new XmlQualifiedName("fh", Ns.Xmlns), Ns.History);
                feed.ElementExtensions.Add(new XElement(XName.Get("archive", Ns.History)));
            }
            else if (document.Items.Count == 0 && !rss)
            {
                // Atom requires an author on every entry or on the feed; an empty feed carries the site's.
                feed.Authors.Add(new SyndicationPerson { Name = links.Site.DefaultAuthor });
            }

            feed.Items = document.Items.Select(a => Item(a, rss)).ToList();

            using var stream = new MemoryStream();
            using (var writer = XmlWriter.Create(stream, Settings))
            {
                if (rss) new Rss20FeedFormatter(feed, serializeExtensionsAsAtom: false).WriteTo(writer);
                else new Atom10FeedFormatter(feed).WriteTo(writer);
            }
            return stream.ToArray();
        }

        // self, hub (WebSub) and the RFC 5005 paging links: prev-archive from the current feed; current, prev- and next-archive from archive pages.
        private static IEnumerable<(string Rel, string Href, string? Type)> FeedLevelLinks(FeedDocument document, FeedLinks links, string file, string mediaType)
        {
            yield return ("self", links.Url(document.Scope, document.ArchivePage, file), mediaType);
            foreach (var hub in links.Options.Hubs) yield return ("hub", hub, null);
            if (document.ArchivePage is not { } page)
            {
                if (document.CompletePages > 0) yield return ("prev-archive", links.Url(document.Scope, document.CompletePages, file), mediaType);
                yield break;
            }
            yield return ("current", links.Url(document.Scope, null, file), mediaType);
            if (page > 1) yield return ("prev-archive", links.Url(document.Scope, page - 1, file), mediaType);
            if (page < document.CompletePages) yield return ("next-archive", links.Url(document.Scope, page + 1, file), mediaType);
        }

        private static XElement AtomLink(string rel, string href, string? type)
        {
            var link = new XElement(XName.Get("link", Ns.Atom), new XAttribute("rel", rel), new XAttribute("href", href));
            if (type is not null) link.Add(new XAttribute("type", type));
            return link;
        }

        private static SyndicationItem Item(Article article, bool rss)
        {
            var item = new SyndicationItem
            {
                Id = "urn:uuid:" + article.Id,
                Title = new TextSyndicationContent(XmlChars.Clean(article.Title)),
                Summary = new TextSyndicationContent(XmlChars.Clean(article.Summary)),
                PublishDate = article.PublishedAt,
                LastUpdatedTime = article.UpdatedAt > article.PublishedAt ? article.UpdatedAt : article.PublishedAt,
            };
            item.Links.Add(SyndicationLink.CreateAlternateLink(article.CanonicalUrl.ToUri(), "text/html"));
            foreach (var tag in article.Tags) item.Categories.Add(new SyndicationCategory(XmlChars.Clean(tag)));

            var body = XmlChars.Clean(article.BodyHtml);
            var author = XmlChars.Clean(article.Author.Name);
            if (rss)
            {
                item.ElementExtensions.Add(new XElement(XName.Get("creator", Ns.DublinCore), author));
                item.ElementExtensions.Add(new XElement(XName.Get("encoded", Ns.Content), body));
                if (article.CommentUrl is { } comments) item.ElementExtensions.Add(new XElement("comments", comments.Value));
            }
            else
            {
                item.Authors.Add(new SyndicationPerson { Name = author });
                item.Content = new TextSyndicationContent(body, TextSyndicationContentKind.Html);
                if (article.CommentUrl is { } comments) item.Links.Add(new SyndicationLink(comments.ToUri(), "replies", null, "text/html", 0));
            }

            if (article.Image?.Url is { } imageUrl)
            {
                var type = FeedLinks.ImageType(imageUrl);
                var enclosure = SyndicationLink.CreateMediaEnclosureLink(imageUrl.ToUri(), type, 0);
                if (article.Image.Caption is { } caption && !rss) enclosure.Title = XmlChars.Clean(caption);
                item.Links.Add(enclosure);
                var media = new XElement(XName.Get("content", Ns.Media), new XAttribute("url", imageUrl.Value), new XAttribute("medium", "image"), new XAttribute("type", type));
                if (article.Image.Caption is { } text) media.Add(new XElement(XName.Get("description", Ns.Media), XmlChars.Clean(text)));
                if (article.Image.Credit is { } credit) media.Add(new XElement(XName.Get("credit", Ns.Media), XmlChars.Clean(credit)));
                item.ElementExtensions.Add(media);
            }
            return item;
        }
    }

    private static class ReferenceJsonFeed
    {
        private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        public static byte[] Write(FeedDocument document, FeedLinks links)
        {
            var scope = document.Scope;
            using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream, Options))
            {
                json.WriteStartObject();
                json.WriteString("version", "https://jsonfeed.org/version/1.1");
                json.WriteString("title", links.Title(scope));
                json.WriteString("home_page_url", links.SiteUrl);
                json.WriteString("feed_url", links.Url(scope, document.ArchivePage, FeedPaths.Json));
                json.WriteString("description", links.Description(scope));
                json.WriteString("language", links.Site.Language);
                if (links.Options.IconUrl is { } icon) json.WriteString("icon", icon);
                var older = document.ArchivePage is { } page ? (page > 1 ? page - 1 : (int?)null) : (document.CompletePages > 0 ? document.CompletePages : null);
                if (older is not null) json.WriteString("next_url", links.Url(scope, older, FeedPaths.Json));
                if (links.Options.Hubs.Count > 0)
                {
                    json.WriteStartArray("hubs");
                    foreach (var hub in links.Options.Hubs)
                    {
                        json.WriteStartObject();
                        json.WriteString("type", "WebSub");
                        json.WriteString("url", hub);
                        json.WriteEndObject();
                    }
                    json.WriteEndArray();
                }
                json.WriteStartArray("items");
                foreach (var article in document.Items) WriteItem(json, article);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            return stream.ToArray();
        }

        private static void WriteItem(Utf8JsonWriter json, Article article)
        {
            json.WriteStartObject();
            json.WriteString("id", "urn:uuid:" + article.Id);
            json.WriteString("url", article.CanonicalUrl.Value);
            json.WriteString("title", article.Title);
            json.WriteString("content_html", article.BodyHtml);
            json.WriteString("summary", article.Summary);
            if (article.Image?.Url is { } image) json.WriteString("image", image.Value);
            json.WriteString("date_published", article.PublishedAt.ToString("yyyy-MM-dd'T'HH:mm:ssK"));
            json.WriteString("date_modified", (article.UpdatedAt > article.PublishedAt ? article.UpdatedAt : article.PublishedAt).ToString("yyyy-MM-dd'T'HH:mm:ssK"));
            json.WriteStartArray("authors");
            json.WriteStartObject();
            json.WriteString("name", article.Author.Name);
            json.WriteEndObject();
            json.WriteEndArray();
            if (article.Tags.Count > 0)
            {
                json.WriteStartArray("tags");
                foreach (var tag in article.Tags) json.WriteStringValue(tag);
                json.WriteEndArray();
            }
            if (article.Image?.Url is { } url)
            {
                json.WriteStartArray("attachments");
                json.WriteStartObject();
                json.WriteString("url", url.Value);
                json.WriteString("mime_type", FeedLinks.ImageType(url));
                if (article.Image.Caption is { } caption) json.WriteString("title", caption);
                json.WriteEndObject();
                json.WriteEndArray();
            }
            if (article.CommentUrl is not null || article.Image?.Caption is not null)
            {
                // JSON Feed has no place for these; its extension convention is a key starting with an underscore.
                json.WriteStartObject("_syndicator");
                if (article.CommentUrl is { } comments) json.WriteString("comments_url", comments.Value);
                if (article.Image?.Caption is { } caption) json.WriteString("image_caption", caption);
                if (article.Image?.Credit is { } credit) json.WriteString("image_credit", credit);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
    }

    private static class Ns
    {
        public const string Atom = "http://www.w3.org/2005/Atom";
        public const string Content = "http://purl.org/rss/1.0/modules/content/";
        public const string DublinCore = "http://purl.org/dc/elements/1.1/";
        public const string Media = "http://search.yahoo.com/mrss/";
        public const string History = "http://purl.org/syndication/history/1.0";
        public const string Xmlns = "http://www.w3.org/2000/xmlns/";
    }
}
