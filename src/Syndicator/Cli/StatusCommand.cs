using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Deliveries;
using Syndicator.Scheduling;
using Syndicator.Storage;

namespace Syndicator.Cli;

/// <summary>
/// <c>syndicator status</c>: the jobs (schedule, next firing from the job store, last run from the history), the
/// deliveries counted by channel and state, and the latest failures with their errors. Reads the database the
/// service uses, so it answers for a running service (or a whole cluster) from anywhere that has the config.
/// </summary>
internal static class StatusCommand
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of tables." };
        var failures = new Option<int>("--failures") { Description = "How many of the latest failed job runs and failed deliveries to show.", DefaultValueFactory = _ => 10 };
        var command = new Command("status", "Show the jobs, the deliveries by channel and state, and the latest failures.") { json, failures };
        command.SetAction((parse, ct) => JobsCommand.WithJobStoreAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var status = await app.Services.GetRequiredService<StatusReader>().ReadAsync(Math.Max(0, parse.GetValue(failures)), ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(status, Json));
                return 0;
            }
            Print(status);
            return 0;
        }));
        return command;
    }

    private static void Print(StatusSnapshot status)
    {
        var jobs = new Table().Title("Jobs (times in UTC)").AddColumns("Job", "Schedule", "Next run", "Last run", "Outcome", "Summary / error", "Runs");
        foreach (var job in status.Jobs)
        {
            var outcome = job.LastOutcome switch
            {
                null => "[grey]never run[/]",
                "failed" => $"[red]failed[/]{(job.ConsecutiveFailures > 1 ? $" [red]×{job.ConsecutiveFailures}[/]" : "")}",
                "succeeded" => "[green]succeeded[/]",
                var other => Markup.Escape(other),
            };
            var detail = job.LastOutcome == "failed" ? job.LastError ?? job.LastSummary : job.LastSummary;
            var next = job.NextFireAt is { } at ? When(at, status.At) : job.Enabled ? "[yellow]not scheduled[/]" : "-";
            if (job.TriggerState is "Paused" or "Error" or "Blocked") next += $" [yellow]({job.TriggerState.ToLowerInvariant()})[/]";
            jobs.AddRow(Markup.Escape(job.Name), Markup.Escape(job.Schedule), next, job.LastRunAt is { } last ? When(last, status.At) : "-",
                outcome, Markup.Escape(detail ?? ""), job.Runs.ToString("N0", CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(jobs);

        var states = Enum.GetValues<DeliveryState>().Select(s => s.ToColumn()).ToList();
        var deliveries = new Table().Title("Deliveries").AddColumn("Channel");
        foreach (var state in states) deliveries.AddColumn(new TableColumn(state).RightAligned());
        deliveries.AddColumn(new TableColumn("total").RightAligned());
        foreach (var channel in status.Deliveries)
        {
            var cells = new List<string> { Markup.Escape(channel.Channel) };
            foreach (var state in states)
            {
                var count = channel.ByState.GetValueOrDefault(state);
                cells.Add(count == 0 ? "[grey]0[/]" : state == "failed" ? $"[red]{count:N0}[/]" : $"{count:N0}");
            }
            cells.Add($"{channel.Total:N0}");
            deliveries.AddRow(cells.ToArray());
        }
        if (status.Deliveries.Count == 0) AnsiConsole.MarkupLine("[grey]No deliveries yet.[/]");
        else AnsiConsole.Write(deliveries);

        if (status.JobFailures.Count > 0)
        {
            var failed = new Table().Title("Latest failed job runs").AddColumns("When", "Job", "Attempt", "Error");
            foreach (var f in status.JobFailures)
                failed.AddRow(When(f.At, status.At), Markup.Escape(f.Job),
                    $"{f.RetryAttempt + 1}{(f.WillRetry ? " (retrying)" : "")}{(f.Manual ? " manual" : "")}", Markup.Escape(f.Error ?? f.Summary ?? ""));
            AnsiConsole.Write(failed);
        }
        else AnsiConsole.MarkupLine("[green]No failed job runs in the history.[/]");

        if (status.DeliveryFailures.Count > 0)
        {
            var failed = new Table().Title("Latest failed deliveries").AddColumns("Id", "Channel", "Subject", "Recipient", "Attempts", "Error");
            foreach (var d in status.DeliveryFailures)
                failed.AddRow(d.Id.ToString(CultureInfo.InvariantCulture), Markup.Escape(d.Channel), Markup.Escape(d.Subject),
                    Markup.Escape(d.Recipient), d.Attempts.ToString(CultureInfo.InvariantCulture), Markup.Escape(d.Error ?? ""));
            AnsiConsole.Write(failed);
            AnsiConsole.MarkupLine("Retry one with [bold]syndicator deliveries retry ID[/], or all with [bold]--all-failed[/].");
        }
        else AnsiConsole.MarkupLine("[green]No failed deliveries.[/]");
    }

    /// <summary>"2026-11-23T07:00:00Z (in 3 h)": the absolute time for the record, the relative one for the reader.</summary>
    internal static string When(DateTimeOffset at, DateTimeOffset now)
    {
        var span = at - now;
        var size = span.Duration();
        var relative = size < TimeSpan.FromSeconds(1) ? "now"
            : size < TimeSpan.FromMinutes(1) ? $"{size.TotalSeconds:0} s"
            : size < TimeSpan.FromHours(1) ? $"{size.TotalMinutes:0} min"
            : size < TimeSpan.FromDays(2) ? $"{size.TotalHours:0} h"
            : $"{size.TotalDays:0} d";
        if (relative != "now") relative = span > TimeSpan.Zero ? $"in {relative}" : $"{relative} ago";
        return Markup.Escape($"{Shared.IsoTime.Utc(at)} ({relative})");
    }
}
