using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Articles;
using Syndicator.Hosting;
using Syndicator.Scheduling;
using Syndicator.Shared;

namespace Syndicator.Cli;

/// <summary>
/// <c>syndicator</c> with no verb (or <c>run</c>) runs the service; the other verbs work on the same configuration
/// and store, then exit. Exit codes: 0 success, 1 the work failed (e.g. rejected files), 2 bad configuration.
/// </summary>
public static class SyndicatorCli
{
    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Syndicator: feeds, social announcements and email digests for an online magazine.");
        var run = new Command("run", "Run the service: HTTP endpoint and scheduled jobs (the default when no verb is given).");
        run.SetAction((_, ct) => ServiceCommand.RunAsync(ct));
        root.SetAction((_, ct) => ServiceCommand.RunAsync(ct));
        root.Add(run);
        root.Add(ImportCommand.Create());
        root.Add(ConfigCommand.Create());
        root.Add(ArticlesCommand.Create());
        root.Add(DbCommand.Create());
        root.Add(HealthCommand.Create());
        root.Add(FeedsCommand.Create());
        root.Add(AnnounceCommand.Create());
        root.Add(SubscribersCommand.Create());
        root.Add(SuppressionsCommand.Create());
        root.Add(FeedbackCommand.Create());
        root.Add(DigestCommand.Create());
        root.Add(StatusCommand.Create());
        root.Add(DeliveriesCommand.Create());
        root.Add(JobsCommand.Create());
        root.Add(ApiKeysCommand.Create());
        root.Add(ActivityPubCommand.Create());

        // Redirected output (logs, systemd's journal, tests) would otherwise wrap at 80 columns mid-message.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 400;
        var parsed = root.Parse(args);
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
    }

    /// <summary>The article a verb names by slug or id; or null, having said on stderr that none has it and how to see the slugs.</summary>
    internal static async Task<Article?> FindArticleAsync(IServiceProvider services, string wanted, CancellationToken cancellationToken)
    {
        var article = await services.GetRequiredService<ArticleStore>().FindBySlugOrIdAsync(wanted, cancellationToken);
        if (article is null) await Console.Error.WriteLineAsync($"No article has the slug or id '{Shown.Value(wanted)}'. Run 'syndicator articles list' to see the slugs.");
        return article;
    }

    /// <summary>Says on stderr that no job has the name given, listing the jobs.</summary>
    internal static Task NoSuchJobAsync(string wanted) =>
        Console.Error.WriteLineAsync($"There is no job called '{Shown.Value(wanted)}'. The jobs are {string.Join(", ", JobCatalog.Names)}.");

    /// <summary>
    /// Builds the app for a verb, turning configuration problems into one readable list and exit code 2
    /// instead of a stack trace.
    /// </summary>
    internal static async Task<int> WithAppAsync(Func<WebApplication, Task<int>> action, Action<IServiceCollection>? services = null)
    {
        WebApplication app;
        try
        {
            app = ConfigProblems.BuildValidated(() => SyndicatorHost.Build([], services: services));
        }
        catch (ConfigProblemsException e)
        {
            ConfigProblems.Print(e.Problems);
            return 2;
        }
        await using (app)
        {
            try
            {
                return await action(app);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 1;
            }
        }
    }
}
