using System.CommandLine;
using Spectre.Console;
using Syndicator.Hosting;

namespace Syndicator.Cli;

internal static class ConfigCommand
{
    public static Command Create()
    {
        var check = new Command("check", "Validate the configuration and print every problem, each with its key and the fix.");
        check.SetAction(_ =>
        {
            IReadOnlyList<string> problems = [];
            try
            {
                using var app = ConfigProblems.BuildValidated(() => SyndicatorHost.Build([]));
            }
            catch (ConfigProblemsException e)
            {
                problems = e.Problems;
            }
            if (problems.Count == 0)
            {
                AnsiConsole.MarkupLineInterpolated($"[green]Configuration OK[/] ({ConfigLocator.Find()})");
                return 0;
            }
            ConfigProblems.Print(problems);
            return 2;
        });
        var config = new Command("config", "Work with the configuration.");
        config.Add(check);
        return config;
    }
}
