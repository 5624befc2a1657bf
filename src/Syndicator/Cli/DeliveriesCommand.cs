using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Microsoft.Extensions.Options;
using Syndicator.Announcements;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Shared;
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

    private static readonly string[] Channels = ["x", "mastodon", "bluesky", "email", "websub"];

    private static Command List()
    {
        var state = new Option<string?>("--state") { Description = $"Only deliveries in this state: {string.Join(", ", States)}." };
        state.AcceptOnlyFromAmong(States);
        var article = new Option<string?>("--article") { Description = "Only the deliveries of this article: its slug (or id), as 'articles list' prints it." };
        var channel = new Option<string?>("--channel") { Description = $"Only this channel's: {string.Join(", ", Channels)}." };
        channel.AcceptOnlyFromAmong(Channels);
        var account = new Option<string?>("--account") { Description = "Only the posts to this social account (its name in Announcements:Accounts)." };
        var since = new Option<string?>("--since") { Description = "Only those changed since then: a UTC time (2026-11-26T08:00:00Z) or a span back from now (30m, 12h, 7d)." };
        var limit = new Option<int>("--limit") { Description = "How many, most recently changed first.", DefaultValueFactory = _ => 50 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var list = new Command("list", "List deliveries, most recently changed first, by title, address and account name, with what to do about each failure.")
            { state, article, channel, account, since, limit, json };
        list.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var wanted = parse.GetValue(state) is { } s ? DeliveryStates.FromColumn(s) : (DeliveryState?)null;
            DeliverySubject? subject = null;
            if (parse.GetValue(article) is { } slug)
            {
                var found = await SyndicatorCli.FindArticleAsync(app.Services, slug, ct);
                if (found is null) return 1;
                subject = DeliverySubject.Article(found.Id);
            }
            DeliveryRecipient? recipient = null;
            if (parse.GetValue(account) is { } name)
            {
                var accounts = app.Services.GetRequiredService<IOptions<AnnouncementOptions>>().Value.Accounts;
                if (!accounts.Any(a => string.Equals(a.Name, name, StringComparison.Ordinal)))
                {
                    await Console.Error.WriteLineAsync($"No account is named '{Shown.Value(name)}' in Announcements:Accounts; the accounts: {(accounts.Count == 0 ? "none" : string.Join(", ", accounts.Select(a => a.Name)))}.");
                    return 1;
                }
                recipient = DeliveryRecipient.Account(name);
            }
            DateTimeOffset? from = null;
            if (parse.GetValue(since) is { } sinceText)
            {
                var time = app.Services.GetRequiredService<TimeProvider>();
                if (Since(sinceText, time.GetUtcNow()) is not { } parsed)
                {
                    await Console.Error.WriteLineAsync($"--since '{sinceText}' is neither a UTC time like 2026-11-26T08:00:00Z nor a span like 30m, 12h or 7d.");
                    return 1;
                }
                from = parsed;
            }
            var store = app.Services.GetRequiredService<DeliveryStore>();
            var rows = await store.ListAsync(new DeliveryQuery(wanted, parse.GetValue(channel), subject, recipient, from, Math.Max(1, parse.GetValue(limit))), ct);
            var names = await app.Services.GetRequiredService<DeliveryDirectory>().NameAsync(rows, ct);
            var last = (await store.AttemptsAsync(rows.Select(d => d.Id).ToList(), ct)).GroupBy(a => a.DeliveryId).ToDictionary(g => g.Key, g => g.Last());
            string? Advice(Delivery d) => FailureAdvice.For(d, names.Of(d.Recipient), last.GetValueOrDefault(d.Id));
            if (parse.GetValue(json))
            {
                // The state as the column spells it, so that it reads the same as --state takes it.
                Console.WriteLine(JsonSerializer.Serialize(rows.Select(d => new
                {
                    d.Id, d.Channel, Subject = names.Of(d.Subject), SubjectKind = d.Subject.KindColumn, SubjectId = d.Subject.Id, SubjectVersion = d.Subject.Version,
                    Recipient = names.Of(d.Recipient), RecipientKind = d.Recipient.KindColumn, RecipientId = d.Recipient.Id,
                    State = d.State.ToColumn(), d.Attempts, d.NextAttemptAt, d.LastError, Advice = Advice(d), d.RemoteId, d.RemoteUrl, d.CreatedAt, d.UpdatedAt, d.SentAt,
                }), StatusCommand.Json));
                return 0;
            }
            var table = new Table().AddColumns("Id", "Channel", "What", "To", "State", "Attempts", "Updated (UTC)", "Post / what to do");
            foreach (var d in rows)
                table.AddRow(d.Id.ToString(CultureInfo.InvariantCulture), Markup.Escape(d.Channel), Markup.Escape(names.Of(d.Subject)), Markup.Escape(names.Of(d.Recipient)),
                    d.State switch { DeliveryState.Failed => "[red]failed[/]", DeliveryState.Unconfirmed => "[yellow]unconfirmed[/]", _ => d.State.ToColumn() },
                    d.Attempts.ToString(CultureInfo.InvariantCulture),
                    Shared.IsoTime.Utc(d.UpdatedAt),
                    Markup.Escape(d.State == DeliveryState.Sent ? d.RemoteUrl ?? d.RemoteId ?? ""
                        : Advice(d) is { } advice ? $"{advice}\n{d.LastError}" : d.LastError ?? ""));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{rows.Count} deliver{(rows.Count == 1 ? "y" : "ies")}");
            return 0;
        }));
        return list;
    }

    /// <summary>A UTC time, or a span back from <paramref name="now"/> in minutes, hours or days ("30m", "12h", "7d"); null when it is neither.</summary>
    internal static DateTimeOffset? Since(string text, DateTimeOffset now)
    {
        text = text.Trim();
        if (text.Length >= 2 && int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            var span = text[^1] switch { 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), 'd' => TimeSpan.FromDays(n), _ => (TimeSpan?)null };
            if (span is { } back) return now - back;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && text.Contains('-') ? at : null;
    }

    private static Command Retry()
    {
        var id = new Argument<long?>("ID") { Description = "The failed or unconfirmed delivery to send again, as 'deliveries list' shows it.", Arity = ArgumentArity.ZeroOrOne };
        var allFailed = new Option<bool>("--all-failed") { Description = "Retry every failed delivery instead of one." };
        var channel = new Option<string?>("--channel") { Description = "With --all-failed: only this channel's (x, mastodon, bluesky, email, websub)." };
        var command = new Command("retry", "Hand a failed or unconfirmed delivery (or all failed ones) back to its channel, which sends it on its next run.") { id, allFailed, channel };
        command.Validators.Add(result =>
        {
            var hasId = result.GetValue(id) is not null;
            var all = result.GetValue(allFailed);
            if (hasId == all) result.AddError("Give either a delivery ID or --all-failed.");
            if (hasId && result.GetValue(channel) is not null) result.AddError("--channel goes with --all-failed.");
        });
        command.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
            var store = app.Services.GetRequiredService<DeliveryStore>();
            var retry = app.Services.GetRequiredService<RetryDelivery>();
            if (parse.GetValue(allFailed))
            {
                var count = await store.RetryAllFailedAsync(parse.GetValue(channel), ct);
                AnsiConsole.MarkupLineInterpolated($"{count} failed deliver{(count == 1 ? "y" : "ies")} handed back; each channel's job sends them on its next run. Unconfirmed ones are left: check each in the relay's log, then retry it by its id.");
                return 0;
            }

            var wanted = parse.GetValue(id)!.Value;
            var (result, delivery) = await retry.RunAsync(wanted, ct);
            switch (result)
            {
                case RetryResult.Retried:
                    AnsiConsole.MarkupLineInterpolated($"Delivery {wanted} is pending again; its channel's job sends it on its next run.");
                    return 0;
                case RetryResult.NotFound:
                    AnsiConsole.MarkupLineInterpolated($"[red]There is no delivery {wanted}.[/] Run 'syndicator deliveries list' to see the ids.");
                    return 1;
                default:
                    AnsiConsole.MarkupLineInterpolated($"[red]Delivery {wanted} is {delivery!.State.ToColumn()};[/] only failed and unconfirmed deliveries can be sent again.");
                    return 1;
            }
        }));
        return command;
    }
}
