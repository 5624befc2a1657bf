using Spectre.Console;
using Syndicator.Hosting;
using Syndicator.Storage;

namespace Syndicator.Cli;

internal static class ServiceCommand
{
    /// <summary>Runs until Ctrl-C or SIGTERM. Refuses to start on bad configuration or a schema newer than this build.</summary>
    public static async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        Microsoft.AspNetCore.Builder.WebApplication app;
        try
        {
            app = ConfigProblems.BuildValidated(() => SyndicatorHost.Build([]));
        }
        catch (ConfigProblemsException e)
        {
            ConfigProblems.Print(e.Problems);
            AnsiConsole.MarkupLine("Syndicator did not start. Fix the keys above, then run [bold]syndicator config check[/].");
            return 2;
        }

        await using (app)
        {
            try
            {
                await app.RunAsync(cancellationToken);
                return 0;
            }
            catch (SchemaTooNewException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]Syndicator did not start:[/] {e.Message}");
                return 1;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]Syndicator stopped on an error:[/] {e.Message}");
                return 1;
            }
        }
    }
}
