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
        var to = new Option<string>("--to") { Description = "The address the test digest goes to.", Required = true };
        var test = new Command("test", "Send the digest as a reader would get it now (newest articles) to one address; recorded as nobody's digest.") { to };
        test.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var outcome = await app.Services.GetRequiredService<DigestTestSend>().SendAsync(parse.GetValue(to)!, ct);
            if (outcome is DeliveryOutcome.Sent sent)
            {
                AnsiConsole.MarkupLineInterpolated($"sent a test digest to {parse.GetValue(to)} (Message-ID {sent.RemoteId}{(sent.RemoteUrl is { } path ? ", written to " + path : "")})");
                return 0;
            }
            AnsiConsole.MarkupLineInterpolated($"[red]not sent: {(outcome is DeliveryOutcome.Permanent p ? p.Error : outcome is DeliveryOutcome.Transient t ? t.Error : outcome.ToString())}[/]");
            return 1;
        }));

        var limit = new Option<int>("--limit") { Description = "How many runs, newest first.", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var report = new Command("report", "Per digest run: planned, sent, failed, unconfirmed, waiting, bounced (soft, hard), complained, unsubscribed.") { limit, json };
        report.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var runs = await app.Services.GetRequiredService<DigestReports>().ListAsync(parse.GetValue(limit), ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(runs, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web) { WriteIndented = true }));
                return 0;
            }
            var table = new Table().AddColumns("Run", "Planned", "Sent", "Failed", "Unconfirmed", "Waiting", "Soft bounces", "Hard bounces", "Complaints", "Unsubscribed");
            foreach (var r in runs)
                table.AddRow($"{Markup.Escape(r.Frequency)} {Markup.Escape(r.Period)}", $"{r.Planned}", $"{r.Sent}", $"{r.Failed}", $"{r.Unconfirmed}", $"{r.Waiting}",
                    $"{r.SoftBounced}", $"{r.HardBounced}", $"{r.Complained}", $"{r.Unsubscribed}");
            AnsiConsole.Write(table);
            return 0;
        }));

        var digest = new Command("digest", "E-mail digests.");
        digest.Add(send);
        digest.Add(test);
        digest.Add(report);
        return digest;
    }
}
