using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Feeds;
using Syndicator.Storage;

namespace Syndicator.Cli;

internal static class FeedsCommand
{
    public static Command Create()
    {
        var output = new Option<string?>("--out") { Description = "Write the feeds to this folder instead of Feeds:OutputPath." };
        var full = new Option<bool>("--full") { Description = "Rebuild every feed, not only those changed since the last build (unchanged files are still left alone)." };
        var build = new Command("build", "Build the RSS, Atom and JSON feeds and print what was written and what was left unchanged.") { output, full };
        build.SetAction((parse, ct) =>
        {
            var outDir = parse.GetValue(output) is { } o ? Path.GetFullPath(o) : null;
            return SyndicatorCli.WithAppAsync(async app =>
            {
                await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
                var builder = app.Services.GetRequiredService<FeedBuilder>();
                FeedBuildReport report = null!;
                await AnsiConsole.Progress().AutoClear(true).StartAsync(async progress =>
                {
                    var task = progress.AddTask("Building feeds", maxValue: 1);
                    report = await builder.BuildAsync(parse.GetValue(full),
                        new Progress<(int Done, int Total)>(p => { task.MaxValue = p.Total; task.Value = p.Done; }), ct, exportTo: outDir);
                    task.StopTask();
                });
                foreach (var path in report.Written.Take(50)) AnsiConsole.MarkupLineInterpolated($"written    {path}");
                if (report.Written.Count > 50) AnsiConsole.MarkupLineInterpolated($"... and {report.Written.Count - 50:N0} more");
                AnsiConsole.MarkupLineInterpolated($"[bold]{report.Written.Count:N0} written, {report.Unchanged:N0} unchanged[/] ({report.Scopes:N0} feeds, {report.Elapsed.TotalMilliseconds:N0} ms) in {outDir ?? builder.Output.Root}");
                // A feed that failed, or was written without some articles, is not a success: say which and exit non-zero.
                foreach (var failure in report.Failures) AnsiConsole.MarkupLineInterpolated($"[red]failed[/]     {failure}");
                return report.Failures.Count == 0 ? 0 : 1;
            });
        });
        var feeds = new Command("feeds", "RSS 2.0, Atom 1.0 and JSON Feed output.");
        feeds.Add(build);
        return feeds;
    }
}
