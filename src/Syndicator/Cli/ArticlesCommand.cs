using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Articles;

namespace Syndicator.Cli;

internal static class ArticlesCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var limit = new Option<int>("--limit") { Description = "How many articles, newest first.", DefaultValueFactory = _ => 50 };
        var list = new Command("list", "List articles, newest first, with their authors and handles.") { json, limit };
        list.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            var articles = await app.Services.GetRequiredService<ArticleStore>().ListAsync(parse.GetValue(limit), ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(articles, Json));
                return 0;
            }
            var table = new Table().AddColumns("Published", "Slug", "Title", "Author", "Handles", "Tags");
            foreach (var a in articles)
                table.AddRow(Markup.Escape(Shared.IsoTime.Utc(a.PublishedAt)), Markup.Escape(a.Slug), Markup.Escape(a.Title),
                    Markup.Escape(a.Author.Name), Markup.Escape(Handles(a.Author.Handles)), Markup.Escape(string.Join(", ", a.Tags)));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{articles.Count} article(s)");
            return 0;
        }));

        var slug = new Argument<string>("SLUG") { Description = "The article's slug (or id), as 'articles list' shows it." };
        var showJson = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var show = new Command("show", "Show one article in full.") { slug, showJson };
        show.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            var wanted = parse.GetValue(slug)!;
            var article = await SyndicatorCli.FindArticleAsync(app.Services, wanted, ct);
            if (article is null) return 1;
            if (parse.GetValue(showJson))
            {
                Console.WriteLine(JsonSerializer.Serialize(article, Json));
                return 0;
            }
            var grid = new Grid().AddColumn().AddColumn();
            void Row(string label, string? value) => grid.AddRow(new Markup($"[bold]{label}[/]"), new Text(value ?? "-"));
            Row("Id", article.Id);
            Row("Slug", article.Slug);
            Row("Title", article.Title);
            Row("Author", article.Author.Name);
            Row("Handles", Handles(article.Author.Handles));
            Row("Bio", article.Author.Bio);
            Row("Tags", string.Join(", ", article.Tags));
            Row("Published", Shared.IsoTime.Utc(article.PublishedAt));
            Row("Updated", Shared.IsoTime.Utc(article.UpdatedAt));
            Row("URL", article.CanonicalUrl);
            Row("Comments", article.CommentUrl?.Value);
            Row("Image", article.Image is null ? null : $"{article.Image.Url?.Value ?? "(no URL)"} | {article.Image.Caption} | {article.Image.Credit}");
            Row("Warnings", article.Warnings.Count == 0 ? null : string.Join("\n", article.Warnings));
            Row("Summary", article.Summary);
            Row("Hash", article.ContentHash);
            AnsiConsole.Write(grid);
            return 0;
        }));

        var articles = new Command("articles", "Inspect the article store.");
        articles.Add(list);
        articles.Add(show);
        return articles;
    }

    private static string Handles(SocialHandles h) =>
        string.Join(" ", new[] { h.X is null ? null : $"x:@{h.X}", h.Mastodon is null ? null : $"mastodon:@{h.Mastodon}", h.Bluesky is null ? null : $"bluesky:@{h.Bluesky}" }.Where(s => s is not null));
}
