using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Digests.Feedback;
using Syndicator.Storage;

namespace Syndicator.Cli;

/// <summary><c>syndicator feedback poll|list</c>: read the feedback mailbox once, and show what bounces, complaints and unsubscribes were recorded.</summary>
internal static class FeedbackCommand
{
    public static Command Create()
    {
        var poll = new Command("poll", "Read the feedback mailbox (Digests:Feedback:Imap) once: record bounces, complaints and unsubscribes, move them to the handled folder.");
        poll.SetAction((_, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var mailbox = app.Services.GetRequiredService<FeedbackMailbox>();
            if (!mailbox.Configured)
            {
                AnsiConsole.MarkupLine("[red]No feedback mailbox: set Digests:Feedback:Imap:Host, Port, UserName and Password (env:NAME or file:/path).[/]");
                return 1;
            }
            var pass = await mailbox.PassOnceAsync(ct);
            AnsiConsole.MarkupLineInterpolated($"{pass}");
            return pass.Failed > 0 ? 1 : 0;
        }));

        var limit = new Option<int>("--limit") { Description = "How many, newest first.", DefaultValueFactory = _ => 50 };
        var list = new Command("list", "The recorded feedback, newest first: kind, status, delivery, where it came from.") { limit };
        list.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var rows = await app.Services.GetRequiredService<FeedbackRecorder>().ListAsync(parse.GetValue(limit), ct);
            var table = new Table().AddColumns("When (UTC)", "Kind", "Status", "Delivery", "Subscriber", "Source", "Detail");
            foreach (var r in rows)
                table.AddRow(r.ReceivedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm"), r.Kind, Markup.Escape(r.Status ?? ""), r.DeliveryId?.ToString() ?? "",
                    Markup.Escape(r.SubscriberId ?? ""), Markup.Escape(r.Source), Markup.Escape(r.Detail ?? ""));
            AnsiConsole.Write(table);
            return 0;
        }));

        var command = new Command("feedback", "Bounces, complaints and mailed unsubscribes read back from the feedback mailbox and relay webhooks.");
        command.Add(poll);
        command.Add(list);
        return command;
    }
}
