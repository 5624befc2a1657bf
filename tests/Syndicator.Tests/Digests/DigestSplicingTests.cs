using Fluid;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using MimeKit;
using Syndicator.Articles;
using Syndicator.Digests;
using Syndicator.Shared;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>
/// An edition's templates are rendered once and each reader's values spliced in (DigestLayout): every message must
/// decode to exactly what rendering the templates for that reader alone gives. The oracle is the same composer with
/// templates that end in an empty <c>capture</c>, which renders nothing but keeps each message rendered on its own.
/// </summary>
public sealed class DigestSplicingTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 2, 6, 0, 0, TimeSpan.Zero);
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private DigestComposer Composer(string templates, string subject = "{{ site }}: {{ count }} new article{% if count != 1 %}s{% endif %}")
    {
        var key = dir.File("signing.key", "the same key for both composers");
        var options = new DigestOptions
        {
            TemplatesPath = templates,
            SigningKey = "file:" + key,
            FromAddress = "digest@magazine.example",
            PublicUrl = "https://magazine.example/",
            Subject = subject,
        };
        var site = new SiteOptions { Title = "The Opinion Magazine", BaseUrl = "https://magazine.example/", Language = "fa" };
        var environment = new HostingEnvironment { ContentRootPath = dir.Path };
        return new DigestComposer(Options.Create(options), Options.Create(site), new SubscriberTokens(Options.Create(options), environment), environment, new FakeTimeProvider(Now));
    }

    /// <summary>The shipped templates, each ending in a capture (no output): the same text, rendered per reader.</summary>
    private string RenderedAlone()
    {
        var folder = Path.Combine(dir.Path, "alone");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(Path.Combine(Repo.Root, "config", "templates"), "*.liquid"))
            File.WriteAllText(Path.Combine(folder, Path.GetFileName(file)), File.ReadAllText(file) + "{% capture unused %}{{ name | upcase }}{% endcapture %}");
        return folder;
    }

    private static Subscriber Reader(string id, string? name, DigestFrequency frequency = DigestFrequency.Daily) =>
        new(id, $"{id}@example.com", name, frequency, "UTC", SubscriberState.Confirmed, 0, Now, null, [], [], Now);

    private static Article Story(string id, string title, string summary, string author = "Jane Doe") =>
        new(id, Slug.Parse(id), title, summary, "<p>body</p>", new Author("a-" + id, author, null, SocialHandles.None), [], null,
            WebUrl.Parse($"https://magazine.example/{id}"), null, Now, Now, "h");

    public static TheoryData<string?, DigestFrequency> Readers => new()
    {
        { "Reader ✉ خواننده", DigestFrequency.Daily },
        { null, DigestFrequency.Daily },
        { "", DigestFrequency.Weekly },
        { "李小龙 🚀", DigestFrequency.Weekly },
        { "Tom & Jerry <b>bold</b> \"quoted\"", DigestFrequency.Daily },
        { new string('x', 60) + "   ", DigestFrequency.Daily },
    };

    [Theory, MemberData(nameof(Readers))]
    public void A_spliced_digest_decodes_to_exactly_what_rendering_it_for_the_reader_alone_gives(string? name, DigestFrequency frequency)
    {
        var spliced = Composer(Path.Combine(Repo.Root, "config", "templates"));
        var alone = Composer(RenderedAlone());
        var articles = new[]
        {
            Story("persian", "سلام دنیا: یک عنوان طولانی فارسی با ایموجی 🎉 و علامت‌ها", "خلاصه‌ای " + string.Join(' ', Enumerable.Repeat("بسیار طولانی", 40))),
            Story("cjk", "漢字のタイトル", "一行の要約。=3D is not an escape, and a line that ends in spaces   "),
            Story("hostile", "Evil\r\nBcc: attacker@evil.example <script>alert(1)</script>", "A summary with a dot\r\n.\r\nline and a very long word " + new string('w', 200)),
        };
        var content = spliced.Content(articles);
        var reader = Reader("0192f0c4-0000-7000-8000-000000000001", name, frequency);

        var made = spliced.Digest(reader, content, "syndicator-00000000000000000000000000000001");
        var oracle = alone.Digest(reader, alone.Content(articles), "syndicator-00000000000000000000000000000001");

        // Compared as a mail program sees them: after the wire format, where every line of text ends in CRLF.
        var (madeWire, _) = Wire(made);
        var (oracleWire, _) = Wire(oracle);
        Assert.Equal(oracleWire.Subject, madeWire.Subject);
        Assert.Equal(oracleWire.TextBody, madeWire.TextBody);
        Assert.Equal(oracleWire.HtmlBody, madeWire.HtmlBody);
        // The HTML part really is spliced: pre-encoded quoted-printable, every line within the limit. (The plain text,
        // mostly Persian here, would grow too much in quoted-printable: MimeKit encodes it per message.)
        var html = Assert.IsAssignableFrom<TextPart>(Assert.IsType<MultipartAlternative>(made.Body)[1]);
        Assert.Equal(ContentEncoding.QuotedPrintable, html.ContentTransferEncoding);
        Assert.Equal(ContentEncoding.QuotedPrintable, html.Content!.Encoding);
        using var encoded = new MemoryStream();
        html.Content.WriteTo(encoded, TestContext.Current.CancellationToken);
        Assert.All(System.Text.Encoding.ASCII.GetString(encoded.ToArray()).Split('\n'), line => Assert.True(line.Length <= 76, $"a line of {line.Length} characters: {line}"));
        Assert.NotEqual(ContentEncoding.QuotedPrintable, Assert.IsType<TextPart>(Assert.IsType<MultipartAlternative>(made.Body)[0]).ContentTransferEncoding);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_spliced_part_goes_out_as_the_bytes_MimeKit_writes_for_it_with_either_line_end()
    {
        var composer = Composer(Path.Combine(Repo.Root, "config", "templates"));
        var content = composer.Content([
            Story("dots", "A dot\r\n.\r\nline, = signs, tabs\tand emoji 🎉", "Summary with trailing spaces   \n" + new string('s', 300) + "\n.\nend"),
            Story("persian", "سلام دنیا", "خلاصه"),
        ]);
        var made = composer.Digest(Reader("0192f0c4-0000-7000-8000-000000000001", "Ada Lovelace ✉"), content, "syndicator-00000000000000000000000000000001");
        var parts = Assert.IsType<MultipartAlternative>(made.Body).OfType<TextPart>().ToList();
        Assert.Contains(parts, p => p.GetType() != typeof(TextPart));
        foreach (var newLine in new[] { NewLineFormat.Dos, NewLineFormat.Unix })
        {
            var format = FormatOptions.Default.Clone();
            format.NewLineFormat = newLine;
            foreach (var part in parts)
            {
                // The same headers and content in a plain TextPart: MimeKit's own way of writing them.
                var plain = new TextPart(part.ContentType.MediaSubtype) { ContentTransferEncoding = part.ContentTransferEncoding, Content = part.Content };
                plain.ContentType.Charset = part.ContentType.Charset;
                using var expected = new MemoryStream();
                plain.WriteTo(format, expected, TestContext.Current.CancellationToken);
                using var written = new MemoryStream();
                part.WriteTo(format, written, TestContext.Current.CancellationToken);
                using var writtenAsync = new MemoryStream();
                await part.WriteToAsync(format, writtenAsync, contentOnly: false, TestContext.Current.CancellationToken);
                Assert.Equal(expected.ToArray(), written.ToArray());
                Assert.Equal(expected.ToArray(), writtenAsync.ToArray());
                var text = System.Text.Encoding.ASCII.GetString(written.ToArray());
                Assert.Equal(newLine == NewLineFormat.Dos, text.Contains("\r\n", StringComparison.Ordinal));
                Assert.DoesNotContain("\r\r", text);
                if (newLine == NewLineFormat.Dos) Assert.DoesNotMatch("[^\r]\n", text);
            }
        }
        // The whole message still reads back to its reader's text, on the wire (CRLF) as in a pickup file (LF).
        var (wire, _) = Wire(made);
        Assert.Contains("Hello Ada Lovelace ✉,", wire.TextBody);
        Assert.Contains("A dot . line, = signs, tabs\tand emoji 🎉", wire.TextBody);
    }

    private static (MimeMessage Parsed, string Text) Wire(MimeMessage message)
    {
        using var wire = new MemoryStream();
        var dos = FormatOptions.Default.Clone();
        dos.NewLineFormat = NewLineFormat.Dos;
        message.WriteTo(dos, wire);
        var text = System.Text.Encoding.UTF8.GetString(wire.ToArray());
        wire.Position = 0;
        return (MimeMessage.Load(wire), text);
    }

    [Fact]
    public void Readers_of_one_edition_with_different_names_and_frequencies_each_get_their_own_values()
    {
        var composer = Composer(Path.Combine(Repo.Root, "config", "templates"), subject: "{{ name }}, {{ count }} for you");
        var content = composer.Content([Story("one", "Headline", "Summary")]);
        var first = composer.Digest(Reader("0192f0c4-0000-7000-8000-00000000000a", "Ada"), content, "syndicator-0a");
        var second = composer.Digest(Reader("0192f0c4-0000-7000-8000-00000000000b", "Grace", DigestFrequency.Weekly), content, "syndicator-0b");
        var third = composer.Digest(Reader("0192f0c4-0000-7000-8000-00000000000c", null), content, "syndicator-0c");

        Assert.All(new[] { first, second, third }, m => Assert.All(((Multipart)m.Body!).OfType<TextPart>(), p => Assert.Equal(ContentEncoding.QuotedPrintable, p.ContentTransferEncoding)));
        Assert.Equal("Ada, 1 for you", first.Subject);
        Assert.Equal("Grace, 1 for you", second.Subject);
        Assert.Equal(", 1 for you", third.Subject);
        Assert.Contains("Hello Ada,", first.TextBody);
        Assert.Contains("daily digest", first.TextBody);
        Assert.Contains("Hello Grace,", second.TextBody);
        Assert.Contains("weekly digest", second.TextBody);
        Assert.Contains("\nHere is the new article since your last daily digest.", third.TextBody);
        Assert.DoesNotContain("Ada", second.HtmlBody);
        Assert.Contains("0192f0c4-0000-7000-8000-00000000000a", first.Headers["List-Unsubscribe"]);
        Assert.Contains("0192f0c4-0000-7000-8000-00000000000b", second.Headers["List-Unsubscribe"]);
    }

    [Theory]
    [InlineData("Hello {{ name }} at {{ unsubscribe_url }}", true)]
    [InlineData("{% if name != \"\" %}Hello {{ name }}{% endif %}{% for a in articles %}{{ a.title | upcase }}{% endfor %}", true)]
    [InlineData("{% if \"\" == name %}Hi{% endif %}", true)]
    [InlineData("Hello {{ name | upcase }}", false)]
    [InlineData("{% assign who = name %}{{ who }}", false)]
    [InlineData("{% if name == \"Bob\" %}Bob{% endif %}", false)]
    [InlineData("{% if name %}named{% endif %}", false)]
    [InlineData("{% if name == empty %}none{% endif %}", false)]
    [InlineData("{{ name.size }}", false)]
    [InlineData("{% capture x %}{{ name }}{% endcapture %}{{ x | upcase }}", false)]
    [InlineData("{% case name %}{% when \"\" %}none{% endcase %}", false)]
    [InlineData("{% if subject != \"\" %}{{ subject }}{% endif %}", false)]
    [InlineData("{% include 'other' %}", false)]
    public void Only_templates_that_show_a_readers_values_as_they_are_are_spliced(string template, bool splicable)
    {
        Assert.True(new FluidParser().TryParse(template, out var parsed, out var error), error);
        Assert.Equal(splicable, ReaderSlots.Splicable(parsed));
    }
}
