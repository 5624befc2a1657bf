using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Syndicator.Articles.Import;
using Syndicator.Shared;
using Syndicator.Storage;

namespace Syndicator.Articles.Intake;

/// <summary>
/// <c>POST /webhooks/ghost</c>: Ghost's <c>post.published</c>, <c>post.published.edited</c> and <c>post.unpublished</c>
/// (and <c>post.deleted</c>, read as an unpublish). Ghost signs each with the webhook's secret:
/// <c>X-Ghost-Signature: sha256=HEX, t=MILLISECONDS</c>, HEX being HMAC-SHA256 over the body followed by the time. A
/// bad signature, one older than Intake:Ghost:MaxAgeSeconds, or one seen before (a replay) is refused. The post's
/// html, title, slug, authors, tags, feature image and excerpt become a JSON article read by the file parser.
/// </summary>
public sealed class GhostWebhook(
    IOptions<IntakeOptions> options,
    IOptions<ImportOptions> importOptions,
    IHostEnvironment environment,
    WebhookReplays replays,
    ArticleIntake intake,
    ArticleStore store,
    TimeProvider time)
{
    public const string Path = "/webhooks/ghost";
    public const string SignatureHeader = "X-Ghost-Signature";

    public static void Map(WebApplication app) =>
        app.MapPost(Path, (HttpContext context, GhostWebhook hook, CancellationToken ct) => hook.ReceiveAsync(context, ct))
            .WithTags("Webhooks").WithName("GhostWebhook").WithSummary("Ghost's post.published, post.published.edited and post.unpublished webhooks")
            .Accepts<JsonElement>("application/json")
            .Produces(StatusCodes.Status200OK).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);

    public async Task<IResult> ReceiveAsync(HttpContext context, CancellationToken ct)
    {
        var ghost = options.Value.Ghost;
        if (string.IsNullOrWhiteSpace(ghost.Secret))
            return Answer(context, ArticleApi.Problem(StatusCodes.Status404NotFound, "Ghost webhooks are off", "Intake:Ghost:Secret",
                "set Intake:Ghost:Secret to the webhook's secret (env:NAME or file:/path) to receive Ghost's webhooks"));
        var secret = Secrets.TryResolve(ghost.Secret, environment.ContentRootPath, out var secretProblem);
        if (secret is null)
            return Answer(context, ArticleApi.Problem(StatusCodes.Status503ServiceUnavailable, "The Ghost secret cannot be read", "Intake:Ghost:Secret", $"Intake:Ghost:Secret: {secretProblem}"));

        var max = importOptions.Value.MaxFileBytes;
        if (await ArticleApi.ReadBoundedAsync(context.Request, max, ct) is not { } body)
            return Answer(context, ArticleApi.Problem(StatusCodes.Status413PayloadTooLarge, "The body is too large", "body",
                $"the webhook's body is over {max:N0} bytes (Import:MaxFileBytes)"));

        var header = context.Request.Headers[SignatureHeader].ToString();
        if (!TryParseSignature(header, out var mac, out var millis))
            return Answer(context, ArticleApi.Problem(StatusCodes.Status401Unauthorized, "No valid Ghost signature", SignatureHeader,
                header.Length == 0
                    ? $"the request has no {SignatureHeader}; give the webhook a secret in Ghost and the same secret to Intake:Ghost:Secret"
                    : $"{SignatureHeader} is not 'sha256=<64 hex digits>, t=<milliseconds>'"));
        var timestamp = millis.ToString(CultureInfo.InvariantCulture);
        byte[] signed = [.. body, .. Encoding.ASCII.GetBytes(timestamp)];
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        if (!CryptographicOperations.FixedTimeEquals(expected, mac))
            return Answer(context, ArticleApi.Problem(StatusCodes.Status401Unauthorized, "The Ghost signature does not match", SignatureHeader,
                "the signature does not match the body: check that Intake:Ghost:Secret holds this webhook's secret from Ghost"));
        var age = time.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(millis);
        var maxAge = TimeSpan.FromSeconds(ghost.MaxAgeSeconds);
        if (age > maxAge || age < -maxAge)
            return Answer(context, ArticleApi.Problem(StatusCodes.Status401Unauthorized, "The Ghost signature is stale", SignatureHeader,
                $"the request was signed {(age > TimeSpan.Zero ? $"{age.TotalSeconds:0} s ago" : $"{-age.TotalSeconds:0} s in the future")}, beyond Intake:Ghost:MaxAgeSeconds ({ghost.MaxAgeSeconds}); check both clocks"));
        if (!await replays.FirstSightAsync("ghost", Convert.ToHexStringLower(mac), maxAge, ct))
            return Answer(context, ArticleApi.Problem(StatusCodes.Status409Conflict, "Replayed", SignatureHeader,
                "this signed request was received already; a replay is never applied twice"));

        return Answer(context, await ApplyAsync(body, ct));
    }

    private async Task<ApiAnswer> ApplyAsync(byte[] body, CancellationToken ct)
    {
        JsonElement post;
        try
        {
            using var document = JsonDocument.Parse(body);
            post = document.RootElement.GetProperty("post").Clone();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return ArticleApi.Problem(StatusCodes.Status422UnprocessableEntity, "Not a Ghost post event", "post",
                "the body is not a Ghost post webhook ({\"post\": {\"current\": …, \"previous\": …}}); send post.* events only");
        }
        var current = post.TryGetProperty("current", out var c) && c.ValueKind == JsonValueKind.Object ? c : default;
        var previous = post.TryGetProperty("previous", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        var id = Text(current, "id") ?? Text(previous, "id");
        if (id is null)
            return ArticleApi.Problem(StatusCodes.Status422UnprocessableEntity, "The post has no id", "post.current.id", "the post in the webhook has no 'id'");
        var sourceName = $"ghost:{id}";

        if (Text(current, "status") == "published")
        {
            var json = ArticleJson(current);
            ArticleDraft draft;
            try
            {
                draft = intake.Parse(json, sourceName, ".json").Single();
            }
            catch (ArticleRejectedException e)
            {
                await intake.RecordRefusalAsync(Text(current, "slug"), IntakeActor.Ghost, e.Message, ct);
                return ArticleApi.Refused(e);
            }
            try
            {
                var result = await intake.PublishAsync(draft, IntakeActor.Ghost, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json))), ct);
                return Ok(result.Action, result.Article.Slug.Value);
            }
            catch (ArticleRejectedException e)
            {
                await intake.RecordRefusalAsync(draft.Slug, IntakeActor.Ghost, e.Message, ct);
                return ArticleApi.Refused(e);
            }
        }

        // post.unpublished (now a draft or scheduled) and post.deleted (current is empty) take the article down.
        if (Text(previous, "status") == "published" || current.ValueKind != JsonValueKind.Object)
        {
            if (await store.FindBySourceNameAsync(sourceName, ct) is not { } article) return Ok("unknown", null);
            var result = await intake.UnpublishAsync(article, IntakeActor.Ghost, ct);
            return Ok(result.Action, article.Slug.Value);
        }
        return Ok("ignored", Text(current, "slug"));
    }

    /// <summary>The post as a JSON article, the fields named as a JSON article file names them; the parser checks each.</summary>
    internal static string ArticleJson(JsonElement post)
    {
        var article = new Dictionary<string, object?>
        {
            ["title"] = Text(post, "title"),
            ["slug"] = Text(post, "slug"),
            ["bodyHtml"] = Text(post, "html"),
            ["summary"] = Text(post, "custom_excerpt") ?? Text(post, "excerpt"),
            ["url"] = Text(post, "canonical_url") ?? Text(post, "url"),
            ["date"] = Text(post, "published_at"),
            ["updated"] = Text(post, "updated_at"),
        };
        // Ghost's internal tags (#name) organise its own site; they are no reader's topic.
        if (post.TryGetProperty("tags", out var tags) && tags.ValueKind == JsonValueKind.Array)
            article["tags"] = tags.EnumerateArray().Where(t => Text(t, "visibility") != "internal").Select(t => Text(t, "name")).OfType<string>().ToList();
        var author = post.TryGetProperty("primary_author", out var primary) && primary.ValueKind == JsonValueKind.Object ? primary
            : post.TryGetProperty("authors", out var authors) && authors.ValueKind == JsonValueKind.Array && authors.GetArrayLength() > 0 ? authors[0] : default;
        if (author.ValueKind == JsonValueKind.Object)
            article["author"] = new Dictionary<string, object?> { ["name"] = Text(author, "name"), ["bio"] = Text(author, "bio"), ["x"] = Text(author, "twitter") };
        if (Text(post, "feature_image") is { } image)
        {
            // Ghost's caption is HTML (a credit link); the article keeps it as text.
            var caption = Text(post, "feature_image_caption") is { } html ? Summaries.FromHtml(html) : Text(post, "feature_image_alt");
            article["image"] = new Dictionary<string, object?> { ["url"] = image, ["caption"] = caption };
        }
        return JsonSerializer.Serialize(article.Where(kv => kv.Value is not null).ToDictionary());
    }

    /// <summary>Reads <c>sha256=HEX, t=MILLIS</c> (the order of the two parts does not matter).</summary>
    internal static bool TryParseSignature(string header, out byte[] mac, out long millis)
    {
        mac = [];
        millis = 0;
        string? hex = null, t = null;
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.StartsWith("sha256=", StringComparison.Ordinal)) hex = part[7..];
            else if (part.StartsWith("t=", StringComparison.Ordinal)) t = part[2..];
        }
        if (hex is not { Length: 64 } || !long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out millis)) return false;
        try
        {
            mac = Convert.FromHexString(hex);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static ApiAnswer Ok(string action, string? slug) =>
        new(StatusCodes.Status200OK, "application/json", JsonSerializer.Serialize(new { action, slug }, ArticleApi.Json), null, null);

    private static IResult Answer(HttpContext context, ApiAnswer answer) => answer.ToResult(context, replayed: false);

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s : null;
}
