using System.Globalization;
using System.Text.Json.Nodes;
using Syndicator.Articles;

namespace Syndicator.ActivityPub;

/// <summary>
/// The JSON-LD documents we serve and send: actors, articles as <c>Article</c> objects, and the activities about
/// them, shaped the way Mastodon reads Ghost's and WordPress's (an <c>Article</c> shows as its title, summary and
/// link, with the image and hashtags). Only the two contexts every implementation ships with are referenced; the
/// rest is inline, so no receiver has to fetch a context.
/// </summary>
public sealed class ActivityDocuments(LocalActors actors)
{
    public const string ContentType = "application/activity+json";

    public static JsonArray Context() =>
    [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        new JsonObject
        {
            ["Hashtag"] = "as:Hashtag",
            ["sensitive"] = "as:sensitive",
            ["manuallyApprovesFollowers"] = "as:manuallyApprovesFollowers",
            ["toot"] = "http://joinmastodon.org/ns#",
            ["discoverable"] = "toot:discoverable",
        },
    ];

    public JsonObject Actor(LocalActor actor, string? bio, string? iconUrl, string publicKeyPem, bool manuallyApproves)
    {
        var url = actors.ActorUrl(actor);
        var document = new JsonObject
        {
            ["@context"] = Context(),
            ["id"] = url,
            ["type"] = actor.Kind == ActorKind.Publication ? "Organization" : "Person",
            ["preferredUsername"] = actor.Username,
            ["name"] = actor.DisplayName,
            ["summary"] = string.IsNullOrWhiteSpace(bio) ? "" : Paragraphs(bio),
            ["url"] = actor.Kind == ActorKind.Publication ? actors.BaseUrl + "/" : url,
            ["inbox"] = actors.InboxUrl(actor),
            ["outbox"] = actors.OutboxUrl(actor),
            ["followers"] = actors.FollowersUrl(actor),
            ["endpoints"] = new JsonObject { ["sharedInbox"] = actors.SharedInboxUrl },
            ["manuallyApprovesFollowers"] = manuallyApproves,
            ["discoverable"] = true,
            ["publicKey"] = new JsonObject
            {
                ["id"] = actors.KeyId(actor),
                ["owner"] = url,
                ["publicKeyPem"] = publicKeyPem,
            },
        };
        if (!string.IsNullOrWhiteSpace(iconUrl)) document["icon"] = new JsonObject { ["type"] = "Image", ["url"] = iconUrl };
        return document;
    }

    /// <summary>The actors an article is attributed to: its author's account when they have one, and the publication.</summary>
    public IReadOnlyList<LocalActor> AttributedTo(Article article) =>
        actors.ForAuthor(article.Author) is { } author ? [actors.Publication, author] : [actors.Publication];

    /// <summary>The article as an ActivityStreams object, in its round's id (<see cref="ArticleRounds"/>).</summary>
    public JsonObject Object(Article article, int round)
    {
        var attributed = AttributedTo(article);
        var document = new JsonObject
        {
            ["id"] = actors.ObjectUrl(article.Id, round),
            ["type"] = "Article",
            ["name"] = article.Title,
            ["summary"] = Paragraphs(article.Summary),
            ["content"] = article.BodyHtml,
            ["url"] = article.CanonicalUrl.Value,
            ["published"] = Time(article.PublishedAt),
            ["attributedTo"] = new JsonArray([.. attributed.Select(a => (JsonNode)JsonValue.Create(actors.ActorUrl(a))!)]),
            ["to"] = new JsonArray(LocalActors.PublicAudience),
            ["cc"] = new JsonArray([.. attributed.Select(a => (JsonNode)JsonValue.Create(actors.FollowersUrl(a))!)]),
            ["sensitive"] = false,
            ["tag"] = new JsonArray([.. article.Tags.Select(t => (JsonNode)new JsonObject { ["type"] = "Hashtag", ["name"] = Hashtag(t) })]),
        };
        if (article.UpdatedAt > article.PublishedAt) document["updated"] = Time(article.UpdatedAt);
        if (article.Image?.Url is { } image)
        {
            var picture = new JsonObject { ["type"] = "Image", ["url"] = image.Value };
            if (!string.IsNullOrWhiteSpace(article.Image.Caption)) picture["name"] = article.Image.Caption;
            document["image"] = picture;
        }
        return document;
    }

    /// <summary>The activity a delivery carries: <c>create</c>, <c>update:{hash}</c> or <c>delete</c> of the article, by the publication.</summary>
    public JsonObject ArticleActivity(Article article, ArticleVerb verb)
    {
        var objectUrl = actors.ObjectUrl(article.Id, verb.Round);
        var publication = actors.Publication;
        var activity = new JsonObject
        {
            ["@context"] = Context(),
            ["id"] = verb.ActivityId(objectUrl),
            ["type"] = verb.Type,
            ["actor"] = actors.ActorUrl(publication),
            ["published"] = Time(verb.Kind == ArticleVerbKind.Create ? article.PublishedAt : article.UpdatedAt),
            ["to"] = new JsonArray(LocalActors.PublicAudience),
            ["cc"] = new JsonArray([.. AttributedTo(article).Select(a => (JsonNode)JsonValue.Create(actors.FollowersUrl(a))!)]),
        };
        activity["object"] = verb.Kind == ArticleVerbKind.Delete
            ? new JsonObject { ["id"] = objectUrl, ["type"] = "Tombstone" }
            : Object(article, verb.Round);
        return activity;
    }

    /// <summary>Our answer to a Follow: the Follow itself as the object, as Mastodon matches it.</summary>
    public JsonObject Accept(LocalActor actor, Follower follower) => new()
    {
        ["@context"] = Context(),
        ["id"] = $"{actors.ActorUrl(actor)}/accepts/{follower.Id.ToString(CultureInfo.InvariantCulture)}",
        ["type"] = "Accept",
        ["actor"] = actors.ActorUrl(actor),
        ["to"] = new JsonArray(follower.Remote),
        ["object"] = new JsonObject
        {
            ["id"] = follower.FollowActivity,
            ["type"] = "Follow",
            ["actor"] = follower.Remote,
            ["object"] = actors.ActorUrl(actor),
        },
    };

    /// <summary>A tag as a hashtag: no spaces or '#' inside (Mastodon would cut it there).</summary>
    public static string Hashtag(string tag) => "#" + string.Concat(tag.Where(c => char.IsLetterOrDigit(c) || c == '_'));

    /// <summary>
    /// Plain text as HTML paragraphs. Only the characters HTML needs escaped are (&amp;, &lt;, &gt;, quotes): Persian,
    /// CJK and emoji stay as they are, where WebUtility.HtmlEncode would turn every emoji into a numeric entity.
    /// </summary>
    public static string Paragraphs(string text) =>
        string.Concat(text.Replace("\r\n", "\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => $"<p>{Escape(p).Replace("\n", "<br>")}</p>"));

    private static string Escape(string text) =>
        text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;").Replace("'", "&#39;");

    /// <summary>
    /// A document as sent: non-ASCII text as itself rather than \u escapes (it is JSON for machines, never pasted into
    /// HTML, so the relaxed encoder is safe here and keeps Persian or CJK articles half the size).
    /// </summary>
    public static string Serialize(JsonObject document) => document.ToJsonString(Wire);

    private static readonly System.Text.Json.JsonSerializerOptions Wire = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

public enum ArticleVerbKind
{
    Create,
    Update,
    Delete,
}

/// <summary>
/// Which activity about an article a delivery carries, stored as the delivery's subject version: <c>create</c>,
/// <c>update:{content hash}</c> (one per edit, so an edit never repeats a Create and a re-import of the same text sends
/// nothing), or <c>delete</c>; in an article's later round (published again after an unpublish, see
/// <see cref="ArticleRounds"/>) the same with <c>@{round}</c> after it, so each round has its own Create, edits and Delete.
/// </summary>
public sealed record ArticleVerb(ArticleVerbKind Kind, string Revision = "", int Round = 1)
{
    public static ArticleVerb Create(int round) => new(ArticleVerbKind.Create, "", round);
    public static ArticleVerb Delete(int round) => new(ArticleVerbKind.Delete, "", round);
    public static ArticleVerb Update(string contentHash, int round) => new(ArticleVerbKind.Update, contentHash, round);

    public string Type => Kind.ToString();

    public string Version => (Kind == ArticleVerbKind.Update ? $"update:{Revision}" : Kind.ToString().ToLowerInvariant())
        + (Round > 1 ? "@" + Round.ToString(CultureInfo.InvariantCulture) : "");

    public string ActivityId(string objectUrl) => Kind == ArticleVerbKind.Update ? $"{objectUrl}/update/{Revision}" : $"{objectUrl}/{Kind.ToString().ToLowerInvariant()}";

    /// <summary>For people: <c>Create</c>, or <c>Create (published again, round 2)</c>.</summary>
    public string Describe() => Round > 1 ? $"{Type} (published again, round {Round.ToString(CultureInfo.InvariantCulture)})" : Type;

    public static ArticleVerb? Parse(string version)
    {
        var round = 1;
        var at = version.LastIndexOf('@');
        if (at >= 0)
        {
            if (!int.TryParse(version.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out round) || round < 2) return null;
            version = version[..at];
        }
        return version switch
        {
            "create" => Create(round),
            "delete" => Delete(round),
            _ when version.StartsWith("update:", StringComparison.Ordinal) && version.Length > 7 => Update(version[7..], round),
            _ => null,
        };
    }
}
