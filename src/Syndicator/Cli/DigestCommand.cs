using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;

namespace Syndicator.Cli;

internal static class DigestCommand
{
    public static Command Create()
    {
        var frequency = new Option<DigestFrequency?>("--frequency") { Description = "daily or weekly; both when omitted." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show who would get how many articles; plan and send nothing." };
        var send = new Command("send", "Compose and send a digest now, off schedule, to every subscriber who has something new.") { frequency, dryRun };
        send.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var planner = app.Services.GetRequiredService<DigestPlanner>();
            var frequencies = parse.GetValue(frequency) is { } f ? [f] : Enum.GetValues<DigestFrequency>();
            if (parse.GetValue(dryRun))
            {
                var table = new Table().AddColumns("Subscriber", "Frequency", "New articles");
                var would = 0;
                foreach (var freq in frequencies)
                    foreach (var (subscriber, count) in await planner.PreviewAsync(freq, ct))
                    {
                        table.AddRow(Markup.Escape(subscriber.Email), freq.ToString().ToLowerInvariant(), count == 0 ? "nothing new: no e-mail" : count.ToString());
                        if (count > 0) would++;
                    }
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLineInterpolated($"[bold]{would} digest(s) would be sent; nothing was sent.[/]");
                return 0;
            }

            var planned = 0;
            foreach (var freq in frequencies) planned += (await planner.PlanAsync(freq, manual: true, ct)).Planned;
            var worker = app.Services.GetRequiredService<DeliveryWorker>();
            var email = app.Services.GetRequiredService<EmailChannel>();
            var report = DrainReport.None;
            await AnsiConsole.Progress().AutoClear(false).StartAsync(async progress =>
            {
                var task = progress.AddTask("Sending digests", maxValue: Math.Max(1, planned));
                report = await worker.DrainAsync(email, DrainFilter.All, untilEmpty: true, ct, new Progress<(int Done, int Total)>(_ => task.Increment(1))) ?? DrainReport.None;
                task.Value = task.MaxValue;
            });
            AnsiConsole.MarkupLineInterpolated($"[bold]{planned} digest(s) planned: {report}[/]");
            return report.LeftWorkFailed ? 1 : 0;
        }));
        var digest = new Command("digest", "E-mail digests.");
        digest.Add(send);
        return digest;
    }
}
