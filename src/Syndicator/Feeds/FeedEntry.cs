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
public sealed record FeedEntry(string ArticleId, DateTimeOffset Updated, byte[] Rss, byte[] Atom, byte[] Json);

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

/// <summary>
/// The entries of feed documents written earlier, cut out of their bytes by article id. A document is its head, its
/// entries as <see cref="FeedEntryRenderer"/> rendered them, and its end (see <see cref="SyndicationWriter"/> and
/// <see cref="JsonFeedWriter"/>), so an incremental build takes the entries of articles that did not change since a
/// scope's last build from the files that build wrote, instead of reading their bodies and rendering them again.
/// </summary>
/// <remarks>
/// Each entry starts with its article's id (RSS <c>guid</c>, Atom <c>id</c>, JSON Feed <c>id</c>) at a fixed
/// indentation. Markup characters in XML text and attributes are always escaped, and a JSON string never holds a raw
/// line break, so an entry's start cannot occur inside another entry. A file that does not have this shape gives
/// no entries, and only entries whose ids are made of letters, digits and hyphens are taken (so no id can read as another's escaped form):
/// anything not found is rendered as before.
/// </remarks>
public sealed class WrittenEntries
{
    private static readonly byte[] RssStart = "\n    <item>\n      <guid isPermaLink=\"false\">urn:uuid:"u8.ToArray();
    private static readonly byte[] AtomStart = "\n  <entry>\n    <id>urn:uuid:"u8.ToArray();
    private static readonly byte[] JsonStart = "\n    {\n      \"id\": \"urn:uuid:"u8.ToArray();

    private readonly Dictionary<string, byte[]> rss = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> atom = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> json = new(StringComparer.Ordinal);

    public int Count => rss.Count;

    /// <summary>Takes the entries of one document's three files (any may be missing: empty); each entry is copied out.</summary>
    public void Add(ReadOnlySpan<byte> rssFile, ReadOnlySpan<byte> atomFile, ReadOnlySpan<byte> jsonFile)
    {
        Cut(rssFile, RssStart, SyndicationWriter.RssEnd, separator: null, (byte)'<', rss);
        Cut(atomFile, AtomStart, SyndicationWriter.AtomEnd, separator: null, (byte)'<', atom);
        Cut(jsonFile, JsonStart, JsonFeedWriter.EndWithItems, (byte)',', (byte)'"', json);
    }

    /// <summary>The article's entry, when every format holds it.</summary>
    public FeedEntry? Find(string articleId, DateTimeOffset updated) =>
        rss.TryGetValue(articleId, out var r) && atom.TryGetValue(articleId, out var a) && json.TryGetValue(articleId, out var j)
            ? new FeedEntry(articleId, updated, r, a, j)
            : null;

    private static void Cut(ReadOnlySpan<byte> content, byte[] start, byte[] end, byte? separator, byte idEnd, Dictionary<string, byte[]> into)
    {
        if (!content.EndsWith(end)) return;
        var body = content[..^end.Length];
        var at = body.IndexOf(start);
        if (at < 0) return;
        var found = new List<(string Id, byte[] Bytes)>();
        while (at >= 0)
        {
            var next = body[(at + start.Length)..].IndexOf(start);
            var stop = next < 0 ? body.Length : at + start.Length + next;
            var entryEnd = stop;
            if (next >= 0 && separator is { } comma)
            {
                if (body[stop - 1] != comma) return;
                entryEnd--;
            }
            var entry = body[at..entryEnd];
            var idLength = entry[start.Length..].IndexOf(idEnd);
            if (idLength <= 0) return;
            var id = entry.Slice(start.Length, idLength);
            if (!id.ContainsAnyExcept(IdBytes)) found.Add((System.Text.Encoding.ASCII.GetString(id), entry.ToArray()));
            at = next < 0 ? -1 : stop;
        }
        foreach (var (id, bytes) in found) into.TryAdd(id, bytes);
    }

    private static readonly System.Buffers.SearchValues<byte> IdBytes =
        System.Buffers.SearchValues.Create("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"u8);
}
