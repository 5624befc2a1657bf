using System.Text;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles;

/// <summary>Import through the real composition root into a real store, on SQLite and on PostgreSQL.</summary>
public sealed class ImportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task The_sample_article_is_stored_with_its_author_handle_and_image(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([Repo.SampleArticle], null, Ct);

        Assert.Equal(1, summary.Created);
        var article = Assert.Single(await app.Get<ArticleStore>().ListAsync(10, Ct));
        Assert.Equal("the-iranian-regime-is-losing-its-regional-mystique", article.Slug);
        Assert.Equal("Hassan Mahmoudi", article.Author.Name);
        Assert.Equal("hassan_mahmou1", article.Author.Handles.X);
        Assert.Equal("Qasim Musleh", article.Image?.Caption);
        Assert.Equal("https://magazine.example/the-iranian-regime-is-losing-its-regional-mystique", article.CanonicalUrl);
        Assert.Equal(64, article.ContentHash.Length);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_file_refused_inside_a_batch_is_rolled_back_alone_and_every_other_file_of_the_batches_is_stored(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        // 150 files over two batches; in the middle of the first, a JSON file whose first article is stored before its
        // second is refused (its slug is another file's): nothing of that file is written, the batch goes on.
        for (var i = 0; i < 150; i++)
            app.Dir.File($"many/n-{i:D3}.md", $"---\ntitle: \"Piece {i} آینده 🙂\"\n{(i == 0 ? "slug: shared-slug\n" : "")}---\nBody {i}.\n");
        app.Dir.File("many/n-075b.json", "[{\"title\":\"Pair one 中文\",\"body\":\"x\"},{\"title\":\"Pair two\",\"slug\":\"shared-slug\",\"body\":\"y\"}]");

        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([Path.Combine(app.Dir.Path, "many")], null, Ct);

        Assert.Equal((150, 1), (summary.Created, summary.Rejected));
        var refused = Assert.Single(summary.Files, f => f.Rejected);
        Assert.EndsWith("n-075b.json", refused.Path);
        Assert.Contains("shared-slug", refused.Rejection);
        Assert.True(File.Exists(refused.RejectedTo));
        var stored = await app.Get<ArticleStore>().ListAsync(1000, Ct);
        Assert.Equal(150, stored.Count);
        Assert.DoesNotContain(stored, a => a.Title.StartsWith("Pair", StringComparison.Ordinal));
        Assert.Equal("Piece 0 آینده 🙂", Assert.Single(stored, a => a.Slug.Value == "shared-slug").Title);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Files_over_three_batches_come_back_in_file_order_each_with_its_own_outcome_while_the_next_batch_is_read_ahead(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        // 250 files: batch one all good, batch two with a file whose front matter cannot be read, batch three with a
        // file whose bytes are not UTF-8 and one that takes another file's slug.
        var names = new List<string>();
        for (var i = 0; i < 250; i++)
        {
            var name = $"f-{i:D3}.md";
            names.Add(name);
            var path = app.Dir.File($"three/{name}", i switch
            {
                150 => "---\ntitle: Broken\ntags: [a, b\n---\nBody\n",
                210 => "---\ntitle: \"Taken\"\nslug: slug-007\n---\nBody.\n",
                _ => $"---\ntitle: \"مقاله {i} 🚀\"\nslug: slug-{i:D3}\n---\nBody {i} 中文.\n",
            });
            if (i == 230) File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes("---\ntitle: Bad bytes\n---\n"), 0xC3, 0x28, (byte)'\n']);
        }

        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([Path.Combine(app.Dir.Path, "three")], null, Ct);

        Assert.Equal(names, summary.Files.Select(f => Path.GetFileName(f.Path)));
        Assert.Equal([150, 210, 230], summary.Files.Select((f, i) => (f, i)).Where(x => x.f.Rejected).Select(x => x.i));
        Assert.Contains("YAML", summary.Files[150].Rejection);
        Assert.Contains("slug-007", summary.Files[210].Rejection);
        Assert.Contains("UTF-8", summary.Files[230].Rejection);
        Assert.All(summary.Files.Where(f => !f.Rejected), f => Assert.Equal($"مقاله {int.Parse(Path.GetFileNameWithoutExtension(f.Path)[2..])} 🚀", Assert.Single(f.Articles).Title));
        Assert.Equal(247, (await app.Get<ArticleStore>().ListAsync(1000, Ct)).Count);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_caller_that_stops_after_the_first_file_gets_the_first_batch_stored_and_nothing_of_the_batch_read_ahead(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        var files = Enumerable.Range(0, 250).Select(i => app.Dir.File($"stop/s-{i:D3}.txt", $"Title {i} ✉\n\nBody {i}.\n")).ToList();

        await foreach (var first in app.Get<ArticleImporter>().ImportFilesAsync(files, Ct))
        {
            Assert.EndsWith("s-000.txt", first.Path);
            break;
        }

        // The first batch was committed before its first result came; the second, read ahead, is never stored.
        var stored = await app.Get<ArticleStore>().ListAsync(1000, Ct);
        Assert.Equal(ArticleImporter.FilesPerTransaction, stored.Count);
        Assert.DoesNotContain(stored, a => a.Title == $"Title {ArticleImporter.FilesPerTransaction} ✉");
        // And the import can run again over all of them: the rest are created, the first batch unchanged.
        var again = await app.Get<ArticleFiles>().ImportPathsAsync([Path.Combine(app.Dir.Path, "stop")], null, Ct);
        Assert.Equal((150, 0), (again.Created, again.Rejected));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Each_file_of_a_batch_sees_what_the_earlier_files_of_the_batch_did_and_a_refused_ones_author_is_never_written(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        var files = app.Dir.Path;
        var old = Assert.Single((await app.Get<ArticleFiles>().ImportPathsAsync([app.Dir.File("before/old.md", "---\ntitle: Old\nslug: moving\n---\nOld body.\n")], null, Ct)).Files[0].Articles);
        // One batch, in this order: two files make the same slug from one title; a file takes over the old article by
        // its id and renames its slug, which a later file then takes; two files bring one new author; the last is refused.
        app.Dir.File("batch/a-1.md", "---\ntitle: Same title\n---\nFirst.\n");
        app.Dir.File("batch/a-2.md", "---\ntitle: Same title\n---\nSecond.\n");
        app.Dir.File("batch/b.md", $"---\ntitle: Old, moved\nid: {old.Id}\nslug: moved\n---\nOld body.\n");
        app.Dir.File("batch/c.md", "---\ntitle: زاینده‌رود\nslug: moving\n---\nC body 🌊.\n");
        app.Dir.File("batch/d.md", "---\ntitle: D\nauthor: 新作者 Zed\n---\nD body.\n");
        app.Dir.File("batch/e.md", "---\ntitle: E\nauthor: 新作者 Zed\n---\nE body.\n");
        app.Dir.File("batch/f.md", "---\ntitle: F\nslug: same-title\nauthor: Refused Author\n---\nF body.\n");

        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([Path.Combine(files, "batch")], null, Ct);

        Assert.Equal((5, 1, 1), (summary.Created, summary.Updated, summary.Rejected));
        Assert.EndsWith("f.md", Assert.Single(summary.Files, f => f.Rejected).Path);
        var store = app.Get<ArticleStore>();
        Assert.Contains("First.", (await store.FindBySlugAsync("same-title", Ct))!.BodyHtml);
        Assert.Contains("Second.", (await store.FindBySlugAsync("same-title-2", Ct))!.BodyHtml);
        Assert.Equal(old.Id, (await store.FindBySlugAsync("moved", Ct))!.Id);
        Assert.Equal("زاینده‌رود", (await store.FindBySlugAsync("moving", Ct))!.Title);
        var d = (await store.FindBySlugAsync("d", Ct))!;
        Assert.Equal(d.Author, (await store.FindBySlugAsync("e", Ct))!.Author);
        Assert.Equal("新作者 Zed", d.Author.Name);
        await using (var connection = await app.Get<Database>().OpenAsync(Ct))
            Assert.Equal((1, 0), (
                await Dapper.SqlMapper.ExecuteScalarAsync<int>(connection, "SELECT COUNT(*) FROM authors WHERE name = '新作者 Zed'"),
                await Dapper.SqlMapper.ExecuteScalarAsync<int>(connection, "SELECT COUNT(*) FROM authors WHERE name = 'Refused Author'")));

        var again = await app.Get<ArticleFiles>().ImportPathsAsync([Path.Combine(files, "batch")], null, Ct);
        Assert.Equal((0, 0, 6, 1), (again.Created, again.Updated, again.Unchanged, again.Rejected));
        Assert.Equal(6, await store.CountAsync(Ct));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Importing_the_same_file_again_changes_nothing(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        var files = app.Get<ArticleFiles>();
        var first = await app.Get<ArticleStore>().StoredAsync((await files.ImportPathsAsync([Repo.SampleArticle], null, Ct)).Files[0].Articles[0], Ct);
        var again = await files.ImportPathsAsync([Repo.SampleArticle], null, Ct);

        Assert.Equal(1, again.Unchanged);
        var stored = Assert.Single(await app.Get<ArticleStore>().ListAsync(10, Ct));
        Assert.Equal(first.Id, stored.Id);
        Assert.Equal(first.PublishedAt, stored.PublishedAt);
        Assert.Equal(first.UpdatedAt, stored.UpdatedAt);
        Assert.Equal(first.ContentHash, stored.ContentHash);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task An_edited_file_updates_the_article_in_place_keeping_id_slug_and_first_published_date(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        var files = app.Get<ArticleFiles>();
        var path = app.Dir.File("edit/op-ed.txt", "Original title\n\nFirst body.\n\n*Jane Doe writes. She tweets at @janed.\n");
        var original = await app.Get<ArticleStore>().StoredAsync((await files.ImportPathsAsync([path], null, Ct)).Files[0].Articles[0], Ct);

        await Task.Delay(20, Ct);
        File.WriteAllText(path, "Edited title\n\nSecond body.\n\n*Jane Doe writes. She tweets at @janed.\n");
        var result = await files.ImportPathsAsync([path], null, Ct);

        Assert.Equal(1, result.Updated);
        var stored = Assert.Single(await app.Get<ArticleStore>().ListAsync(10, Ct));
        Assert.Equal(original.Id, stored.Id);
        Assert.Equal(original.Slug, stored.Slug);
        Assert.Equal("Edited title", stored.Title);
        Assert.Equal(original.PublishedAt, stored.PublishedAt);
        Assert.True(stored.UpdatedAt > original.UpdatedAt, "updated-at should move on an edit");
        Assert.NotEqual(original.ContentHash, stored.ContentHash);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_sidecar_sets_date_url_slug_tags_and_image_url(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider);
        var path = app.Dir.File("in/piece.txt", "A piece\n\nBody.\n\nIMAGE: A river. Reuters.\n");
        app.Dir.File("in/piece.meta.yaml", "date: 2026-03-04T05:06:07Z\nurl: https://magazine.example/2026/piece\nslug: the-piece\ntags: [rivers, climate]\nimage: { url: https://cdn.example/river.jpg }\ncommentUrl: https://talk.example/piece\n");

        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([Path.GetDirectoryName(path)!], null, Ct);

        Assert.Equal(1, summary.Created); // the sidecar itself is not an article
        var article = await app.Get<ArticleStore>().FindBySlugAsync("the-piece", Ct);
        Assert.NotNull(article);
        Assert.Equal(new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero), article.PublishedAt);
        Assert.Equal("https://magazine.example/2026/piece", article.CanonicalUrl);
        Assert.Equal(["climate", "rivers"], article.Tags);
        Assert.Equal(new ArticleImage(Syndicator.Shared.WebUrl.Parse("https://cdn.example/river.jpg"), "A river", "Reuters"), article.Image);
        Assert.Equal("https://talk.example/piece", article.CommentUrl);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Two_different_files_with_the_same_title_get_different_slugs()
    {
        await using var app = await TestApp.CreateAsync();
        var a = app.Dir.File("a/one.txt", "Same title\n\nBody one.\n");
        var b = app.Dir.File("b/two.txt", "Same title\n\nBody two.\n");
        await app.Get<ArticleFiles>().ImportPathsAsync([a, b], null, Ct);

        var slugs = (await app.Get<ArticleStore>().ListAsync(10, Ct)).Select(x => x.Slug.Value).Order().ToList();
        Assert.Equal(["same-title", "same-title-2"], slugs);
    }

    public static TheoryData<string, string, string, int?> BadFiles => new()
    {
        { "no-title.txt", "\n\n\n", "no title", 1 },
        { "no-title.md", "---\nauthor: X\n---\nJust body.\n", "no title", 1 },
        { "bad-front-matter.md", "---\ntitle: T\ntags: [a, b\n---\nBody\n", "unreadable YAML", null },
        { "bad-date.md", "---\ntitle: T\ndate: next week\n---\nBody\n", "not a date", 3 },
        { "bad-date-json.json", "{\n \"title\": \"T\",\n \"body\": \"B\",\n \"date\": \"31/31/2026\"\n}", "not a date", 4 },
        { "bad.json", "{ \"title\": ", "invalid JSON", 1 },
        { "notes.docx", "binary-ish", "not articles", null },
    };

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(BadFiles))]
    public async Task A_bad_file_in_the_inbox_is_set_aside_with_an_error_file_naming_the_problem(string name, string content, string problem, int? line)
    {
        await using var app = await TestApp.CreateAsync();
        Directory.CreateDirectory(app.Inbox);
        File.WriteAllText(Path.Combine(app.Inbox, name), content);

        var summary = await app.Get<ArticleFiles>().ScanInboxAsync(Ct);

        Assert.Equal(1, summary.Rejected);
        Assert.False(File.Exists(Path.Combine(app.Inbox, name)), "the bad file should have left the inbox");
        var rejected = Path.Combine(app.Inbox, "rejected", name);
        Assert.True(File.Exists(rejected), "the bad file should be kept in rejected/");
        var error = File.ReadAllText(rejected + ".error.txt");
        Assert.Contains(problem, error);
        if (line is not null) Assert.Contains($"line {line}:", error);
        Assert.Equal(0, await app.Get<ArticleStore>().CountAsync(Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_file_that_is_not_UTF8_is_rejected_with_the_line_of_the_bad_byte()
    {
        await using var app = await TestApp.CreateAsync();
        Directory.CreateDirectory(app.Inbox);
        var latin1 = Encoding.Latin1.GetBytes("Title\n\nA caf\u00e9 in Paris.\n");
        File.WriteAllBytes(Path.Combine(app.Inbox, "latin1.txt"), latin1);

        var summary = await app.Get<ArticleFiles>().ScanInboxAsync(Ct);

        Assert.Equal(1, summary.Rejected);
        var error = File.ReadAllText(Path.Combine(app.Inbox, "rejected", "latin1.txt.error.txt"));
        Assert.Contains("line 3:", error);
        Assert.Contains("not valid UTF-8", error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_body_over_the_size_limit_is_rejected_naming_the_setting()
    {
        await using var app = await TestApp.CreateAsync(settings: new() { ["Import:MaxBodyBytes"] = "2048" });
        Directory.CreateDirectory(app.Inbox);
        File.WriteAllText(Path.Combine(app.Inbox, "long.txt"), "Long one\n\n" + string.Join("\n\n", Enumerable.Repeat("Word word word word word.", 200)));

        var summary = await app.Get<ArticleFiles>().ScanInboxAsync(Ct);

        Assert.Equal(1, summary.Rejected);
        Assert.Contains("Import:MaxBodyBytes", File.ReadAllText(Path.Combine(app.Inbox, "rejected", "long.txt.error.txt")));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task One_bad_file_never_stops_the_others_and_good_files_move_to_processed_with_their_sidecar()
    {
        await using var app = await TestApp.CreateAsync();
        Directory.CreateDirectory(app.Inbox);
        File.WriteAllText(Path.Combine(app.Inbox, "a-bad.md"), "---\ntitle: [\n---\n");
        File.WriteAllText(Path.Combine(app.Inbox, "b-good.txt"), "Good one\n\nBody.\n");
        File.WriteAllText(Path.Combine(app.Inbox, "b-good.meta.json"), "{ \"tags\": [\"x\"] }");
        File.WriteAllText(Path.Combine(app.Inbox, "c-good.md"), "# Another\n\nBody.\n");

        var summary = await app.Get<ArticleFiles>().ScanInboxAsync(Ct);

        Assert.Equal(2, summary.Created);
        Assert.Equal(1, summary.Rejected);
        Assert.True(File.Exists(Path.Combine(app.Inbox, "processed", "b-good.txt")));
        Assert.True(File.Exists(Path.Combine(app.Inbox, "processed", "b-good.meta.json")));
        Assert.True(File.Exists(Path.Combine(app.Inbox, "rejected", "a-bad.md.error.txt")));
        Assert.Empty(Directory.GetFiles(app.Inbox));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_rejected_file_named_on_the_command_line_is_copied_aside_and_the_original_left_in_place()
    {
        await using var app = await TestApp.CreateAsync();
        var path = app.Dir.File("mine/empty.txt", "");

        var summary = await app.Get<ArticleFiles>().ImportPathsAsync([path], null, Ct);

        Assert.Equal(1, summary.Rejected);
        Assert.True(File.Exists(path));
        Assert.True(File.Exists(Path.Combine(app.Inbox, "rejected", "empty.txt.error.txt")));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_file_still_being_written_waits_for_the_next_scan()
    {
        await using var app = await TestApp.CreateAsync(settings: new() { ["Import:SettleSeconds"] = "60" });
        Directory.CreateDirectory(app.Inbox);
        File.WriteAllText(Path.Combine(app.Inbox, "fresh.txt"), "Fresh\n\nBody.\n");

        var summary = await app.Get<ArticleFiles>().ScanInboxAsync(Ct);

        Assert.Empty(summary.Files);
        Assert.True(File.Exists(Path.Combine(app.Inbox, "fresh.txt")));
    }
}
