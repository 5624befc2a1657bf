using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Storage;

namespace Syndicator.ActivityPub;

/// <summary>
/// The public side: WebFinger, NodeInfo, actors, their outboxes and follower counts, articles as objects, and the
/// inboxes. JSON is served to a request that asks for <c>application/activity+json</c> or <c>application/ld+json</c>;
/// a browser asking for an actor or an article is sent to the page on the site.
/// </summary>
public static class ActivityPubEndpoints
{
    /// <summary>What a reverse proxy in front of the site must pass to Syndicator (see README).</summary>
    public static readonly string[] ReaderPrefixes = ["/.well-known/webfinger", "/.well-known/nodeinfo", "/nodeinfo", LocalActors.Prefix];

    public const string InboxPolicy = "activitypub-inbox";

    public const int PageSize = 20;

    public static void Map(WebApplication app)
    {
        app.MapGet("/.well-known/webfinger", WebFinger);
        app.MapGet("/.well-known/nodeinfo", (LocalActors actors) => Results.Json(new JsonObject
        {
            ["links"] = new JsonArray(new JsonObject { ["rel"] = "http://nodeinfo.diaspora.software/ns/schema/2.1", ["href"] = actors.BaseUrl + "/nodeinfo/2.1" }),
        }));
        app.MapGet("/nodeinfo/2.1", NodeInfoAsync);
        app.MapGet(LocalActors.Prefix + "/actors/{username}", ActorAsync);
        app.MapGet(LocalActors.Prefix + "/actors/{username}/outbox", OutboxAsync);
        app.MapGet(LocalActors.Prefix + "/actors/{username}/followers", FollowersAsync);
        app.MapGet(LocalActors.Prefix + "/articles/{id}", (string id, HttpContext context, ArticleStore articles, ArticleRounds rounds, ActivityDocuments documents, TimeProvider time, CancellationToken ct) =>
            ArticleAsync(id, 1, context, articles, rounds, documents, time, ct));
        app.MapGet(LocalActors.Prefix + "/articles/{id}/{round:int:min(2)}", ArticleAsync);
        app.MapPost(LocalActors.Prefix + "/actors/{username}/inbox", (string username, HttpContext context, Inbox inbox, LocalActors actors, CancellationToken ct) =>
            actors.Find(username) is { } actor ? inbox.ReceiveAsync(context, actor, ct) : Task.FromResult(Results.NotFound()))
            .RequireRateLimiting(InboxPolicy);
        app.MapPost(LocalActors.Prefix + "/inbox", (HttpContext context, Inbox inbox, CancellationToken ct) => inbox.ReceiveAsync(context, null, ct))
            .RequireRateLimiting(InboxPolicy);
    }

    /// <summary>True when the client asked for ActivityStreams JSON rather than a web page.</summary>
    public static bool WantsActivityJson(HttpRequest request) =>
        request.Headers.Accept.Any(a => a is not null && (a.Contains("application/activity+json", StringComparison.OrdinalIgnoreCase)
            || a.Contains("application/ld+json", StringComparison.OrdinalIgnoreCase)));

    private static IResult Activity(JsonObject document) => Results.Text(ActivityDocuments.Serialize(document), ActivityDocuments.ContentType + "; charset=utf-8");

    private static IResult WebFinger(string? resource, LocalActors actors)
    {
        if (string.IsNullOrWhiteSpace(resource)) return Results.Problem(detail: "resource is missing: ask for ?resource=acct:user@domain", statusCode: 400);
        LocalActor? actor;
        if (resource.StartsWith("acct:", StringComparison.OrdinalIgnoreCase))
        {
            var handle = resource[5..].TrimStart('@');
            var at = handle.LastIndexOf('@');
            if (at <= 0) return Results.Problem(detail: $"\"{resource}\" is not acct:user@domain", statusCode: 400);
            if (!string.Equals(handle[(at + 1)..], actors.Domain, StringComparison.OrdinalIgnoreCase)) return Results.NotFound();
            actor = actors.Find(handle[..at].ToLowerInvariant());
        }
        else actor = actors.FromUrl(resource);
        if (actor is null) return Results.NotFound();
        var url = actors.ActorUrl(actor);
        return Results.Text(ActivityDocuments.Serialize(new JsonObject
        {
            ["subject"] = $"acct:{actor.Username}@{actors.Domain}",
            ["aliases"] = new JsonArray(url),
            ["links"] = new JsonArray(
                new JsonObject { ["rel"] = "self", ["type"] = ActivityDocuments.ContentType, ["href"] = url },
                new JsonObject { ["rel"] = "http://webfinger.net/rel/profile-page", ["type"] = "text/html", ["href"] = actor.Kind == ActorKind.Publication ? actors.BaseUrl + "/" : url }),
        }), "application/jrd+json; charset=utf-8");
    }

    private static async Task<IResult> NodeInfoAsync(LocalActors actors, Database database, TimeProvider time, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var posts = await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM articles WHERE published_at <= @now",
            new { now = time.GetUtcNow() }, cancellationToken: ct));
        var users = actors.All.Count();
        return Results.Json(new JsonObject
        {
            ["version"] = "2.1",
            ["software"] = new JsonObject { ["name"] = "syndicator", ["version"] = typeof(ActivityPubEndpoints).Assembly.GetName().Version?.ToString(3) ?? "0.0.0" },
            ["protocols"] = new JsonArray("activitypub"),
            ["services"] = new JsonObject { ["inbound"] = new JsonArray(), ["outbound"] = new JsonArray() },
            ["openRegistrations"] = false,
            ["usage"] = new JsonObject { ["users"] = new JsonObject { ["total"] = users, ["activeMonth"] = users, ["activeHalfyear"] = users }, ["localPosts"] = posts },
            ["metadata"] = new JsonObject { ["nodeName"] = actors.Publication.DisplayName },
        }, contentType: "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"");
    }

    private static async Task<IResult> ActorAsync(string username, HttpContext context, LocalActors actors, ActorKeys keys, ActivityDocuments documents,
        IOptions<ActivityPubOptions> options, Database database, ArticleStore articles, CancellationToken ct)
    {
        if (actors.Find(username) is not { } actor) return Results.NotFound();
        if (!WantsActivityJson(context.Request))
            return Results.Redirect(actors.BaseUrl + "/");
        var key = await keys.GetAsync(actor, ct);
        string? bio = options.Value.Summary;
        if (actor.Kind == ActorKind.Author)
        {
            await using var connection = await database.OpenAsync(ct);
            var latest = await articles.QueryAsync(connection, "WHERE LOWER(au.name) = LOWER(@name) ORDER BY a.published_at DESC LIMIT 1", new { name = actor.DisplayName }, ct);
            bio = latest.FirstOrDefault()?.Author.Bio;
        }
        var icon = actor.Kind == ActorKind.Publication ? options.Value.IconUrl : null;
        return Activity(documents.Actor(actor, bio, icon, key.PublicPem, options.Value.ApproveFollowers));
    }

    private static async Task<IResult> OutboxAsync(string username, int? page, LocalActors actors, ActivityDocuments documents, Database database,
        ArticleStore articles, ArticleRounds rounds, TimeProvider time, CancellationToken ct)
    {
        if (actors.Find(username) is not { } actor) return Results.NotFound();
        var outbox = actors.OutboxUrl(actor);
        var author = actor.Kind == ActorKind.Author ? actor.DisplayName : null;
        var now = time.GetUtcNow();
        await using var connection = await database.OpenAsync(ct);
        const string Filter = "WHERE a.published_at <= @now AND a.unpublished_at IS NULL AND (@author IS NULL OR LOWER(au.name) = LOWER(@author))";
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT COUNT(*) FROM articles a JOIN authors au ON au.id = a.author_id {Filter}", new { now, author }, cancellationToken: ct));
        var pages = Math.Max(1, (int)((total + PageSize - 1) / PageSize));
        if (page is null)
            return Activity(new JsonObject
            {
                ["@context"] = ActivityDocuments.Context(),
                ["id"] = outbox,
                ["type"] = "OrderedCollection",
                ["totalItems"] = total,
                ["first"] = $"{outbox}?page=1",
                ["last"] = $"{outbox}?page={pages.ToString(CultureInfo.InvariantCulture)}",
            });
        if (page < 1) return Results.Problem(detail: "page counts from 1", statusCode: 400);
        var items = await articles.QueryAsync(connection, Filter + " ORDER BY a.published_at DESC, a.id LIMIT @limit OFFSET @offset",
            new { now, author, limit = PageSize, offset = (page.Value - 1) * PageSize }, ct);
        var round = await rounds.CurrentAsync(connection, items.Select(a => a.Id).ToList(), ct);
        var document = new JsonObject
        {
            ["@context"] = ActivityDocuments.Context(),
            ["id"] = $"{outbox}?page={page.Value.ToString(CultureInfo.InvariantCulture)}",
            ["type"] = "OrderedCollectionPage",
            ["partOf"] = outbox,
            ["totalItems"] = total,
            ["orderedItems"] = new JsonArray([.. items.Select(a =>
            {
                var create = documents.ArticleActivity(a, ArticleVerb.Create(round.GetValueOrDefault(a.Id, 1)));
                create.Remove("@context");
                return (JsonNode)create;
            })]),
        };
        if (page > 1) document["prev"] = $"{outbox}?page={(page.Value - 1).ToString(CultureInfo.InvariantCulture)}";
        if (page < pages) document["next"] = $"{outbox}?page={(page.Value + 1).ToString(CultureInfo.InvariantCulture)}";
        return Activity(document);
    }

    /// <summary>The count only: who follows the publication is the followers' business, as on Mastodon with the list hidden.</summary>
    private static async Task<IResult> FollowersAsync(string username, LocalActors actors, FollowerStore followers, CancellationToken ct)
    {
        if (actors.Find(username) is not { } actor) return Results.NotFound();
        return Activity(new JsonObject
        {
            ["@context"] = ActivityDocuments.Context(),
            ["id"] = actors.FollowersUrl(actor),
            ["type"] = "OrderedCollection",
            ["totalItems"] = await followers.CountAsync(actor.Username, ct),
        });
    }

    /// <summary>The article as the object of one round (<see cref="ArticleRounds"/>): the current round's, or 410 Gone for an earlier one.</summary>
    private static async Task<IResult> ArticleAsync(string id, int round, HttpContext context, ArticleStore articles, ArticleRounds rounds, ActivityDocuments documents, TimeProvider time, CancellationToken ct)
    {
        var article = await articles.FindByIdAsync(id, ct);
        if (article is null || article.PublishedAt > time.GetUtcNow()) return Results.NotFound();
        var current = await rounds.CurrentAsync(id, ct);
        if (round > current) return Results.NotFound();
        // An unpublished article, or an earlier round of one published again, is gone, as its Delete told the
        // followers' servers (which may fetch it to check).
        if (article.Unpublished || round < current) return Results.StatusCode(StatusCodes.Status410Gone);
        if (!WantsActivityJson(context.Request)) return Results.Redirect(article.CanonicalUrl.Value);
        var document = documents.Object(article, round);
        document.Insert(0, "@context", ActivityDocuments.Context());
        return Activity(document);
    }

    /// <summary>ActivityPub:InboxPermitsPerMinute per remote address, refused with 429 and Retry-After (never queued).</summary>
    internal sealed class InboxRateLimit : IRateLimiterPolicy<string>
    {
        public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = (context, _) =>
        {
            context.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.HttpContext.Response.Headers.RetryAfter = "60";
            return ValueTask.CompletedTask;
        };

        public RateLimitPartition<string> GetPartition(HttpContext httpContext)
        {
            var permits = httpContext.RequestServices.GetRequiredService<IOptions<ActivityPubOptions>>().Value.InboxPermitsPerMinute;
            return RateLimitPartition.GetFixedWindowLimiter(httpContext.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true });
        }
    }
}
