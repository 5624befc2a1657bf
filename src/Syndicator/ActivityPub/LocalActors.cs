using System.Globalization;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Shared;

namespace Syndicator.ActivityPub;

public enum ActorKind
{
    /// <summary>The publication itself: every article is its post.</summary>
    Publication,
    /// <summary>An author named in ActivityPub:Authors.</summary>
    Author,
}

/// <summary>One of our accounts: its handle, what kind it is, and (for an author) the name articles give.</summary>
public sealed record LocalActor(string Username, ActorKind Kind, string DisplayName);

/// <summary>
/// Our actors and every URL of theirs. All live on the site's domain (Site:BaseUrl) under <c>/ap/</c>, which, with
/// <c>/.well-known/webfinger</c>, <c>/.well-known/nodeinfo</c> and <c>/nodeinfo/</c>, is what a reverse proxy passes.
/// </summary>
public sealed class LocalActors(IOptions<ActivityPubOptions> options, IOptions<SiteOptions> site)
{
    public const string Prefix = "/ap";

    public const string PublicAudience = "https://www.w3.org/ns/activitystreams#Public";

    public string BaseUrl => site.Value.BaseUrl.TrimEnd('/');

    /// <summary>The domain part of every handle: the host (and port, when not the default) of Site:BaseUrl.</summary>
    public string Domain => new Uri(BaseUrl).Authority;

    public LocalActor Publication => new(options.Value.Username, ActorKind.Publication, site.Value.Title);

    public IEnumerable<LocalActor> All => [Publication, .. options.Value.Authors.Select(a => new LocalActor(a.Username, ActorKind.Author, a.Name))];

    public LocalActor? Find(string username) => All.FirstOrDefault(a => string.Equals(a.Username, username, StringComparison.Ordinal));

    /// <summary>The author's own account, when ActivityPub:Authors names them (names compare without regard to case).</summary>
    public LocalActor? ForAuthor(Author author) =>
        All.FirstOrDefault(a => a.Kind == ActorKind.Author && string.Equals(a.DisplayName, author.Name, StringComparison.OrdinalIgnoreCase));

    public string ActorUrl(LocalActor actor) => $"{BaseUrl}{Prefix}/actors/{actor.Username}";

    public string KeyId(LocalActor actor) => ActorUrl(actor) + "#main-key";

    public string InboxUrl(LocalActor actor) => ActorUrl(actor) + "/inbox";

    public string OutboxUrl(LocalActor actor) => ActorUrl(actor) + "/outbox";

    public string FollowersUrl(LocalActor actor) => ActorUrl(actor) + "/followers";

    public string SharedInboxUrl => $"{BaseUrl}{Prefix}/inbox";

    /// <summary>The article's object id in a round (<see cref="ArticleRounds"/>): its first publication has none after the id.</summary>
    public string ObjectUrl(string articleId, int round) =>
        $"{BaseUrl}{Prefix}/articles/{Uri.EscapeDataString(articleId)}" + (round > 1 ? "/" + round.ToString(CultureInfo.InvariantCulture) : "");

    /// <summary>The actor whose URL this is, or null when it is none of ours.</summary>
    public LocalActor? FromUrl(string? url)
    {
        var prefix = $"{BaseUrl}{Prefix}/actors/";
        return url is not null && url.StartsWith(prefix, StringComparison.Ordinal) ? Find(url[prefix.Length..]) : null;
    }

    /// <summary>The article id an object URL names (ours, or the article's canonical URL is matched by the caller), or null.</summary>
    public string? ArticleIdFromUrl(string? url)
    {
        var prefix = $"{BaseUrl}{Prefix}/articles/";
        return url is not null && url.StartsWith(prefix, StringComparison.Ordinal) && url.Length > prefix.Length
            ? Uri.UnescapeDataString(url[prefix.Length..].Split('/', '#', '?')[0])
            : null;
    }
}
