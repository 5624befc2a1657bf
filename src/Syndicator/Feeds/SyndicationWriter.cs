using System.Globalization;
using System.Xml;
using Syndicator.Articles;

namespace Syndicator.Feeds;

/// <summary>
/// RSS 2.0 and Atom 1.0 documents. A document is its head (written here per document: titles, paging links) and
/// its entries, rendered once per article by <see cref="FeedEntryRenderer"/> and copied in as bytes. The markup is
/// what System.ServiceModel.Syndication's formatters wrote before (the feed tests compare the two); RSS has no place
/// for full content, authors without e-mail or paging links, so those go in the content, Dublin Core and Atom namespaces.
/// </summary>
public static class SyndicationWriter
{
    internal static readonly byte[] RssEnd = "\n  </channel>\n</rss>"u8.ToArray();
    internal static readonly byte[] AtomEnd = "\n</feed>"u8.ToArray();

    public static FeedFileBytes Rss(FeedDocument document, FeedLinks links) => Rss(document.Render(new FeedEntryRenderer()), links);

    public static FeedFileBytes Atom(FeedDocument document, FeedLinks links) => Atom(document.Render(new FeedEntryRenderer()), links);

    public static FeedFileBytes Rss(FeedPage page, FeedLinks links) => Splice(Head(page, links, rss: true), page.Entries, e => e.Rss, RssEnd);

    public static FeedFileBytes Atom(FeedPage page, FeedLinks links) => Splice(Head(page, links, rss: false), page.Entries, e => e.Atom, AtomEnd);

    private static FeedFileBytes Splice(byte[] head, IReadOnlyList<FeedEntry> entries, Func<FeedEntry, byte[]> format, byte[] end)
    {
        var parts = new ReadOnlyMemory<byte>[entries.Count + 2];
        parts[0] = head;
        for (var i = 0; i < entries.Count; i++) parts[i + 1] = format(entries[i]);
        parts[^1] = end;
        return new FeedFileBytes(parts);
    }

    /// <summary>Everything before the first entry.</summary>
    private static byte[] Head(FeedPage page, FeedLinks links, bool rss)
    {
        var scope = page.Scope;
        var file = rss ? FeedPaths.Rss : FeedPaths.Atom;
        var mediaType = rss ? "application/rss+xml" : "application/atom+xml";
        var title = links.Title(scope);
        var siteUrl = new Uri(links.SiteUrl).AbsoluteUri;
        var icon = links.Options.IconUrl is { } i ? new Uri(i).AbsoluteUri : null;
        using var stream = new MemoryStream();
        using var xml = XmlWriter.Create(stream, FeedEntryRenderer.XmlSettings);
        if (rss)
        {
            xml.WriteStartElement("rss");
            xml.WriteAttributeString("version", "2.0");
            xml.WriteStartElement("channel");
            xml.WriteAttributeString("xmlns", "atom", null, FeedNamespaces.Atom);
            xml.WriteAttributeString("xmlns", "content", null, FeedNamespaces.Content);
            xml.WriteAttributeString("xmlns", "dc", null, FeedNamespaces.DublinCore);
            xml.WriteAttributeString("xmlns", "media", null, FeedNamespaces.Media);
            if (page.IsArchive) xml.WriteAttributeString("xmlns", "fh", null, FeedNamespaces.History);
            xml.WriteElementString("title", title);
            xml.WriteElementString("link", siteUrl);
            xml.WriteElementString("description", links.Description(scope));
            xml.WriteElementString("language", links.Site.Language);
            xml.WriteElementString("lastBuildDate", RssDate(page.Updated));
            xml.WriteElementString("generator", FeedLinks.Generator);
            if (icon is not null)
            {
                xml.WriteStartElement("image");
                xml.WriteElementString("url", icon);
                xml.WriteElementString("title", title);
                xml.WriteElementString("link", siteUrl);
                xml.WriteEndElement();
            }
            // RSS 2.0 has no element for these, so they go in as atom:link, as RSS readers and WebSub expect.
            foreach (var (rel, href, type) in FeedLevelLinks(page, links, file, mediaType))
            {
                xml.WriteStartElement("atom", "link", FeedNamespaces.Atom);
                xml.WriteAttributeString("rel", rel);
                xml.WriteAttributeString("href", href);
                if (type is not null) xml.WriteAttributeString("type", type);
                xml.WriteEndElement();
            }
            if (page.IsArchive)
            {
                xml.WriteStartElement("fh", "archive", FeedNamespaces.History);
                xml.WriteEndElement();
            }
        }
        else
        {
            xml.WriteStartElement("feed", FeedNamespaces.Atom);
            xml.WriteAttributeString("xml", "lang", null, links.Site.Language);
            xml.WriteAttributeString("xmlns", "media", null, FeedNamespaces.Media);
            if (page.IsArchive) xml.WriteAttributeString("xmlns", "fh", null, FeedNamespaces.History);
            Text(xml, "title", title);
            Text(xml, "subtitle", links.Description(scope));
            xml.WriteElementString("id", FeedNamespaces.Atom, links.Url(scope, page.ArchivePage, file));
            xml.WriteElementString("updated", FeedNamespaces.Atom, AtomDate(page.Updated));
            if (icon is not null) xml.WriteElementString("logo", FeedNamespaces.Atom, icon);
            // Atom requires an author on every entry or on the feed; an empty feed carries the site's.
            if (!page.IsArchive && page.Entries.Count == 0) Person(xml, links.Site.DefaultAuthor);
            xml.WriteElementString("generator", FeedNamespaces.Atom, FeedLinks.Generator);
            Link(xml, "alternate", null, null, siteUrl);
            foreach (var (rel, href, type) in FeedLevelLinks(page, links, file, mediaType)) Link(xml, rel, type, null, new Uri(href).AbsoluteUri);
            if (page.IsArchive)
            {
                xml.WriteStartElement("fh", "archive", FeedNamespaces.History);
                xml.WriteEndElement();
            }
        }
        xml.Flush();
        return stream.ToArray();
    }

    /// <summary>self, hub (WebSub) and the RFC 5005 paging links: prev-archive from the current feed; current, prev- and next-archive from archive pages.</summary>
    private static IEnumerable<(string Rel, string Href, string? Type)> FeedLevelLinks(FeedPage page, FeedLinks links, string file, string mediaType)
    {
        yield return ("self", links.Url(page.Scope, page.ArchivePage, file), mediaType);
        foreach (var hub in links.Options.Hubs) yield return ("hub", hub, null);
        if (page.ArchivePage is not { } number)
        {
            if (page.CompletePages > 0) yield return ("prev-archive", links.Url(page.Scope, page.CompletePages, file), mediaType);
            yield break;
        }
        yield return ("current", links.Url(page.Scope, null, file), mediaType);
        if (number > 1) yield return ("prev-archive", links.Url(page.Scope, number - 1, file), mediaType);
        if (number < page.CompletePages) yield return ("next-archive", links.Url(page.Scope, number + 1, file), mediaType);
    }

    internal static void RssItem(XmlWriter xml, Article article)
    {
        xml.WriteStartElement("item");
        xml.WriteStartElement("guid");
        xml.WriteAttributeString("isPermaLink", "false");
        xml.WriteString("urn:uuid:" + article.Id);
        xml.WriteEndElement();
        xml.WriteElementString("link", article.CanonicalUrl.ToUri().AbsoluteUri);
        foreach (var tag in article.Tags) xml.WriteElementString("category", XmlChars.Clean(tag));
        xml.WriteElementString("title", XmlChars.Clean(article.Title));
        xml.WriteElementString("description", XmlChars.Clean(article.Summary));
        xml.WriteElementString("pubDate", RssDate(article.PublishedAt));
        if (article.Image?.Url is { } imageUrl)
        {
            xml.WriteStartElement("enclosure");
            xml.WriteAttributeString("url", imageUrl.ToUri().AbsoluteUri);
            xml.WriteAttributeString("type", FeedLinks.ImageType(imageUrl));
            xml.WriteEndElement();
        }
        Extension(xml, "dc", "creator", FeedNamespaces.DublinCore, XmlChars.Clean(article.Author.Name));
        Extension(xml, "content", "encoded", FeedNamespaces.Content, XmlChars.Clean(article.BodyHtml));
        if (article.CommentUrl is { } comments) Extension(xml, null, "comments", null, comments.Value);
        Media(xml, article);
        xml.WriteEndElement();
    }

    internal static void AtomEntry(XmlWriter xml, Article article)
    {
        var ns = FeedNamespaces.Atom;
        xml.WriteStartElement("entry", ns);
        xml.WriteElementString("id", ns, "urn:uuid:" + article.Id);
        Text(xml, "title", XmlChars.Clean(article.Title));
        Text(xml, "summary", XmlChars.Clean(article.Summary));
        xml.WriteElementString("published", ns, AtomDate(article.PublishedAt));
        xml.WriteElementString("updated", ns, AtomDate(article.UpdatedAt > article.PublishedAt ? article.UpdatedAt : article.PublishedAt));
        Person(xml, XmlChars.Clean(article.Author.Name));
        Link(xml, "alternate", "text/html", null, article.CanonicalUrl.ToUri().AbsoluteUri);
        if (article.CommentUrl is { } comments) Link(xml, "replies", "text/html", null, comments.ToUri().AbsoluteUri);
        if (article.Image?.Url is { } imageUrl)
            Link(xml, "enclosure", FeedLinks.ImageType(imageUrl), article.Image.Caption is { } caption ? XmlChars.Clean(caption) : null, imageUrl.ToUri().AbsoluteUri);
        foreach (var tag in article.Tags)
        {
            xml.WriteStartElement("category", ns);
            xml.WriteAttributeString("term", XmlChars.Clean(tag));
            xml.WriteEndElement();
        }
        xml.WriteStartElement("content", ns);
        xml.WriteAttributeString("type", "html");
        xml.WriteString(XmlChars.Clean(article.BodyHtml));
        xml.WriteEndElement();
        Media(xml, article);
        xml.WriteEndElement();
    }

    /// <summary>media:content for the article's image, in both formats.</summary>
    private static void Media(XmlWriter xml, Article article)
    {
        if (article.Image?.Url is not { } imageUrl) return;
        xml.WriteStartElement("media", "content", FeedNamespaces.Media);
        xml.WriteAttributeString("url", imageUrl.Value);
        xml.WriteAttributeString("medium", "image");
        xml.WriteAttributeString("type", FeedLinks.ImageType(imageUrl));
        if (article.Image.Caption is { } text) Extension(xml, "media", "description", FeedNamespaces.Media, XmlChars.Clean(text));
        if (article.Image.Credit is { } credit) Extension(xml, "media", "credit", FeedNamespaces.Media, XmlChars.Clean(credit));
        xml.WriteEndElement();
    }

    /// <summary>An extension element with text: always a start and an end tag, even when the text is empty.</summary>
    private static void Extension(XmlWriter xml, string? prefix, string name, string? ns, string value)
    {
        xml.WriteStartElement(prefix, name, ns);
        xml.WriteString(value);
        xml.WriteFullEndElement();
    }

    /// <summary>An Atom text construct of type text.</summary>
    private static void Text(XmlWriter xml, string name, string value)
    {
        xml.WriteStartElement(name, FeedNamespaces.Atom);
        xml.WriteAttributeString("type", "text");
        xml.WriteString(value);
        xml.WriteEndElement();
    }

    private static void Person(XmlWriter xml, string name)
    {
        xml.WriteStartElement("author", FeedNamespaces.Atom);
        xml.WriteElementString("name", FeedNamespaces.Atom, name);
        xml.WriteEndElement();
    }

    private static void Link(XmlWriter xml, string rel, string? type, string? title, string href)
    {
        xml.WriteStartElement("link", FeedNamespaces.Atom);
        xml.WriteAttributeString("rel", rel);
        if (type is not null) xml.WriteAttributeString("type", type);
        if (title is not null) xml.WriteAttributeString("title", title);
        xml.WriteAttributeString("href", href);
        xml.WriteEndElement();
    }

    /// <summary>RFC 822 as RSS readers expect it: "Z" for UTC, otherwise the offset without its colon.</summary>
    private static string RssDate(DateTimeOffset time) => time.Offset == TimeSpan.Zero
        ? time.ToString("ddd, dd MMM yyyy HH:mm:ss 'Z'", CultureInfo.InvariantCulture)
        : time.ToString("ddd, dd MMM yyyy HH:mm:ss zzz", CultureInfo.InvariantCulture).Remove(29, 1);

    /// <summary>RFC 3339.</summary>
    private static string AtomDate(DateTimeOffset time) => time.Offset == TimeSpan.Zero
        ? time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
        : time.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
}
