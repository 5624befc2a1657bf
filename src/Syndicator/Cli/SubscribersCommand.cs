using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CsvHelper;
using CsvHelper.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;

namespace Syndicator.Cli;

internal static class SubscribersCommand
{
    public static Command Create()
    {
        var email = new Argument<string>("EMAIL");
        var name = new Option<string?>("--name") { Description = "The subscriber's name, used in the greeting." };
        var frequency = new Option<DigestFrequency>("--frequency") { Description = "daily or weekly.", DefaultValueFactory = _ => DigestFrequency.Daily };
        var tz = new Option<string>("--tz") { Description = "The subscriber's time zone (IANA id).", DefaultValueFactory = _ => "UTC" };
        var pending = new Option<bool>("--pending") { Description = "Send a confirmation e-mail first instead of vouching for the address." };
        var authors = new Option<string[]>("--author") { Description = "Only articles by this author (repeatable).", AllowMultipleArgumentsPerToken = false };
        var tags = new Option<string[]>("--tag") { Description = "Only articles with this tag (repeatable).", AllowMultipleArgumentsPerToken = false };
        var add = new Command("add", "Add a subscriber, or update an existing one's settings; addresses, names and time zones are checked as the sign-up form checks them.") { email, name, frequency, tz, pending, authors, tags };
        add.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var subscriptions = app.Services.GetRequiredService<Subscriptions>();
            var check = subscriptions.Check(new SubscriptionRequest(parse.GetValue(email)!, parse.GetValue(name), parse.GetValue(frequency), parse.GetValue(tz)!,
                parse.GetValue(authors) ?? [], parse.GetValue(tags) ?? []));
            foreach (var problem in check.Problems) AnsiConsole.MarkupLineInterpolated($"[red]{problem}[/]");
            foreach (var warning in check.Warnings) AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
            if (check.Accepted is not { } accepted) return 1;
            if (parse.GetValue(pending))
            {
                if (await subscriptions.RequestAsync(accepted, ct) is not { } requested)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]{await Suppressed(app.Services, accepted.Email, ct)}[/]");
                    return 1;
                }
                AnsiConsole.MarkupLineInterpolated($"{requested.Email} is {requested.State.ToString().ToLowerInvariant()}; a running service e-mails the confirmation link at its next EmailSend run.");
                return 0;
            }
            var (subscriber, created, suppressed) = await subscriptions.AddAsync(accepted, ct);
            if (suppressed is not null)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{Refusal(suppressed)}[/]");
                return 1;
            }
            AnsiConsole.MarkupLineInterpolated($"{(created ? "added" : "updated")} {subscriber!.Email} ({subscriber.Frequency.ToString().ToLowerInvariant()}, {subscriber.TimeZone}, {subscriber.State.ToString().ToLowerInvariant()})");
            return 0;
        }));

        var file = new Argument<string>("FILE.csv") { Description = "Columns: email, name, frequency, tz, authors, tags (authors and tags separated by ';'). A header row is required." };
        var import = new Command("import", "Add or update subscribers from a CSV file; bad rows are reported with their line and skipped.") { file };
        import.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{path} does not exist.[/]");
                return 1;
            }
            var subscriptions = app.Services.GetRequiredService<Subscriptions>();
            int added = 0, updated = 0, rejected = 0;
            using var reader = new StreamReader(path);
            using var csv = new CsvReader(reader, new CsvConfiguration(CultureInfo.InvariantCulture) { PrepareHeaderForMatch = a => a.Header.Trim().ToLowerInvariant(), MissingFieldFound = null, HeaderValidated = null, TrimOptions = TrimOptions.Trim });
            await csv.ReadAsync();
            csv.ReadHeader();
            while (await csv.ReadAsync())
            {
                var line = csv.Parser.RawRow;
                var freqText = csv.GetField("frequency");
                if (!string.IsNullOrEmpty(freqText) && !Enum.TryParse<DigestFrequency>(freqText, true, out _))
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]line {line}:[/] frequency '{freqText}' is not daily or weekly");
                    rejected++;
                    continue;
                }
                var check = subscriptions.Check(new SubscriptionRequest(csv.GetField("email") ?? "", NullIfEmpty(csv.GetField("name")),
                    string.IsNullOrEmpty(freqText) ? DigestFrequency.Daily : Enum.Parse<DigestFrequency>(freqText, true),
                    NullIfEmpty(csv.GetField("tz")) ?? "UTC", Split(csv.GetField("authors")), Split(csv.GetField("tags"))));
                foreach (var warning in check.Warnings) AnsiConsole.MarkupLineInterpolated($"[yellow]line {line}:[/] {warning}");
                if (check.Accepted is not { } accepted)
                {
                    foreach (var problem in check.Problems) AnsiConsole.MarkupLineInterpolated($"[red]line {line}:[/] {problem}");
                    rejected++;
                    continue;
                }
                var result = await subscriptions.AddAsync(accepted, ct);
                if (result.Suppressed is { } suppressed)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]line {line}:[/] {Refusal(suppressed)}");
                    rejected++;
                }
                else if (result.Created) added++;
                else updated++;
            }
            AnsiConsole.MarkupLineInterpolated($"[bold]{added} added, {updated} updated, {rejected} rejected[/]");
            return rejected > 0 ? 1 : 0;
        }));

        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var list = new Command("list", "List subscribers.") { json };
        list.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var all = await app.Services.GetRequiredService<SubscriberStore>().ListAsync(ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(all, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } }));
                return 0;
            }
            var table = new Table().AddColumns("E-mail", "Name", "Frequency", "Time zone", "State", "Follows", "Bounces");
            foreach (var s in all)
                table.AddRow(Markup.Escape(s.Email), Markup.Escape(s.Name ?? ""), s.Frequency.ToString().ToLowerInvariant(), Markup.Escape(s.TimeZone),
                    s.State.ToString().ToLowerInvariant(), Markup.Escape(string.Join(", ", s.FollowedAuthors.Concat(s.FollowedTags.Select(t => "#" + t)))), s.HardBounces.ToString());
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{all.Count} subscriber(s)");
            return 0;
        }));

        var removeEmail = new Argument<string>("EMAIL");
        var remove = new Command("remove", "Remove a subscriber and their digest history.") { removeEmail };
        remove.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var removed = await app.Services.GetRequiredService<SubscriberStore>().RemoveAsync(parse.GetValue(removeEmail)!, ct);
            if (removed) AnsiConsole.MarkupLineInterpolated($"removed {parse.GetValue(removeEmail)}");
            else AnsiConsole.MarkupLineInterpolated($"[red]No subscriber {parse.GetValue(removeEmail)}.[/]");
            return removed ? 0 : 1;
        }));

        var subscribers = new Command("subscribers", "Manage digest subscribers.");
        subscribers.Add(add);
        subscribers.Add(import);
        subscribers.Add(list);
        subscribers.Add(remove);
        return subscribers;
    }

    /// <summary>Why a suppressed address is not added, and how the publisher lifts it when the reader asked to come back.</summary>
    internal static string Refusal(Suppression suppressed) =>
        $"{suppressed}; not added. If the reader asked to come back, run `syndicator suppressions lift {suppressed.Email}` first.";

    private static async Task<string> Suppressed(IServiceProvider services, string email, CancellationToken ct) =>
        await services.GetRequiredService<SuppressionList>().FindAsync(email, ct) is { } suppressed ? Refusal(suppressed) : $"{email} was not signed up.";

    private static Task Migrate(IServiceProvider services, CancellationToken ct) => services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);

    private static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    private static IReadOnlyList<string> Split(string? s) => (s ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
