using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Storage;

namespace Syndicator.Benchmarks;

public sealed record GenAuthor(string Id, string Name, string? Bio, string? X, string? Mastodon, string? Bluesky, DateTimeOffset CreatedAt);

/// <summary>One row of <c>articles</c> plus its tags, in the formats the importer would have stored.</summary>
public sealed record GenArticle(
    string Id, string Slug, string Title, string Summary, string BodyHtml, string AuthorId,
    string? ImageUrl, string? ImageCaption, string? ImageCredit, string CanonicalUrl, string? CommentUrl,
    DateTimeOffset PublishedAt, DateTimeOffset UpdatedAt, string ContentHash, string SourceName, DateTimeOffset ImportedAt,
    IReadOnlyList<string> Tags);

/// <summary>
/// A deterministic corpus (fixed seed): authors uniform over articles, 1-3 uniform tags per article, publication times
/// spread over the ten years before <see cref="End"/> and produced oldest first (as a magazine's imports arrive),
/// titles ~60 chars, summaries ~250 chars, bodies 3-4 KB of &lt;p&gt; paragraphs, an image on ~40%.
/// </summary>
public sealed class Corpus
{
    public const string BaseUrl = "https://magazine.example";
    public static readonly DateTimeOffset End = new(2025, 6, 30, 18, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset Start = End.AddYears(-10);

    private readonly BenchOptions options;

    public Corpus(BenchOptions options)
    {
        this.options = options;
        var rng = new Random(options.Seed);
        Paragraphs = Enumerable.Range(0, 4000).Select(_ => Paragraph(rng)).ToArray();
        Authors = MakeAuthors(rng, options.Authors);
        Tags = MakeTags(rng, options.Tags);
    }

    public IReadOnlyList<GenAuthor> Authors { get; }
    public IReadOnlyList<string> Tags { get; }
    private string[] Paragraphs { get; }

    public IEnumerable<GenArticle> Articles()
    {
        var rng = new Random(options.Seed + 1);
        var span = (End - Start).Ticks / TimeSpan.TicksPerSecond;
        var seconds = new long[options.Articles];
        for (var i = 0; i < seconds.Length; i++) seconds[i] = rng.NextInt64(span);
        Array.Sort(seconds);
        var slugs = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < seconds.Length; i++)
        {
            var published = Start.AddSeconds(seconds[i]).AddTicks(rng.Next(1_000_000) * 10).ToStoredPrecision();
            yield return Article(rng, published, slugs);
        }
    }

    /// <summary>One more article (for the incremental build), as a draft the real importer takes.</summary>
    public ArticleDraft Draft(Random rng, string authorName, IReadOnlyList<string> tags, DateTimeOffset published, string sourceName)
    {
        var (title, summary, body, image, _) = Content(rng, "incremental");
        return new ArticleDraft(title, body, summary, new AuthorDraft(authorName, null, SocialHandles.None), tags, image,
            null, null, null, published, null, sourceName);
    }

    private GenArticle Article(Random rng, DateTimeOffset published, HashSet<string> slugs)
    {
        var author = Authors[rng.Next(Authors.Count)];
        var tagCount = 1 + rng.Next(3);
        var tags = new List<string>(tagCount);
        while (tags.Count < tagCount)
        {
            var tag = Tags[rng.Next(Tags.Count)];
            if (!tags.Contains(tag)) tags.Add(tag);
        }
        var (title, summary, body, image, comments) = Content(rng, null);
        var slug = Syndicator.Shared.Slug.FromText(title).Value;
        for (var n = 2; !slugs.Add(slug); n++) slug = $"{Syndicator.Shared.Slug.FromText(title).Value}-{n}";
        var updated = rng.NextDouble() < 0.2 ? Min(published.AddDays(1 + rng.Next(30)).AddMinutes(rng.Next(1440)), End) : published;
        if (updated < published) updated = published;
        var canonical = $"{BaseUrl}/{slug}";
        var commentUrl = comments ? $"{BaseUrl}/{slug}#comments" : null;
        var id = GuidV7(published, rng);
        var article = new Article(id, Syndicator.Shared.Slug.Parse(slug), title, summary, body, new Author(author.Id, author.Name, author.Bio, SocialHandles.None), tags,
            image, Syndicator.Shared.WebUrl.Parse(canonical), commentUrl is null ? null : Syndicator.Shared.WebUrl.Parse(commentUrl), published, updated, "");
        return new GenArticle(id, slug, title, summary, body, author.Id, image?.Url, image?.Caption, image?.Credit, canonical, commentUrl,
            published, updated, ArticleImporter.ContentHash(article), slug + ".md", published.AddMinutes(rng.Next(5, 180)), tags);
    }

    private (string Title, string Summary, string Body, ArticleImage? Image, bool Comments) Content(Random rng, string? prefix)
    {
        var title = Title(rng, prefix);
        var summary = Sentences(rng, 220, 280);
        var target = 3000 + rng.Next(1001);
        var body = new StringBuilder(target + 600);
        while (body.Length < target)
        {
            if (body.Length > 0 && rng.NextDouble() < 0.12) body.Append("<h2>").Append(Title(rng, null, 4, 7)).Append("</h2>\n");
            body.Append(Paragraphs[rng.Next(Paragraphs.Length)]).Append('\n');
        }
        ArticleImage? image = null;
        if (rng.NextDouble() < 0.4)
        {
            var ext = rng.Next(10) switch { < 6 => "jpg", < 8 => "png", 8 => "webp", _ => "avif" };
            var caption = rng.NextDouble() < 0.7 ? Sentences(rng, 40, 110) : null;
            var credit = rng.NextDouble() < 0.5 ? $"Photo: {Pick(rng, FirstNames)} {Pick(rng, LastNames)}" : null;
            image = new ArticleImage(Syndicator.Shared.WebUrl.Parse($"https://cdn.magazine.example/images/{rng.Next(1_000_000):D6}.{ext}"), caption, credit);
        }
        return (title, summary, body.ToString(), image, rng.NextDouble() < 0.3);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>Like Guid.CreateVersion7(published) but with the random bits from the seeded RNG, so ids repeat across runs.</summary>
    private static string GuidV7(DateTimeOffset time, Random rng)
    {
        Span<byte> bytes = stackalloc byte[16];
        rng.NextBytes(bytes);
        var ms = time.ToUnixTimeMilliseconds();
        Span<byte> ts = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(ts, ms);
        ts[2..].CopyTo(bytes);
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true).ToString();
    }

    private static IReadOnlyList<GenAuthor> MakeAuthors(Random rng, int count)
    {
        var authors = new List<GenAuthor>(count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var slugs = new HashSet<string>(StringComparer.Ordinal);
        var created = Start.AddDays(-30);
        while (authors.Count < count)
        {
            var name = $"{Pick(rng, FirstNames)} {Pick(rng, LastNames)}";
            if (names.Contains(name)) name = $"{Pick(rng, FirstNames)} {(char)('A' + rng.Next(26))}. {Pick(rng, LastNames)}";
            if (names.Contains(name)) name = $"{Pick(rng, FirstNames)} {Pick(rng, LastNames)}-{Pick(rng, LastNames)}";
            if (names.Contains(name) || !slugs.Add(Syndicator.Shared.Slug.FromText(name).Value)) continue;
            names.Add(name);
            var handle = name.ToLowerInvariant().Replace(" ", "", StringComparison.Ordinal).Replace(".", "", StringComparison.Ordinal);
            authors.Add(new GenAuthor(
                GuidV7(created.AddMinutes(authors.Count), rng), name,
                rng.NextDouble() < 0.7 ? Sentences(rng, 80, 200) : null,
                rng.NextDouble() < 0.5 ? "@" + handle : null,
                rng.NextDouble() < 0.3 ? $"@{handle}@mastodon.social" : null,
                rng.NextDouble() < 0.3 ? $"{handle}.bsky.social" : null,
                created.AddMinutes(authors.Count)));
        }
        return authors;
    }

    private static IReadOnlyList<string> MakeTags(Random rng, int count)
    {
        var tags = new List<string>(count);
        var slugs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var topic in Topics.OrderBy(_ => rng.Next()))
        {
            if (tags.Count == count) return tags;
            if (slugs.Add(Syndicator.Shared.Slug.FromText(topic).Value)) tags.Add(topic);
        }
        while (tags.Count < count)
        {
            var tag = $"{Pick(rng, Topics)} {Pick(rng, Topics).ToLowerInvariant()}";
            if (slugs.Add(Syndicator.Shared.Slug.FromText(tag).Value)) tags.Add(tag);
        }
        return tags;
    }

    private static string Title(Random rng, string? prefix, int minWords = 6, int maxWords = 11)
    {
        var sb = new StringBuilder(prefix is null ? "" : prefix + ": ");
        var words = rng.Next(minWords, maxWords + 1);
        for (var i = 0; i < words && sb.Length < 70; i++)
        {
            var w = Pick(rng, Words);
            if (i == 0 || rng.NextDouble() < 0.5) w = char.ToUpperInvariant(w[0]) + w[1..];
            sb.Append(i == 0 ? "" : " ").Append(w);
        }
        return sb.ToString();
    }

    private static string Sentences(Random rng, int min, int max)
    {
        var target = rng.Next(min, max + 1);
        var sb = new StringBuilder(target + 80);
        while (sb.Length < target)
        {
            if (sb.Length > 0) sb.Append(' ');
            Sentence(rng, sb, markup: false);
        }
        return sb.ToString();
    }

    private static string Paragraph(Random rng)
    {
        var target = rng.Next(300, 650);
        var sb = new StringBuilder("<p>", target + 120);
        while (sb.Length < target)
        {
            if (sb.Length > 3) sb.Append(' ');
            Sentence(rng, sb, markup: true);
        }
        return sb.Append("</p>").ToString();
    }

    private static void Sentence(Random rng, StringBuilder sb, bool markup)
    {
        var words = rng.Next(8, 22);
        for (var i = 0; i < words; i++)
        {
            var w = Pick(rng, Words);
            if (i == 0) w = char.ToUpperInvariant(w[0]) + w[1..];
            if (i > 0) sb.Append(i % 7 == 6 && rng.NextDouble() < 0.4 ? ", " : " ");
            var roll = markup ? rng.NextDouble() : 1;
            if (roll < 0.015) sb.Append("<em>").Append(w).Append("</em>");
            else if (roll < 0.025) sb.Append("<strong>").Append(w).Append("</strong>");
            else if (roll < 0.035) sb.Append("<a href=\"").Append(BaseUrl).Append("/topics/").Append(w).Append("\">").Append(w).Append("</a>");
            else if (roll < 0.04) sb.Append('\u201c').Append(w).Append('\u201d');
            else if (roll < 0.043) sb.Append(w).Append(" &amp; ").Append(Pick(rng, Words));
            else sb.Append(w);
        }
        sb.Append(rng.Next(12) switch { 0 => '?', 1 => '!', _ => '.' });
    }

    private static string Pick(Random rng, string[] list) => list[rng.Next(list.Length)];

    public static string Format(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static readonly string[] FirstNames =
    [
        "Amira", "Benedikt", "Carmen", "Dmitri", "Elena", "Farid", "Grace", "Hiroshi", "Ingrid", "Jamal", "Katarina", "Luis", "Mei", "Nikolai",
        "Olga", "Pedro", "Quentin", "Rania", "Samuel", "Tamar", "Ulrich", "Valeria", "Wen", "Xavier", "Yasmin", "Zoltan", "Aisha", "Bruno",
        "Chiara", "Daniel", "Esra", "Felix", "Gabriela", "Hassan", "Irene", "Jonas", "Kofi", "Leila", "Marco", "Nadia", "Oscar", "Priya",
        "Rafael", "Sofia", "Tomasz", "Ursula", "Viktor", "Wanjiru", "Yusuf", "Zeynep", "Anders", "Beatriz", "Cyrus", "Dalia", "Emeka", "Fatima",
        "Gustav", "Helena", "Ivan", "Julia", "Kenji", "Lucia", "Mateo", "Noor", "Omar", "Paula", "Ruth", "Stefan", "Teresa", "Ahmed",
    ];

    private static readonly string[] LastNames =
    [
        "Abbasi", "Bergström", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova", "Jansen", "Kowalski", "Lindqvist",
        "Moreau", "Nakamura", "Okafor", "Petrov", "Quiroga", "Rossi", "Schneider", "Tanaka", "Uribe", "Varga", "Weber", "Xu", "Yilmaz",
        "Zimmermann", "Almeida", "Brennan", "Chen", "Demir", "Esposito", "Ferreira", "Gallagher", "Horvat", "Iqbal", "Jovanović", "Kim",
        "Lopez", "Mahmoud", "Novak", "O'Connor", "Papadopoulos", "Romero", "Santos", "Takahashi", "Ueda", "Vasquez", "Wójcik", "Yamamoto",
        "Zhang", "Andersson", "Bianchi", "Costa", "Dimitrov", "Eklund", "Fontaine", "Gonzalez", "Hoffmann", "Ibrahim", "Jensen", "Kaya",
    ];

    private static readonly string[] Topics =
    [
        "Politics", "Economy", "Climate", "Energy", "Europe", "Asia", "Africa", "Americas", "Middle East", "Elections", "Democracy", "Media",
        "Technology", "Science", "Health", "Education", "Culture", "Books", "Film", "Music", "Art", "History", "Philosophy", "Religion",
        "Law", "Justice", "Migration", "Labour", "Trade", "Finance", "Housing", "Cities", "Transport", "Agriculture", "Food", "Water",
        "Security", "Defence", "Diplomacy", "Human Rights", "Gender", "Family", "Youth", "Ageing", "Sport", "Travel", "Environment",
        "Oceans", "Forests", "Wildlife", "Space", "AI", "Privacy", "Internet", "Crypto", "Banking", "Taxes", "Inflation", "Poverty",
        "Inequality", "Welfare", "Pensions", "Unions", "Corruption", "Protest", "Iran", "Iraq", "Syria", "Turkey", "Russia", "Ukraine",
        "China", "India", "Japan", "Brazil", "Mexico", "Nigeria", "Kenya", "Egypt", "France", "Germany", "Italy", "Spain", "Poland",
        "Britain", "Ireland", "Nordics", "Balkans", "Caucasus", "Arctic", "Pacific", "Opinion", "Interview", "Review", "Essay",
        "Reportage", "Analysis", "Letters", "Obituary", "Satire", "Poetry", "Fiction", "Photography", "Architecture", "Design", "Fashion",
        "Theatre", "Dance", "Television", "Radio", "Podcasts", "Games", "Mathematics", "Physics", "Biology", "Medicine", "Psychology",
        "Sociology", "Linguistics", "Archaeology", "Anthropology",
    ];

    private static readonly string[] Words =
    [
        "the", "of", "and", "a", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "this", "are", "or",
        "from", "at", "which", "but", "have", "an", "they", "more", "one", "were", "their", "has", "been", "would", "there", "all", "when",
        "government", "policy", "people", "country", "world", "economy", "crisis", "power", "minister", "election", "reform", "history",
        "society", "future", "market", "state", "public", "question", "argument", "evidence", "debate", "parliament", "council", "border",
        "movement", "opposition", "budget", "growth", "region", "conflict", "agreement", "negotiation", "strategy", "influence", "memory",
        "language", "culture", "tradition", "freedom", "justice", "citizens", "institutions", "journalists", "readers", "critics", "writers",
        "century", "decade", "generation", "village", "capital", "province", "harbour", "river", "mountain", "coast", "winter", "summer",
        "quietly", "sharply", "rarely", "openly", "slowly", "suddenly", "largely", "deeply", "perhaps", "already", "never", "still", "again",
        "uncertain", "familiar", "difficult", "remarkable", "fragile", "ambitious", "modest", "bitter", "hopeful", "reluctant", "ancient",
        "modern", "radical", "cautious", "national", "local", "global", "economic", "political", "cultural", "social", "moral", "legal",
        "argues", "suggests", "remembers", "insists", "explains", "reveals", "questions", "describes", "warns", "claims", "believes",
        "changed", "returned", "refused", "promised", "collapsed", "survived", "emerged", "declined", "expanded", "recovered", "failed",
        "workers", "farmers", "students", "voters", "leaders", "officials", "families", "neighbours", "exiles", "migrants", "soldiers",
        "newspaper", "archive", "letter", "report", "interview", "photograph", "novel", "essay", "speech", "treaty", "law", "court",
    ];
}
