using System.Diagnostics;
using System.Net;
using System.Text;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles;

/// <summary>The edges of reading and cleaning a file on the import's fast path: byte order marks, pipes, white space, forbidden characters.</summary>
public sealed class ImportReadingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void XmlChars_removes_control_characters_lone_surrogates_and_U_FFFE_FFFF_and_keeps_tabs_line_ends_pairs_and_private_use()
    {
        const string clean = "Tab\there\r\nآینده 中文 👨‍👩‍👧‍👦 \uE000\uFFFD end";
        Assert.Same(clean, XmlChars.Clean(clean));
        Assert.Equal("ab", XmlChars.Clean("a\u0000\u0001\u0008\u000B\u000C\u001Fb"));
        Assert.Equal("lone  and  here", XmlChars.Clean("lone \uD83D and \uDE00 here"));
        Assert.Equal("pair 😀 kept, reversed  dropped", XmlChars.Clean("pair \uD83D\uDE00 kept, reversed \uDE00\uD83D dropped"));
        Assert.Equal("xy", XmlChars.Clean("x\uFFFE\uFFFFy"));
        Assert.Equal("high at the end ", XmlChars.Clean("high at the end \uD83D"));
        Assert.Equal("", XmlChars.Clean(null));
    }

    [Fact]
    public void The_summary_makes_every_run_of_white_space_one_space_and_leaves_single_spaces_as_they_are()
    {
        Assert.Equal("a b c d e f", Summaries.FromHtml("<p> a \t b\n\nc  d\u00A0e \u00A0f </p><p>second</p>"));
        const string words = "One space between each word, آینده‌ی ایران, 中文 and 🙂.";
        Assert.Equal(words, Summaries.FromHtml($"<p>{words}</p>"));
    }

    [Fact]
    public void Paragraphs_are_encoded_as_before_one_element_a_line()
    {
        string[] paragraphs = ["a < b & c > d \"q\" 'q'", "آینده‌ی ایران 中文 🙂 é", "", "javascript:alert(1) <script>x</script>"];
        Assert.Equal(string.Join("\n", paragraphs.Select(p => "<p>" + WebUtility.HtmlEncode(p) + "</p>")), HtmlCleaner.Paragraphs(paragraphs));
        Assert.Equal("", HtmlCleaner.Paragraphs([]));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_byte_order_mark_is_not_part_of_the_title_and_a_bad_byte_after_it_is_reported_at_its_offset_in_the_file()
    {
        await using var app = await TestApp.CreateAsync();
        var bom = new byte[] { 0xEF, 0xBB, 0xBF };
        var good = Path.Combine(app.Dir.Path, "bom", "good.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(good)!);
        File.WriteAllBytes(good, [.. bom, .. Encoding.UTF8.GetBytes("Marked آینده\n\nBody.\n")]);
        var bad = Path.Combine(app.Dir.Path, "bom", "bad.txt");
        File.WriteAllBytes(bad, [.. bom, .. Encoding.Latin1.GetBytes("Title\n\nA caf\u00e9.\n")]);

        var imported = await app.Get<ArticleImporter>().ImportFileAsync(good, Ct);
        var refused = await app.Get<ArticleImporter>().ImportFileAsync(bad, Ct);

        Assert.Equal("Marked آینده", Assert.Single(imported.Articles).Title);
        Assert.True(refused.Rejected);
        // "Title\n\nA caf" is 12 bytes after the 3 of the mark: the bad byte is the file's 16th.
        Assert.Contains("byte 0xE9 at offset 15", refused.Rejection);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_named_pipe_is_read_to_its_end_and_imported()
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("mkfifo is POSIX.");
        await using var app = await TestApp.CreateAsync();
        var pipe = Path.Combine(app.Dir.Path, "piped.txt");
        using (var mkfifo = Process.Start("mkfifo", [pipe])) await mkfifo.WaitForExitAsync(Ct);
        // The writer blocks until the import opens the pipe, then writes more than one read's worth in pieces.
        var body = string.Join("\n\n", Enumerable.Range(1, 400).Select(i => $"Paragraph {i} from a pipe, آینده 中文 🙂."));
        var writer = Task.Run(async () =>
        {
            await using var stream = new FileStream(pipe, FileMode.Open, FileAccess.Write);
            foreach (var chunk in Encoding.UTF8.GetBytes($"Piped title\n\n{body}\n").Chunk(1000))
            {
                await stream.WriteAsync(chunk, Ct);
                await stream.FlushAsync(Ct);
            }
        }, Ct);

        var result = await app.Get<ArticleImporter>().ImportFileAsync(pipe, Ct);
        await writer;

        var article = Assert.Single(result.Articles);
        Assert.Equal("Piped title", article.Title);
        var stored = await app.Get<ArticleStore>().FindBySlugAsync(article.Slug.Value, Ct);
        Assert.Contains("<p>Paragraph 400 from a pipe, آینده 中文 ", stored!.BodyHtml);
        Assert.Equal(400, stored.BodyHtml.Split("<p>").Length - 1);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_device_or_a_file_over_the_limit_named_on_the_command_line_is_reported_in_rejected_without_being_copied()
    {
        if (!File.Exists("/dev/zero")) Assert.Skip("No /dev/zero here.");
        await using var app = await TestApp.CreateAsync(settings: new() { ["Import:MaxFileBytes"] = "2048" });
        var big = app.Dir.File("mine/big.txt", "Big\n\n" + new string('x', 3000) + "\n");

        // /dev/zero never ends: it was refused at the limit, then copied into rejected/ until the disk was full.
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync(["/dev/zero", big], null, Ct);

        Assert.Equal(2, summary.Rejected);
        Assert.All(summary.Files, f => Assert.Contains("(Import:MaxFileBytes)", f.Rejection));
        Assert.All(summary.Files, f => Assert.Null(f.RejectedTo));
        var rejected = Path.Combine(app.Inbox, "rejected");
        Assert.Equal(["big.txt.error.txt", "zero.error.txt"], Directory.GetFiles(rejected).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains("from: /dev/zero", File.ReadAllText(Path.Combine(rejected, "zero.error.txt")));
        Assert.True(File.Exists(big));
    }
}
