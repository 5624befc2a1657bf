using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Cli;

internal static class AnnounceCommand
{
    public static Command Create()
    {
        var articleOption = new Option<string?>("--article") { Description = "Only this article (id or slug); announces it now even if it is older than Announcements:MaxAgeHours." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print each composed post with its length per network; send nothing." };
        var command = new Command("announce", "Post due announcements now, or preview them with --dry-run.") { articleOption, dryRun };
        command.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var announcer = app.Services.GetRequiredService<Announcer>();
            var store = app.Services.GetRequiredService<ArticleStore>();
            Article? article = null;
            if (parse.GetValue(articleOption) is { } wanted)
            {
                article = await store.FindByIdAsync(wanted, ct) ?? await store.FindBySlugAsync(wanted, ct);
                if (article is null)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]No article with id or slug '{wanted}'.[/] Run 'syndicator articles list' to see them.");
                    return 1;
                }
            }

            if (parse.GetValue(dryRun))
            {
                var articles = article is not null ? [article] : await PendingArticlesAsync(app.Services, store, ct);
                var shown = 0;
                foreach (var a in articles)
                    foreach (var (account, post) in announcer.Preview(a))
                    {
                        var length = PostLength.Measure(account.Network, post.Text);
                        var limit = PostLength.Limit(account.Network);
                        AnsiConsole.Write(new Panel(new Text(post.Text))
                            .Header($"{account.Name} ({account.Network}) — {length}/{limit}{(length > limit ? " TOO LONG" : "")}")
                            .Border(BoxBorder.Rounded));
                        shown++;
                    }
                AnsiConsole.MarkupLineInterpolated($"[bold]{shown} post(s) previewed; nothing was sent.[/]");
                return 0;
            }

            var reports = article is not null ? await announcer.AnnounceNowAsync(article, ct) : await announcer.SendDueAsync(null, ct);
            var table = new Table().AddColumns("Account", "Network", "Sent", "To retry", "Failed");
            foreach (var r in reports) table.AddRow(Markup.Escape(r.Account), r.Network.ToString(), r.Report.Sent.ToString(), r.Report.Retrying.ToString(), r.Report.Failed.ToString());
            AnsiConsole.Write(table);
            return reports.Any(r => r.Report.Failed > 0) ? 1 : 0;
        }));
        return command;
    }

    private static async Task<IReadOnlyList<Article>> PendingArticlesAsync(IServiceProvider services, ArticleStore store, CancellationToken ct)
    {
        var deliveries = services.GetRequiredService<DeliveryStore>();
        var ids = new List<string>();
        foreach (var state in new[] { DeliveryState.Pending, DeliveryState.RetryWait })
            ids.AddRange((await deliveries.ListAsync(state, null, null, 1000, ct)).Where(d => d.Subject.Kind == SubjectKind.Article).Select(d => d.Subject.Id));
        var articles = new List<Article>();
        foreach (var id in ids.Distinct())
            if (await store.FindByIdAsync(id, ct) is { } a) articles.Add(a);
        return articles;
    }
}
