using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Storage;

namespace Syndicator.Cli;

internal static class DbCommand
{
    public static Command Create()
    {
        var migrate = new Command("migrate", "Apply the pending database migrations.");
        migrate.SetAction((_, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            var report = await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            foreach (var name in report.Applied) AnsiConsole.MarkupLineInterpolated($"applied  {name}");
            AnsiConsole.MarkupLineInterpolated($"[green]Schema up to date[/]: {report.Applied.Count} applied now, {report.AlreadyApplied.Count} already applied.");
            return 0;
        }));
        var db = new Command("db", "Database maintenance.");
        db.Add(migrate);
        return db;
    }
}
