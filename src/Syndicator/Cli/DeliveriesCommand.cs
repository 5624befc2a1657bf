using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Cli;

/// <summary><c>syndicator deliveries list|retry</c>: the outbox every channel shares, read and nudged by hand.</summary>
internal static class DeliveriesCommand
{
    private static readonly string[] States = Enum.GetValues<DeliveryState>().Select(s => s.ToColumn()).ToArray();

    public static Command Create()
    {
        var deliveries = new Command("deliveries", "Inspect the deliveries (announcements, e-mails, WebSub pings) and retry failed ones.");
        deliveries.Add(List());
        deliveries.Add(Retry());
        return deliveries;
    }

    private static Command List()
    {
        var state = new Option<string?>("--state") { Description = $"Only deliveries in this state: {string.Join(", ", States)}." };
        state.AcceptOnlyFromAmong(States);
        var article = new Option<string?>("--article") { Description = "Only the deliveries of this article: its slug (or id), as 'articles list' prints it." };
        var channel = new Option<string?>("--channel") { Description = "Only this channel's: x, mastodon, bluesky, email, websub." };
        var limit = new Option<int>("--limit") { Description = "How many, most recently changed first.", DefaultValueFactory = _ => 50 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var list = new Command("list", "List deliveries, most recently changed first.") { state, article, channel, limit, json };
        list.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var wanted = parse.GetValue(state) is { } s ? DeliveryStates.FromColumn(s) : (DeliveryState?)null;
            DeliverySubject? subject = null;
            if (parse.GetValue(article) is { } slug)
            {
                var articles = app.Services.GetRequiredService<ArticleStore>();
                var found = await articles.FindBySlugAsync(slug, ct) ?? await articles.FindByIdAsync(slug, ct);
                if (found is null)
                {
                    await Console.Error.WriteLineAsync($"No article has the slug or id '{slug}'. Run 'syndicator articles list' to see the slugs.");
                    return 1;
                }
                subject = DeliverySubject.Article(found.Id);
            }
            var rows = await app.Services.GetRequiredService<DeliveryStore>().ListAsync(wanted, parse.GetValue(channel), subject, Math.Max(1, parse.GetValue(limit)), ct);
            var names = await app.Services.GetRequiredService<DeliveryDirectory>().NameAsync(rows, ct);
            if (parse.GetValue(json))
            {
                // The state as the column spells it, so that it reads the same as --state takes it.
                Console.WriteLine(JsonSerializer.Serialize(rows.Select(d => new
                {
                    d.Id, d.Channel, Subject = names.Of(d.Subject), SubjectKind = d.Subject.KindColumn, SubjectId = d.Subject.Id,
                    Recipient = names.Of(d.Recipient), RecipientKind = d.Recipient.KindColumn, RecipientId = d.Recipient.Id,
                    State = d.State.ToColumn(), d.Attempts, d.NextAttemptAt, d.LastError, d.RemoteId, d.RemoteUrl, d.CreatedAt, d.UpdatedAt, d.SentAt,
                }), StatusCommand.Json));
                return 0;
            }
            var table = new Table().AddColumns("Id", "Channel", "Subject", "Recipient", "State", "Attempts", "Updated (UTC)", "Remote / error");
            foreach (var d in rows)
                table.AddRow(d.Id.ToString(CultureInfo.InvariantCulture), Markup.Escape(d.Channel), Markup.Escape(names.Of(d.Subject)), Markup.Escape(names.Of(d.Recipient)),
                    d.State switch { DeliveryState.Failed => "[red]failed[/]", DeliveryState.Unconfirmed => "[yellow]unconfirmed[/]", _ => d.State.ToColumn() },
                    d.Attempts.ToString(CultureInfo.InvariantCulture),
                    Shared.IsoTime.Utc(d.UpdatedAt),
                    Markup.Escape(d.State == DeliveryState.Sent ? d.RemoteUrl ?? d.RemoteId ?? "" : d.LastError ?? ""));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{rows.Count} deliver{(rows.Count == 1 ? "y" : "ies")}");
            return 0;
        }));
        return list;
    }

    private static Command Retry()
    {
        var id = new Argument<long?>("ID") { Description = "The failed or unconfirmed delivery to send again, as 'deliveries list' shows it.", Arity = ArgumentArity.ZeroOrOne };
        var allFailed = new Option<bool>("--all-failed") { Description = "Retry every failed delivery instead of one." };
        var channel = new Option<string?>("--channel") { Description = "With --all-failed: only this channel's (x, mastodon, bluesky, email, websub)." };
        var retry = new Command("retry", "Hand a failed or unconfirmed delivery (or all failed ones) back to its channel, which sends it on its next run.") { id, allFailed, channel };
        retry.Validators.Add(result =>
        {
            var hasId = result.GetValue(id) is not null;
            var all = result.GetValue(allFailed);
            if (hasId == all) result.AddError("Give either a delivery ID or --all-failed.");
            if (hasId && result.GetValue(channel) is not null) result.AddError("--channel goes with --all-failed.");
        });
        retry.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var store = app.Services.GetRequiredService<DeliveryStore>();
            if (parse.GetValue(allFailed))
            {
                var count = await store.RetryAllFailedAsync(parse.GetValue(channel), ct);
                AnsiConsole.MarkupLineInterpolated($"{count} failed deliver{(count == 1 ? "y" : "ies")} handed back; each channel's job sends them on its next run. Unconfirmed ones are left: check each in the relay's log, then retry it by its id.");
                return 0;
            }

            var wanted = parse.GetValue(id)!.Value;
            if (await store.RetryAsync(wanted, ct))
            {
                AnsiConsole.MarkupLineInterpolated($"Delivery {wanted} is pending again; its channel's job sends it on its next run.");
                return 0;
            }
            var delivery = await store.GetAsync(wanted, ct);
            if (delivery is null) AnsiConsole.MarkupLineInterpolated($"[red]There is no delivery {wanted}.[/] Run 'syndicator deliveries list' to see the ids.");
            else AnsiConsole.MarkupLineInterpolated($"[red]Delivery {wanted} is {delivery.State.ToColumn()};[/] only failed and unconfirmed deliveries can be sent again.");
            return 1;
        }));
        return retry;
    }
}
