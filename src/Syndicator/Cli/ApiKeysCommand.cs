using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Syndicator.Articles.Intake;
using Syndicator.Storage;

namespace Syndicator.Cli;

/// <summary><c>syndicator apikeys create|list|revoke</c>: the keys a CMS uses for <c>/api/articles</c>.</summary>
internal static class ApiKeysCommand
{
    public static Command Create()
    {
        var createName = new Argument<string>("NAME") { Description = "Who uses the key (shown in each article's history), e.g. ghost-cms." };
        var scope = new Option<string>("--scope") { Description = "write (create, change and unpublish articles, and read them) or read (read status only).", DefaultValueFactory = _ => "write" };
        var create = new Command("create", "Make an API key and print it once; only its SHA-256 is kept.") { createName, scope };
        create.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var name = parse.GetValue(createName)!;
            var scopeText = parse.GetValue(scope)!;
            if (!Enum.TryParse<ApiScope>(scopeText, ignoreCase: true, out var apiScope) || int.TryParse(scopeText, out _))
            {
                AnsiConsole.MarkupLineInterpolated($"[red]--scope is '{scopeText}'; use write or read.[/]");
                return 1;
            }
            if (ApiKeys.NameProblem(name) is { } problem)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{problem}[/]");
                return 1;
            }
            if (await app.Services.GetRequiredService<ApiKeys>().CreateAsync(name, apiScope, ct) is not { } made)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]There is already a key called '{name}'; revoke it first ('syndicator apikeys revoke {name}') or choose another name.[/]");
                return 1;
            }
            // The key alone on stdout, so a script can capture it; the rest goes to stderr.
            Console.Out.WriteLine(made.Secret);
            Console.Error.WriteLine($"made API key '{name}' with scope {apiScope.ToString().ToLowerInvariant()}; it is shown only now. Send it as 'Authorization: Bearer <key>'.");
            return 0;
        }));

        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var list = new Command("list", "List API keys: name, scope, when made, last used and revoked (never the keys themselves).") { json };
        list.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var all = await app.Services.GetRequiredService<ApiKeys>().ListAsync(ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(all.Select(k => new { k.Name, Scope = k.Scope.ToString().ToLowerInvariant(), k.CreatedAt, k.LastUsedAt, k.RevokedAt }),
                    new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
                return 0;
            }
            var table = new Table().AddColumns("Name", "Scope", "Created (UTC)", "Last used (UTC)", "Revoked (UTC)");
            foreach (var k in all)
                table.AddRow(Markup.Escape(k.Name), k.Scope.ToString().ToLowerInvariant(), k.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm"),
                    k.LastUsedAt?.UtcDateTime.ToString("yyyy-MM-dd HH:mm") ?? "never", k.RevokedAt?.UtcDateTime.ToString("yyyy-MM-dd HH:mm") ?? "");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{all.Count} key(s), {all.Count(k => k.RevokedAt is null)} in use");
            return 0;
        }));

        var revokeName = new Argument<string>("NAME");
        var revoke = new Command("revoke", "Revoke an API key: requests with it are refused from now on (401).") { revokeName };
        revoke.SetAction((parse, ct) => SyndicatorCli.WithAppAsync(async app =>
        {
            await Migrate(app.Services, ct);
            var name = parse.GetValue(revokeName)!;
            if (!await app.Services.GetRequiredService<ApiKeys>().RevokeAsync(name, ct))
            {
                AnsiConsole.MarkupLineInterpolated($"[red]There is no key called '{name}' in use; 'syndicator apikeys list' shows them.[/]");
                return 1;
            }
            AnsiConsole.MarkupLineInterpolated($"revoked: {name}");
            return 0;
        }));

        var command = new Command("apikeys", "The API keys a CMS uses to send articles to /api/articles.");
        command.Add(create);
        command.Add(list);
        command.Add(revoke);
        return command;
    }

    private static Task Migrate(IServiceProvider services, CancellationToken ct) => services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
}
