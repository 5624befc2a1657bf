using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Spectre.Console;
using Syndicator.Hosting;
using Syndicator.Scheduling;
using Syndicator.Storage;

namespace Syndicator.Cli;

/// <summary>
/// <c>syndicator jobs run|history</c>. The CLI is not the service: <c>jobs run</c> does not run the job in this
/// process. It stores a one-shot trigger in the persistent job store (the database the service uses), and the
/// running service (any node of a cluster) fires it on its next poll of the store, within seconds, recording the
/// run in the history as manual. With <c>--wait</c> the command waits for that history row and prints it. When no
/// service is running, the trigger waits in the store and fires when one starts.
/// </summary>
internal static class JobsCommand
{
    public static Command Create()
    {
        var jobs = new Command("jobs", "Run a scheduled job now and read the job history.");
        jobs.Add(Run());
        jobs.Add(History());
        return jobs;
    }

    private static Command Run()
    {
        var name = new Argument<string>("NAME") { Description = $"The job: {string.Join(", ", JobCatalog.Names)}." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the service has run it and print the outcome; exit 1 when it failed." };
        var timeout = new Option<int>("--timeout") { Description = "With --wait: give up after this many seconds.", DefaultValueFactory = _ => 120 };
        var run = new Command("run", "Ask the running service to run a job now (stored in the job store; the service fires it within seconds).") { name, wait, timeout };
        run.SetAction((parse, ct) => WithJobStoreAsync(async app =>
        {
            var wanted = parse.GetValue(name)!;
            var job = app.Services.GetRequiredService<JobCatalog>().Find(wanted);
            if (job is null)
            {
                await SyndicatorCli.NoSuchJobAsync(wanted);
                return 1;
            }
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var scheduler = await app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler(ct);
            if (!(await scheduler.GetMetadata(ct)).JobStorePersistent)
            {
                AnsiConsole.MarkupLine("[red]The job store is not persistent,[/] so a running service would never see this request. Check Storage:ConnectionString.");
                return 1;
            }
            if (!await scheduler.Exists(job.Key, ct))
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{job.Name} is not in the job store:[/] it is disabled (Jobs:{job.Name}:Enabled is false), or the service has not started on this database yet.");
                return 1;
            }

            var history = app.Services.GetRequiredService<DatabaseExecutionHistoryStore>();
            // Waiting is for the first manual run recorded after this point: row ids, not clocks, so a node whose clock is off cannot fool it.
            var after = await history.LatestRunIdAsync(ct);
            await scheduler.TriggerJob(job.Key, ct);
            AnsiConsole.MarkupLineInterpolated($"Asked for a run of {job.Name}; the running service fires it within seconds.");
            if (!parse.GetValue(wait)) return 0;

            var deadline = DateTimeOffset.UtcNow.AddSeconds(Math.Max(1, parse.GetValue(timeout)));
            while (DateTimeOffset.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
                if (await history.FindRunAfterAsync(job.Key, after, manualOnly: true, ct) is not { } ran) continue;
                var result = ran.EffectiveResult;
                var line = $"{job.Name} {JobRunOutcomes.ToColumn(result)} on {ran.SchedulerInstanceId} in {ran.Duration.TotalMilliseconds.ToString("N0", CultureInfo.InvariantCulture)} ms";
                var detail = ran.ExceptionMessage ?? ran.Summary;
                if (result == JobRunResult.Failed)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]{line}[/]: {detail ?? "no message"}");
                    if (ran.RetryScheduled) AnsiConsole.MarkupLine("Quartz retries it under its retry policy; 'syndicator status' shows how that goes.");
                    return 1;
                }
                AnsiConsole.MarkupLineInterpolated($"[green]{line}[/]{(detail is null ? "" : ": " + detail)}");
                return 0;
            }
            AnsiConsole.MarkupLineInterpolated($"[yellow]No service ran {job.Name} within {parse.GetValue(timeout)} s.[/] The request stays in the job store and runs when a service starts.");
            return 1;
        }));
        return run;
    }

    /// <summary>
    /// <see cref="SyndicatorCli.WithAppAsync"/> for verbs that open the job store of a service that may be running. Creating
    /// a scheduler applies the configured jobs and triggers to the store, by default replacing the stored ones; from a CLI
    /// that would rewrite the running service's triggers under it (and could drop a firing it has acquired). Here the
    /// scheduler, which is never started, only adds what is missing and leaves the stored jobs and triggers alone.
    /// </summary>
    internal static Task<int> WithJobStoreAsync(Func<WebApplication, Task<int>> action) =>
        SyndicatorCli.WithAppAsync(action, s => s.Configure<QuartzOptions>(o => o.Scheduling.IgnoreDuplicates = true));

    private static Command History()
    {
        var name = new Argument<string?>("NAME") { Description = "Only this job's runs.", Arity = ArgumentArity.ZeroOrOne };
        var failed = new Option<bool>("--failed") { Description = "Only failed runs." };
        var limit = new Option<int>("--limit") { Description = "How many runs, newest first.", DefaultValueFactory = _ => 30 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var command = new Command("history", "List recent job runs from the history every node writes, newest first.") { name, failed, limit, json };
        command.SetAction((parse, ct) => WithJobStoreAsync(async app =>
        {
            var wanted = parse.GetValue(name);
            var job = wanted is null ? null : app.Services.GetRequiredService<JobCatalog>().Find(wanted);
            if (wanted is not null && job is null)
            {
                await SyndicatorCli.NoSuchJobAsync(wanted);
                return 1;
            }
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var scheduler = await app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler(ct);
            var page = await app.Services.GetRequiredService<DatabaseExecutionHistoryStore>().QueryExecutions(new ExecutionHistoryQuery
            {
                SchedulerName = scheduler.SchedulerName,
                Job = job?.Key,
                Results = parse.GetValue(failed) ? [JobRunResult.Failed] : null,
                Take = Math.Max(1, parse.GetValue(limit)),
            }, ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(page.Items.Select(r => new
                {
                    Job = r.JobName, StartedAt = r.FiredAtUtc, DurationMs = (long)r.Duration.TotalMilliseconds, Outcome = JobRunOutcomes.ToColumn(r.EffectiveResult),
                    r.Summary, Error = r.ExceptionMessage, r.RetryAttempt, r.RetryScheduled, r.Manual, Node = r.SchedulerInstanceId,
                }), StatusCommand.Json));
                return 0;
            }
            var table = new Table().AddColumns("Started (UTC)", "Job", "Node", "Took", "Outcome", "Attempt", "Summary / error");
            foreach (var r in page.Items)
                table.AddRow(Shared.IsoTime.Utc(r.FiredAtUtc), Markup.Escape(r.JobName), Markup.Escape(r.SchedulerInstanceId),
                    $"{r.Duration.TotalMilliseconds:N0} ms", r.EffectiveResult == JobRunResult.Failed ? "[red]failed[/]" : JobRunOutcomes.ToColumn(r.EffectiveResult),
                    $"{r.RetryAttempt + 1}{(r.Manual ? " manual" : "")}", Markup.Escape(r.ExceptionMessage ?? r.Summary ?? ""));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{page.Items.Count} run(s){(page.HasMore ? "; more with --limit" : "")}");
            return 0;
        }));
        return command;
    }
}
