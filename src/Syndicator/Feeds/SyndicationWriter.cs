using System.ServiceModel.Syndication;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Syndicator.Articles;

namespace Syndicator.Feeds;

/// <summary>
/// RSS 2.0 and Atom 1.0 through System.ServiceModel.Syndication. One <see cref="SyndicationFeed"/> is built per
/// document; the formats differ only in the extensions each needs (RSS has no place for full content, authors
/// without e-mail or paging links, so those go in the content, Dublin Core and Atom namespaces).
/// </summary>
public static class SyndicationWriter
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
            LastUpdatedTime = document.Updated,
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
            feed.AttributeExtensions.Add(new XmlQualifiedName("atom", FeedNamespaces.Xmlns), FeedNamespaces.Atom);
            feed.AttributeExtensions.Add(new XmlQualifiedName("content", FeedNamespaces.Xmlns), FeedNamespaces.Content);
            feed.AttributeExtensions.Add(new XmlQualifiedName("dc", FeedNamespaces.Xmlns), FeedNamespaces.DublinCore);
        }
        feed.AttributeExtensions.Add(new XmlQualifiedName("media", FeedNamespaces.Xmlns), FeedNamespaces.Media);
        if (document.IsArchive)
        {
            feed.AttributeExtensions.Add(new XmlQualifiedName("fh", FeedNamespaces.Xmlns), FeedNamespaces.History);
            feed.ElementExtensions.Add(new XElement(XName.Get("archive", FeedNamespaces.History)));
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

    /// <summary>self, hub (WebSub) and the RFC 5005 paging links: prev-archive from the current feed; current, prev- and next-archive from archive pages.</summary>
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
        var link = new XElement(XName.Get("link", FeedNamespaces.Atom), new XAttribute("rel", rel), new XAttribute("href", href));
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
            item.ElementExtensions.Add(new XElement(XName.Get("creator", FeedNamespaces.DublinCore), author));
            item.ElementExtensions.Add(new XElement(XName.Get("encoded", FeedNamespaces.Content), body));
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
            var media = new XElement(XName.Get("content", FeedNamespaces.Media), new XAttribute("url", imageUrl.Value), new XAttribute("medium", "image"), new XAttribute("type", type));
            if (article.Image.Caption is { } text) media.Add(new XElement(XName.Get("description", FeedNamespaces.Media), XmlChars.Clean(text)));
            if (article.Image.Credit is { } credit) media.Add(new XElement(XName.Get("credit", FeedNamespaces.Media), XmlChars.Clean(credit)));
            item.ElementExtensions.Add(media);
        }
        return item;
    }
}
