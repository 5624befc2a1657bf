using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Xml;
using Syndicator.Articles;

namespace Syndicator.Feeds;

/// <summary>
/// One article's entry in each format, as the bytes it takes inside a document (its indentation included), so a
/// build renders it once and splices it into every document that carries it: the site's, its author's, each of its
/// tags', current feed or archive page alike. Nothing in an entry depends on the document around it.
/// </summary>
public sealed record FeedEntry(string ArticleId, DateTimeOffset Updated, byte[] Rss, byte[] Atom, byte[] Json)
{
    /// <summary>What the entry holds in memory, for the build's cache budget.</summary>
    public long Size => Rss.Length + Atom.Length + Json.Length + 64;
}

/// <summary>
/// Renders <see cref="FeedEntry"/> fragments with the same <see cref="XmlWriter"/> and <see cref="Utf8JsonWriter"/>
/// settings as the documents they go into, inside the same namespace scope and depth, so the spliced document is
/// byte for byte the one a single writer would produce. Not thread-safe: one renderer per build worker.
/// </summary>
public sealed class FeedEntryRenderer
{
    internal static readonly XmlWriterSettings XmlSettings = new() { Encoding = new UTF8Encoding(false), Indent = true, Async = false };
    internal static readonly JsonWriterOptions JsonOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly MemoryStream buffer = new();
    private XmlWriter? rss;
    private XmlWriter? atom;
    private Utf8JsonWriter? json;

    public FeedEntry Render(Article article)
    {
        try
        {
            return new FeedEntry(
                article.Id,
                article.UpdatedAt > article.PublishedAt ? article.UpdatedAt : article.PublishedAt,
                Fragment(rss ??= Open(rss: true), SyndicationWriter.RssItem, article),
                Fragment(atom ??= Open(rss: false), SyndicationWriter.AtomEntry, article),
                Json(article));
        }
        catch
        {
            // A writer that threw is in an error state: the next entry starts with fresh ones.
            (rss, atom, json) = (null, null, null);
            buffer.SetLength(0);
            throw;
        }
    }

    /// <summary>
    /// One writer per format for all of the renderer's entries, each entry written as the next sibling in the
    /// document's scope: its bytes are the same as in any document, and the writers are made once, not per entry.
    /// </summary>
    private XmlWriter Open(bool rss)
    {
        buffer.SetLength(0);
        var xml = XmlWriter.Create(buffer, XmlSettings);
        // The scope entries sit in: the channel (RSS) or feed (Atom) with the prefixes the document declares, after a sibling.
        if (rss)
        {
            xml.WriteStartElement("rss");
            xml.WriteStartElement("channel");
            xml.WriteAttributeString("xmlns", "atom", null, FeedNamespaces.Atom);
            xml.WriteAttributeString("xmlns", "content", null, FeedNamespaces.Content);
            xml.WriteAttributeString("xmlns", "dc", null, FeedNamespaces.DublinCore);
            xml.WriteAttributeString("xmlns", "media", null, FeedNamespaces.Media);
            xml.WriteStartElement("x");
        }
        else
        {
            xml.WriteStartElement("feed", FeedNamespaces.Atom);
            xml.WriteAttributeString("xmlns", "media", null, FeedNamespaces.Media);
            xml.WriteStartElement("x", FeedNamespaces.Atom);
        }
        xml.WriteEndElement();
        xml.Flush();
        return xml;
    }

    private byte[] Fragment(XmlWriter xml, Action<XmlWriter, Article> write, Article article)
    {
        buffer.SetLength(0);
        write(xml, article);
        xml.Flush();
        return buffer.ToArray();
    }

    private byte[] Json(Article article)
    {
        buffer.SetLength(0);
        if (json is null)
        {
            json = new Utf8JsonWriter(buffer, JsonOptions);
            json.WriteStartObject();
            json.WriteStartArray("items");
            json.Flush();
            buffer.SetLength(0);
        }
        JsonFeedWriter.WriteItem(json, article);
        json.Flush();
        // After the first item the writer puts a comma before each; the document puts its own.
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        return (bytes[0] == (byte)',' ? bytes[1..] : bytes).ToArray();
    }
}
