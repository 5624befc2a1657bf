using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Digests;
using Syndicator.Storage;

namespace Syndicator.Cli;

/// <summary><c>syndicator suppressions list|lift|export|import</c>: the addresses never mailed again, and the publisher's way to change that.</summary>
internal static class SuppressionsCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var list = new Command("list", "List suppressed addresses with the reason, the source and the date.") { json };
        list.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var all = await app.Services.GetRequiredService<SuppressionList>().ListAsync(ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(all, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } }));
                return 0;
            }
            var table = new Table().AddColumns("E-mail", "Reason", "Source", "Since (UTC)", "Detail");
            foreach (var s in all)
                table.AddRow(Markup.Escape(s.Email), SuppressionList.Column(s.Reason), Markup.Escape(s.Source), s.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm"), Markup.Escape(s.Detail ?? ""));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{all.Count} suppressed address(es)");
            return 0;
        }));

        var liftEmail = new Argument<string>("EMAIL");
        var lift = new Command("lift", "Take an address off the suppression list (only when the reader asked to be mailed again); sign them up or add them afterwards.") { liftEmail };
        lift.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var email = parse.GetValue(liftEmail)!;
            var suppressions = app.Services.GetRequiredService<SuppressionList>();
            if (await suppressions.FindAsync(email, ct) is not { } entry)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{email} is not on the suppression list.[/]");
                return 1;
            }
            await suppressions.LiftAsync(email, ct);
            AnsiConsole.MarkupLineInterpolated($"lifted: {entry.Email} ({SuppressionList.Column(entry.Reason)} since {entry.CreatedAt:yyyy-MM-dd}) may be mailed again once subscribed");
            return 0;
        }));

        var exportFile = new Argument<string>("FILE.csv") { Description = "Where to write the list; '-' for standard output." };
        var export = new Command("export", "Write the suppression list as CSV (email,reason,source,detail,created_at).") { exportFile };
        export.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var path = parse.GetValue(exportFile)!;
            var suppressions = app.Services.GetRequiredService<SuppressionList>();
            if (path == "-")
            {
                await suppressions.ExportCsvAsync(Console.Out, ct);
                return 0;
            }
            await using (var writer = new StreamWriter(path))
                await suppressions.ExportCsvAsync(writer, ct);
            AnsiConsole.MarkupLineInterpolated($"wrote {path}");
            return 0;
        }));

        var importFile = new Argument<string>("FILE.csv") { Description = "A header row with at least 'email'; reason (unsubscribed, bounced, complained, manual), source, detail and created_at are optional." };
        var import = new Command("import", "Add addresses to the suppression list from CSV (e.g. another tool's export); bad rows are reported with their line and skipped.") { importFile };
        import.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var path = parse.GetValue(importFile)!;
            if (!File.Exists(path))
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{path} does not exist.[/]");
                return 1;
            }
            using var reader = new StreamReader(path);
            var result = await app.Services.GetRequiredService<SuppressionList>().ImportCsvAsync(reader, path, ct);
            foreach (var problem in result.Problems) AnsiConsole.MarkupLineInterpolated($"[red]{problem}[/]");
            AnsiConsole.MarkupLineInterpolated($"[bold]{result.Added} added, {result.AlreadyListed} already listed, {result.Problems.Count} rejected[/]");
            return result.Problems.Count > 0 ? 1 : 0;
        }));

        var command = new Command("suppressions", "The addresses digests and confirmations are never sent to (unsubscribed, bounced, complained), and lifting them.");
        command.Add(list);
        command.Add(lift);
        command.Add(export);
        command.Add(import);
        return command;
    }

    private static Task Migrate(IServiceProvider services, CancellationToken ct) => services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
}
