using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Shared;
using Syndicator.Storage;

namespace Syndicator.Articles.Intake;

/// <summary>The body of <c>POST /api/articles</c> as JSON: the same fields as a JSON article file.</summary>
public sealed record ArticleInput(
    string Title,
    string? BodyHtml,
    string? Body,
    string? Summary,
    string? Slug,
    string? Author,
    IReadOnlyList<string>? Tags,
    string? Image,
    string? Url,
    string? CommentUrl,
    DateTimeOffset? Date);

/// <summary>
/// <c>/api/articles</c>: a CMS creates (POST), replaces (PUT), unpublishes (DELETE) and reads (GET) articles. Bodies are
/// JSON, Markdown with front matter or the plain-text op-ed format, chosen by Content-Type, and go through the file
/// parsers (<see cref="ArticleIntake"/>). Every error is an RFC 9457 problem naming the field. Keys come from
/// <c>syndicator apikeys create</c>; an <c>Idempotency-Key</c> header makes a retried request give the first answer again.
/// </summary>
public sealed partial class ArticleApi(
    ApiKeys keys,
    ArticleIntake intake,
    DeliveryStore deliveries,
    Database database,
    IServiceProvider services,
    IOptions<ImportOptions> importOptions,
    TimeProvider time)
{
    public const string Path = "/api/articles";
    public const string IdempotencyHeader = "Idempotency-Key";
    /// <summary>How long a stored answer to an Idempotency-Key is given again.</summary>
    public static readonly TimeSpan IdempotencyWindow = TimeSpan.FromHours(24);

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public static void Map(WebApplication app)
    {
        // Routing answers a Content-Type the endpoints do not accept with a bare 415 before any handler runs; give it
        // the same problem body as every other refusal. Only the API's paths go through this (UseWhen): every other
        // request, the feeds above all, is spared the wrapper.
        app.UseWhen(context => context.Request.Path.StartsWithSegments(Path, StringComparison.OrdinalIgnoreCase), api => api.Use(async (context, next) =>
        {
            await next(context);
            if (context.Response.StatusCode == StatusCodes.Status415UnsupportedMediaType && !context.Response.HasStarted)
            {
                Format(context.Request.ContentType, out var problem);
                await Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported Content-Type", "Content-Type",
                    problem ?? "send application/json, text/markdown or text/plain").ToResult(context, false).ExecuteAsync(context);
            }
        }));
        var api = app.MapGroup(Path).WithTags("Articles");
        api.MapPost("", (HttpContext context, ArticleApi handler, CancellationToken ct) => handler.CreateAsync(context, ct))
            .WithName("CreateArticle").WithSummary("Create an article (the same body again is the same article)")
            .Accepts<ArticleInput>("application/json", "text/markdown", "text/plain")
            .Produces<ArticleStatus>(StatusCodes.Status201Created).Produces<ArticleStatus>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPut("/{slug}", (string slug, HttpContext context, ArticleApi handler, CancellationToken ct) => handler.ReplaceAsync(slug, context, ct))
            .WithName("ReplaceArticle").WithSummary("Create or replace the article with this slug")
            .Accepts<ArticleInput>("application/json", "text/markdown", "text/plain")
            .Produces<ArticleStatus>(StatusCodes.Status201Created).Produces<ArticleStatus>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapDelete("/{slug}", (string slug, HttpContext context, ArticleApi handler, CancellationToken ct) => handler.UnpublishAsync(slug, context, ct))
            .WithName("UnpublishArticle").WithSummary("Unpublish: out of the feeds, never announced or mailed again; what went out stays recorded")
            .Produces<ArticleStatus>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/{slug}", (string slug, HttpContext context, ArticleApi handler, CancellationToken ct) => handler.ReadAsync(slug, context, ct))
            .WithName("GetArticle").WithSummary("The article's state on every channel: feeds, announcements, digests, and its history")
            .Produces<ArticleStatus>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound);
    }

    // ------------------------------------------------------------------ endpoints

    private async Task<IResult> CreateAsync(HttpContext context, CancellationToken ct)
    {
        var (key, refusal) = await AuthorizeAsync(context, ApiScope.Write, ct);
        if (key is null) return refusal!.ToResult(context, false);
        var (body, bodyRefusal) = await ReadBodyAsync(context, ct);
        if (body is null) return bodyRefusal!.ToResult(context, false);
        return await IdempotentAsync(context, key, body.Hash, async () =>
        {
            if (ParseOne(body, "api") is not { } draft) return await RefuseAsync(key, null, body.Refusal!, ct);
            var slug = draft.Slug ?? Slug.FromText(draft.Title);
            if (await intake.FindAsync(slug, ct) is { } existing)
            {
                // The same body again is the same article; a different one under a taken slug is a new article that collides.
                if (await intake.LastBodyHashAsync(existing.Id, ct) == body.Hash) return await StatusAnswerAsync(200, existing, "unchanged", ct);
                return await RefuseAsync(key, slug, Problem(StatusCodes.Status409Conflict, "The slug is taken", "slug",
                    $"an article with the slug '{slug}' exists (\"{Shown.Value(existing.Title)}\"); change it with PUT {Path}/{slug.UrlSegment}, or give this one another slug"), ct);
            }
            return await PublishAsync(key, draft with { Slug = slug, SourceName = $"api:{slug}" }, body.Hash, ct);
        }, ct);
    }

    private async Task<IResult> ReplaceAsync(string slugText, HttpContext context, CancellationToken ct)
    {
        var (key, refusal) = await AuthorizeAsync(context, ApiScope.Write, ct);
        if (key is null) return refusal!.ToResult(context, false);
        var (slug, slugRefusal) = RouteSlug(slugText);
        if (slug is null) return slugRefusal!.ToResult(context, false);
        var (body, bodyRefusal) = await ReadBodyAsync(context, ct);
        if (body is null) return bodyRefusal!.ToResult(context, false);
        return await IdempotentAsync(context, key, body.Hash, async () =>
        {
            if (ParseOne(body, "api") is not { } draft) return await RefuseAsync(key, slug, body.Refusal!, ct);
            if (draft.Slug is { } own && own != slug)
                return await RefuseAsync(key, slug, Problem(StatusCodes.Status422UnprocessableEntity, "The slugs differ", "slug",
                    $"the body's slug '{own}' differs from the URL's '{slug}'; leave it out of the body, or PUT to {Path}/{own.UrlSegment}"), ct);
            var existing = await intake.FindAsync(slug, ct);
            // Naming the slug in the URL replaces whatever article holds it, wherever it came from.
            return await PublishAsync(key, draft with { Slug = slug, SourceName = $"api:{slug}", DeclaredId = existing?.Id ?? draft.DeclaredId }, body.Hash, ct);
        }, ct);
    }

    private async Task<IResult> UnpublishAsync(string slugText, HttpContext context, CancellationToken ct)
    {
        var (key, refusal) = await AuthorizeAsync(context, ApiScope.Write, ct);
        if (key is null) return refusal!.ToResult(context, false);
        var (slug, slugRefusal) = RouteSlug(slugText);
        if (slug is null) return slugRefusal!.ToResult(context, false);
        return await IdempotentAsync(context, key, Hash($"DELETE {slug}"), async () =>
        {
            if (await intake.FindAsync(slug, ct) is not { } article) return NotFound(slug);
            var result = await intake.UnpublishAsync(article, IntakeActor.ApiKey(key.Name), ct);
            return await StatusAnswerAsync(200, result.Article, result.Action, ct);
        }, ct);
    }

    private async Task<IResult> ReadAsync(string slugText, HttpContext context, CancellationToken ct)
    {
        var (key, refusal) = await AuthorizeAsync(context, ApiScope.Read, ct);
        if (key is null) return refusal!.ToResult(context, false);
        var (slug, slugRefusal) = RouteSlug(slugText);
        if (slug is null) return slugRefusal!.ToResult(context, false);
        var answer = await intake.FindAsync(slug, ct) is { } article ? await StatusAnswerAsync(200, article, null, ct) : NotFound(slug);
        return answer.ToResult(context, replayed: false);
    }

    // ------------------------------------------------------------------ steps

    private async Task<ApiAnswer> PublishAsync(ApiKey key, ArticleDraft draft, string hash, CancellationToken ct)
    {
        try
        {
            var result = await intake.PublishAsync(draft, IntakeActor.ApiKey(key.Name), hash, ct);
            return await StatusAnswerAsync(result.Action == "created" ? 201 : 200, result.Article, result.Action, ct, location: $"{Path}/{result.Article.Slug.UrlSegment}");
        }
        catch (ArticleRejectedException e)
        {
            return await RefuseAsync(key, draft.Slug, Refused(e), ct);
        }
    }

    private async Task<ApiAnswer> RefuseAsync(ApiKey key, string? slug, ApiAnswer problem, CancellationToken ct)
    {
        await intake.RecordRefusalAsync(slug, IntakeActor.ApiKey(key.Name), problem.Detail ?? "", ct);
        return problem;
    }

    private async Task<ApiAnswer> StatusAnswerAsync(int status, Article article, string? change, CancellationToken ct, string? location = null)
    {
        var channels = services.GetService<IArticleChannelStatus>() is { } reader
            ? await reader.ReadAsync(article, ct)
            : new ChannelStatus([], new Dictionary<string, long>());
        var statusBody = ArticleStatus.Of(article, change, channels, await deliveries.ListForSubjectAsync(DeliverySubject.Article(article.Id), ct), await intake.HistoryAsync(article.Id, ct));
        return new ApiAnswer(status, "application/json", JsonSerializer.Serialize(statusBody, Json), location, null);
    }

    /// <summary>The key of an <c>Authorization: Bearer</c> header with the scope needed, or the 401/403 problem.</summary>
    private async Task<(ApiKey? Key, ApiAnswer? Refusal)> AuthorizeAsync(HttpContext context, ApiScope needed, CancellationToken ct)
    {
        var header = context.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
        var check = await keys.CheckAsync(presented, ct);
        if (check.Key is null)
        {
            context.Response.Headers.WWWAuthenticate = presented is null ? "Bearer realm=\"syndicator\"" : "Bearer realm=\"syndicator\", error=\"invalid_token\"";
            return (null, Problem(StatusCodes.Status401Unauthorized, "No valid API key", "Authorization", check.Problem!));
        }
        var scope = needed.ToString().ToLowerInvariant();
        if (!check.Key.Allows(needed))
            return (null, Problem(StatusCodes.Status403Forbidden, "The API key's scope is too narrow", "Authorization",
                $"the API key '{check.Key.Name}' has the scope '{check.Key.Scope.ToString().ToLowerInvariant()}'; this needs '{scope}' (make one with 'syndicator apikeys create NAME --scope {scope}')"));
        return (check.Key, null);
    }

    /// <summary>The URL's slug, checked as a file's slug is; a bad one (<c>..</c>, control characters) is refused.</summary>
    private static (Slug? Slug, ApiAnswer? Refusal) RouteSlug(string text) =>
        Slug.TryParse(text, out var slug, out var problem)
            ? (slug, null)
            : (null, Problem(StatusCodes.Status400BadRequest, "Not a slug", "slug",
                $"\"{Shown.Value(text)}\" in the URL cannot be a slug: {problem}. Use letters and digits (any script) joined by '-', at most {Slug.MaxLength} characters"));

    /// <summary>
    /// The body, bounded by Import:MaxFileBytes (the limit a dropped file has), its format from Content-Type and its hash;
    /// or the 413/415 problem.
    /// </summary>
    private async Task<(RequestBody? Body, ApiAnswer? Refusal)> ReadBodyAsync(HttpContext context, CancellationToken ct)
    {
        var max = importOptions.Value.MaxFileBytes;
        if (Format(context.Request.ContentType, out var formatProblem) is not { } extension)
            return (null, Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported Content-Type", "Content-Type", formatProblem!));
        if (await ReadBoundedAsync(context.Request, max, ct) is not { } bytes)
            return (null, Problem(StatusCodes.Status413PayloadTooLarge, "The body is too large", "body",
                $"the body is over the limit of {max:N0} bytes (Import:MaxFileBytes, the same limit as a dropped file); shorten the article or raise the limit"));
        return (new RequestBody(bytes, extension, Hash(extension + "\n" + Convert.ToHexStringLower(SHA256.HashData(bytes)))), null);
    }

    /// <summary>The one draft in the body, or null with <see cref="RequestBody.Refusal"/> set.</summary>
    private ArticleDraft? ParseOne(RequestBody body, string sourceName)
    {
        try
        {
            var drafts = intake.Parse(ArticleFileReader.DecodeUtf8(body.Bytes), sourceName, body.Extension);
            if (drafts.Count == 1) return drafts[0];
            body.Refusal = Problem(StatusCodes.Status422UnprocessableEntity, "One article per request", "body", $"the body holds {drafts.Count} articles; send each in its own request");
        }
        catch (ArticleRejectedException e)
        {
            body.Refusal = Refused(e);
        }
        return null;
    }

    internal static string? Format(string? contentType, out string? problem)
    {
        problem = null;
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            problem = "send Content-Type: application/json, text/markdown (front matter and Markdown) or text/plain (the op-ed text format)";
            return null;
        }
        if (media.CharSet is { } charset && !charset.Trim('"').Equals("utf-8", StringComparison.OrdinalIgnoreCase))
        {
            problem = $"the charset is '{charset}'; articles are read as UTF-8 only, so send charset=utf-8 (or none)";
            return null;
        }
        var type = media.MediaType!.ToLowerInvariant();
        if (type == "application/json" || type.EndsWith("+json", StringComparison.Ordinal)) return ".json";
        if (type is "text/markdown" or "text/x-markdown") return ".md";
        if (type == "text/plain") return ".txt";
        problem = $"'{type}' is not an article format; send application/json, text/markdown or text/plain";
        return null;
    }

    internal static async Task<byte[]?> ReadBoundedAsync(HttpRequest request, int max, CancellationToken ct)
    {
        if (request.ContentLength > max) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > max) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    // ------------------------------------------------------------------ idempotency

    /// <summary>
    /// Runs <paramref name="handle"/> once per (API key, Idempotency-Key): the answer is stored and given again to a
    /// retry with the same request; the same key with another request is refused (422), and one still being handled 409.
    /// </summary>
    private async Task<IResult> IdempotentAsync(HttpContext context, ApiKey key, string requestHash, Func<Task<ApiAnswer>> handle, CancellationToken ct)
    {
        var idempotencyKey = context.Request.Headers[IdempotencyHeader].ToString();
        if (idempotencyKey.Length == 0) return (await handle()).ToResult(context, false);
        if (idempotencyKey.Length > 255 || idempotencyKey.Any(c => c is < '!' or > '~'))
            return Problem(StatusCodes.Status400BadRequest, "Bad Idempotency-Key", IdempotencyHeader,
                "the Idempotency-Key must be 1 to 255 visible ASCII characters, such as a UUID").ToResult(context, false);
        var fingerprint = Hash($"{context.Request.Method} {context.Request.Path}\n{requestHash}");
        var now = time.GetUtcNow().ToStoredPrecision();

        await using (var connection = await database.OpenAsync(ct))
        {
            await connection.ExecuteAsync(new CommandDefinition("DELETE FROM api_idempotency WHERE created_at < @cutoff",
                new { cutoff = now - IdempotencyWindow }, cancellationToken: ct));
            var claimed = await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO api_idempotency (api_key, idempotency_key, request_hash, created_at) VALUES (@Name, @idempotencyKey, @fingerprint, @now)
                ON CONFLICT (api_key, idempotency_key) DO NOTHING
                """, new { key.Name, idempotencyKey, fingerprint, now }, cancellationToken: ct)) == 1;
            if (!claimed)
            {
                var stored = await connection.QuerySingleAsync<(string RequestHash, int? Status, string? Response)>(new CommandDefinition(
                    "SELECT request_hash, status, response FROM api_idempotency WHERE api_key = @Name AND idempotency_key = @idempotencyKey",
                    new { key.Name, idempotencyKey }, cancellationToken: ct));
                if (stored.RequestHash != fingerprint)
                    return Problem(StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused", IdempotencyHeader,
                        $"the Idempotency-Key '{Shown.Value(idempotencyKey)}' was used for a different request; use a new key for a new request").ToResult(context, false);
                if (stored.Status is null)
                    return Problem(StatusCodes.Status409Conflict, "Request in progress", IdempotencyHeader,
                        $"the request with Idempotency-Key '{Shown.Value(idempotencyKey)}' is still being handled; try again in a moment").ToResult(context, false);
                return JsonSerializer.Deserialize<ApiAnswer>(stored.Response!, Json)!.ToResult(context, replayed: true);
            }
        }

        ApiAnswer answer;
        try
        {
            answer = await handle();
        }
        catch
        {
            await using var connection = await database.OpenAsync(CancellationToken.None);
            await connection.ExecuteAsync(new CommandDefinition("DELETE FROM api_idempotency WHERE api_key = @Name AND idempotency_key = @idempotencyKey",
                new { key.Name, idempotencyKey }, cancellationToken: CancellationToken.None));
            throw;
        }
        await using (var connection = await database.OpenAsync(ct))
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE api_idempotency SET status = @Status, response = @response WHERE api_key = @Name AND idempotency_key = @idempotencyKey",
                new { answer.Status, response = JsonSerializer.Serialize(answer, Json), key.Name, idempotencyKey }, cancellationToken: ct));
        return answer.ToResult(context, false);
    }

    // ------------------------------------------------------------------ problems

    private static ApiAnswer NotFound(string slug) =>
        Problem(StatusCodes.Status404NotFound, "No such article", "slug", $"there is no article with the slug '{slug}'; POST {Path} creates one");

    /// <summary>A file parser's refusal as a validation problem, under the field it names (and its line, when it has one).</summary>
    internal static ApiAnswer Refused(ArticleRejectedException e)
    {
        var field = FieldOf(e.Problem);
        var problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [e.Message] })
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "The article was refused",
            Detail = e.Message,
        };
        problem.Extensions["field"] = field;
        if (e.Line is { } line) problem.Extensions["line"] = line;
        return new ApiAnswer(problem.Status.Value, "application/problem+json", JsonSerializer.Serialize(problem, Json), null, e.Message);
    }

    internal static ApiAnswer Problem(int status, string title, string field, string detail)
    {
        var problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [detail] }) { Status = status, Title = title, Detail = detail };
        problem.Extensions["field"] = field;
        return new ApiAnswer(status, "application/problem+json", JsonSerializer.Serialize(problem, Json), null, detail);
    }

    /// <summary>The field a parser's message is about: the key it quotes first ('slug', 'url', 'title'...), else the body.</summary>
    internal static string FieldOf(string problem) =>
        problem.StartsWith("the slug ", StringComparison.Ordinal) ? "slug"
        : QuotedKey().Match(problem) is { Success: true } m ? m.Groups[1].Value
        : problem.StartsWith("no title", StringComparison.Ordinal) ? "title"
        : "body";

    [GeneratedRegex(@"^(?:in \S+: )?'([A-Za-z_]+)'")]
    private static partial Regex QuotedKey();

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private sealed class RequestBody(byte[] bytes, string extension, string hash)
    {
        public byte[] Bytes { get; } = bytes;
        public string Extension { get; } = extension;
        public string Hash { get; } = hash;
        public ApiAnswer? Refusal { get; set; }
    }
}

/// <summary>An answer as data, so the first answer to an Idempotency-Key can be stored and given again byte for byte.</summary>
public sealed record ApiAnswer(int Status, string ContentType, string Body, string? Location, string? Detail)
{
    public IResult ToResult(HttpContext context, bool replayed)
    {
        if (Location is not null) context.Response.Headers.Location = Location;
        if (replayed) context.Response.Headers["Idempotent-Replayed"] = "true";
        return Results.Text(Body, ContentType, Encoding.UTF8, Status);
    }
}
