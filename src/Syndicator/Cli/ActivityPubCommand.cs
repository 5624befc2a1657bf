using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.ActivityPub;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Cli;

/// <summary><c>syndicator activitypub followers|approve|remove|resend</c>: who follows the publication and its authors, and the publisher's hand on it.</summary>
internal static class ActivityPubCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var actorOption = new Option<string?>("--actor") { Description = "Only this account's followers (its handle, e.g. magazine)." };
        var followers = new Command("followers", "List followers per account, held ones included, with where activities for them go.") { json, actorOption };
        followers.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var all = await app.Services.GetRequiredService<FollowerStore>().ListAsync(parse.GetValue(actorOption), ct);
            var parked = await app.Services.GetRequiredService<InboxHealth>().ParkedAsync(ct);
            if (parse.GetValue(json))
            {
                var rows = all.Select(f => new { follower = f, parkedAt = parked.GetValueOrDefault(f.DeliveryInbox)?.ParkedAt, failingSince = parked.GetValueOrDefault(f.DeliveryInbox)?.FailingSince });
                Console.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } }));
                return 0;
            }
            static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture);
            var table = new Table().AddColumns("Id", "Account", "Follower", "Delivered to", "State", "Since (UTC)");
            foreach (var f in all)
                table.AddRow(f.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(f.Actor), Markup.Escape(f.Remote), Markup.Escape(f.DeliveryInbox),
                    parked.TryGetValue(f.DeliveryInbox, out var p) ? $"parked since {Utc(p.ParkedAt)}" : FollowerStore.Column(f.State), Utc(f.CreatedAt));
            AnsiConsole.Write(table);
            foreach (var group in all.GroupBy(f => f.Actor))
                AnsiConsole.MarkupLineInterpolated($"@{group.Key}: {group.Count(f => f.State == FollowState.Accepted)} follower(s), {group.Count(f => f.State == FollowState.Pending)} held, {group.Select(f => f.DeliveryInbox).Distinct().Count()} inbox(es), {group.Select(f => f.DeliveryInbox).Distinct().Count(parked.ContainsKey)} parked");
            foreach (var p in parked.Values.Where(p => all.Any(f => f.DeliveryInbox == p.Inbox)))
                AnsiConsole.MarkupLineInterpolated($"[yellow]parked since {Utc(p.ParkedAt)}: {p.Inbox}, failing since {Utc(p.FailingSince)}: {p.LastError}[/]");
            if (all.Count == 0) AnsiConsole.MarkupLine("no followers");
            return 0;
        }));

        var approveId = new Argument<long>("ID") { Description = "The follower's id, from `activitypub followers`." };
        var approve = new Command("approve", "Accept a follow held for approval (ActivityPub:ApproveFollowers): the Accept is sent by the ActivityPub job.") { approveId };
        approve.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var store = app.Services.GetRequiredService<FollowerStore>();
            var id = parse.GetValue(approveId);
            if (!await store.AcceptAsync(id, ct))
            {
                AnsiConsole.MarkupLineInterpolated($"[red]follower {id} is not held for approval; see `syndicator activitypub followers`.[/]");
                return 1;
            }
            var follower = (await store.GetAsync(id, ct))!;
            await using var connection = await app.Services.GetRequiredService<Database>().OpenAsync(ct);
            await app.Services.GetRequiredService<ActivityPubPlanner>().PlanAcceptAsync(connection, null, follower, ct);
            AnsiConsole.MarkupLineInterpolated($"accepted: {follower.Remote} follows @{follower.Actor}; the Accept goes out with the next ActivityPub run");
            return 0;
        }));

        var removeId = new Argument<long>("ID") { Description = "The follower's id, from `activitypub followers`." };
        var remove = new Command("remove", "Stop delivering to a follower (their server is not told; a new Follow from them is taken as new).") { removeId };
        remove.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var store = app.Services.GetRequiredService<FollowerStore>();
            var id = parse.GetValue(removeId);
            if (await store.GetAsync(id, ct) is not { } follower)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]there is no follower {id}; see `syndicator activitypub followers`.[/]");
                return 1;
            }
            await store.RemoveAsync(id, ct);
            AnsiConsole.MarkupLineInterpolated($"removed: {follower.Remote} no longer follows @{follower.Actor}");
            return 0;
        }));

        var resendArticle = new Argument<string>("ARTICLE") { Description = "The article's id or slug." };
        var resend = new Command("resend", "Send an article's Create to every follower inbox that has none (followed since, or added back), and retry its failed ActivityPub deliveries. Never a second Create to an inbox that has one.") { resendArticle };
        resend.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var articles = app.Services.GetRequiredService<ArticleStore>();
            var key = parse.GetValue(resendArticle)!;
            if ((await articles.FindByIdAsync(key, ct) ?? await articles.FindBySlugAsync(key, ct)) is not { } article)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]there is no article with id or slug \"{key}\"; see `syndicator articles list`.[/]");
                return 1;
            }
            int planned;
            await using (var connection = await app.Services.GetRequiredService<Database>().OpenAsync(ct))
                planned = await app.Services.GetRequiredService<ActivityPubPlanner>().PlanCreateAsync(connection, article, ct);
            var deliveries = app.Services.GetRequiredService<DeliveryStore>();
            var health = app.Services.GetRequiredService<InboxHealth>();
            int retried = 0, unparked = 0;
            foreach (var d in await deliveries.ListForSubjectAsync(DeliverySubject.Article(article.Id), ct))
            {
                if (d.Channel != ActivityPubPlanner.Channel) continue;
                // The publisher asks for this inbox again: a parked one gets another chance (parked again only after ParkInboxAfterDays more).
                if (await health.UnparkAsync(d.Recipient.Id, ct)) unparked++;
                if (d.State == DeliveryState.Failed && await deliveries.RetryAsync(d.Id, ct)) retried++;
            }
            if (article.Unpublished)
                AnsiConsole.MarkupLineInterpolated($"[yellow]{article.Slug} was unpublished at {article.UnpublishedAt:u}: no Create is sent (its Delete went to the inboxes that had it); publish it again to send it as a new post.[/]");
            AnsiConsole.MarkupLineInterpolated($"{article.Slug}: {planned} new Create(s), {retried} failed delivery(ies) retried, {unparked} parked inbox(es) resumed; they go out with the next ActivityPub run");
            return 0;
        }));

        var command = new Command("activitypub", "The publication and its authors as fediverse accounts: followers, held follows, re-sending an article.");
        command.Add(followers);
        command.Add(approve);
        command.Add(remove);
        command.Add(resend);
        return command;
    }

    private static Task Migrate(IServiceProvider services, CancellationToken ct) => services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
}
