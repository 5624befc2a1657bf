using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Articles.Import;
using Syndicator.Storage;

namespace Syndicator.Cli;

internal static class ImportCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("PATH") { Description = "Article files (.txt, .md, .json) or folders to import.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("import", "Import article files and folders. Re-importing updates articles in place.") { paths };
        command.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var files = app.Services.GetRequiredService<ArticleFiles>();
            ImportSummary summary = null!;
            await AnsiConsole.Progress().AutoClear(true).StartAsync(async progress =>
            {
                var task = progress.AddTask("Importing", maxValue: double.MaxValue);
                summary = await files.ImportPathsAsync(parse.GetValue(paths)!, new Progress<string>(f => task.Description = Markup.Escape(Path.GetFileName(f))), ct);
                task.StopTask();
            });

            foreach (var file in summary.Files)
            {
                if (file.Rejected)
                    AnsiConsole.MarkupLineInterpolated($"[red]rejected[/]  {file.Path}: {file.Rejection}{(file.RejectedTo is null ? "" : $" (copied to {file.RejectedTo})")}");
                foreach (var article in file.Articles)
                {
                    AnsiConsole.MarkupLineInterpolated($"{article.Change.ToString().ToLowerInvariant(),-9} {article.Slug.Value}  ({article.AuthorName})");
                    foreach (var warning in article.Warnings)
                        AnsiConsole.MarkupLineInterpolated($"[yellow]warning[/]   {file.Path}: {warning}");
                }
            }
            AnsiConsole.MarkupLineInterpolated($"[bold]{summary}[/]");
            return summary.Rejected > 0 ? 1 : 0;
        }));
        return command;
    }
}
