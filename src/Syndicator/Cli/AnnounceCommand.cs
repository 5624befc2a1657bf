using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Cli;

/// <summary>
/// <c>syndicator announce</c>: send what is due; with <c>--article</c> announce one article now (on the accounts it
/// missed too), <c>--again</c> on purpose, <c>--hold</c>/<c>--unhold</c> it; <c>--missed</c> lists the articles that
/// missed accounts, with the reason; <c>--dry-run</c> previews.
/// </summary>
internal static class AnnounceCommand
{
    public static Command Create()
    {
        var articleOption = new Option<string?>("--article") { Description = "Only this article (slug or id); announces it now on every account it belongs to, even if it missed them (older than Announcements:MaxAgeHours, or imported before the account existed)." };
        var again = new Option<bool>("--again") { Description = "With --article: announce it again on purpose, as a new recorded delivery per account." };
        var account = new Option<string?>("--account") { Description = "With --again: only on this account (its name in Announcements:Accounts)." };
        var hold = new Option<bool>("--hold") { Description = "With --article: keep it off social media; its announcements wait until --unhold." };
        var unhold = new Option<bool>("--unhold") { Description = "With --article: lift the hold; what is due goes out on the next run." };
        var missed = new Option<bool>("--missed") { Description = "List the recent articles that missed accounts they belong to, and why." };
        var limit = new Option<int>("--limit") { Description = "With --missed: how many recent articles to look through.", DefaultValueFactory = _ => 200 };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print each composed post with its length per network; send nothing." };
        var command = new Command("announce", "Post due announcements now; announce, announce again, hold or preview one article; list the ones that missed accounts.")
            { articleOption, again, account, hold, unhold, missed, limit, dryRun };
        command.Validators.Add(result =>
        {
            var hasArticle = result.GetValue(articleOption) is not null;
            if (result.GetValue(again) && !hasArticle) result.AddError("--again needs --article SLUG: which article to announce again.");
            if (result.GetValue(hold) && !hasArticle) result.AddError("--hold needs --article SLUG: which article to hold.");
            if (result.GetValue(unhold) && !hasArticle) result.AddError("--unhold needs --article SLUG: which article to let go.");
            if (result.GetValue(account) is not null && !result.GetValue(again)) result.AddError("--account goes with --again.");
            if (new[] { result.GetValue(again), result.GetValue(hold), result.GetValue(unhold), result.GetValue(missed), result.GetValue(dryRun) }.Count(b => b) > 1)
                result.AddError("Give one of --again, --hold, --unhold, --missed and --dry-run.");
        });
        command.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var services = app.Services;
            var announcer = services.GetRequiredService<Announcer>();
            var store = services.GetRequiredService<ArticleStore>();
            Article? article = null;
            if (parse.GetValue(articleOption) is { } wanted)
            {
                article = await SyndicatorCli.FindArticleAsync(services, wanted, ct);
                if (article is null) return 1;
            }

            if (parse.GetValue(missed))
            {
                var desk = services.GetRequiredService<MissedAnnouncements>();
                var found = article is not null ? await desk.OfAsync([article], ct) : await desk.RecentAsync(Math.Max(1, parse.GetValue(limit)), ct);
                var table = new Table().AddColumns("Slug", "Title", "Account", "Why");
                foreach (var m in found)
                    table.AddRow(Markup.Escape(m.Article.Slug), Markup.Escape(m.Article.Title), Markup.Escape(m.Account.Name), Markup.Escape(m.Explanation));
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLineInterpolated($"{found.Count} missed announcement(s). 'syndicator announce --article SLUG' announces an article on every account it missed.");
                return 0;
            }

            if (parse.GetValue(hold) || parse.GetValue(unhold))
            {
                var holds = services.GetRequiredService<HoldAnnouncements>();
                if (parse.GetValue(hold))
                    AnsiConsole.WriteLine(await holds.HoldAsync(article!, ct)
                        ? $"“{article!.Title}” is held: none of its announcements goes out until 'syndicator announce --article {article.Slug} --unhold'."
                        : $"“{article!.Title}” was already held; nothing changed.");
                else
                    AnsiConsole.WriteLine(await holds.UnholdAsync(article!, ct)
                        ? $"“{article!.Title}” is no longer held; its announcements go out on the next run."
                        : $"“{article!.Title}” was not held; nothing changed.");
                return 0;
            }

            if (parse.GetValue(dryRun))
            {
                var articles = article is not null ? [article] : await PendingArticlesAsync(services, store, ct);
                var shown = 0;
                foreach (var a in articles)
                    foreach (var (to, post) in announcer.Preview(a))
                    {
                        var length = PostLength.Measure(to.Network, post.Text);
                        var max = PostLength.Limit(to.Network);
                        AnsiConsole.Write(new Panel(new Text(post.Text))
                            .Header($"{to.Name} ({to.Network}) — {length}/{max}{(length > max ? " TOO LONG" : "")}")
                            .Border(BoxBorder.Rounded));
                        shown++;
                    }
                AnsiConsole.MarkupLineInterpolated($"[bold]{shown} post(s) previewed; nothing was sent.[/]");
                return 0;
            }

            IReadOnlyList<AccountReport> reports;
            if (article is null) reports = await announcer.SendDueAsync(null, ct);
            else
            {
                var result = parse.GetValue(again)
                    ? await services.GetRequiredService<AnnounceAgain>().RunAsync(article, parse.GetValue(account), ct)
                    : await services.GetRequiredService<AnnounceNow>().RunAsync(article, ct);
                if (result.Refusal is { } refusal)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]Not announced:[/] {refusal}");
                    return 1;
                }
                AnsiConsole.WriteLine(result.Created.Count == 0
                    ? $"No new announcement of “{article.Title}” was needed; what waited for it was sent now."
                    : $"New announcement(s) of “{article.Title}” on {string.Join(", ", result.Created)}.");
                reports = result.Reports;
            }
            var sent = new Table().AddColumns("Account", "Network", "Sent", "To retry", "Failed");
            foreach (var r in reports) sent.AddRow(Markup.Escape(r.Account), r.Network.ToString(), r.Report.Sent.ToString(), r.Report.Retrying.ToString(), (r.Report.Failed + r.Report.Unconfirmed).ToString());
            AnsiConsole.Write(sent);
            if (reports.Any(r => r.Report.LeftWorkFailed))
                AnsiConsole.MarkupLine("Some posts failed: 'syndicator deliveries list --state failed' says why and what to do.");
            return reports.Any(r => r.Report.LeftWorkFailed) ? 1 : 0;
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
