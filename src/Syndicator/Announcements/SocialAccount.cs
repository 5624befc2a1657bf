using System.ComponentModel.DataAnnotations;
using Syndicator.Shared;

namespace Syndicator.Announcements;

public enum Network
{
    X,
    Mastodon,
    Bluesky,
}

/// <summary>How a post carries its article's image.</summary>
public enum PostImage
{
    /// <summary>Uploaded and attached to the post (X, Mastodon; Bluesky's <c>app.bsky.embed.images</c>), the caption as alt text.</summary>
    Attached,
    /// <summary>Bluesky only: the thumbnail of the link card (<c>app.bsky.embed.external</c>).</summary>
    Card,
    /// <summary>The post goes without the image.</summary>
    None,
}

/// <summary>
/// One social account Syndicator posts to (<c>Announcements:Accounts:N</c>). <see cref="Author"/> binds it to an
/// author, by name or by the handle the importer read from the bio; without one it is the publication's account
/// and announces every article.
/// </summary>
public sealed class SocialAccount
{
    /// <summary>Unique, stable name; deliveries are recorded against it, so renaming an account re-announces nothing but loses its history.</summary>
    [Required(ErrorMessage = "every account under Announcements:Accounts needs a Name, e.g. \"magazine-x\".")]
    public string Name { get; set; } = "";

    public Network Network { get; set; }

    /// <summary>The author's name ("Hassan Mahmoudi") or handle on this network ("hassan_mahmou1"); empty for the publication's account.</summary>
    public string? Author { get; set; }

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The API's base URL: <c>https://api.x.com</c>, the Mastodon instance (<c>https://mastodon.social</c>), or the
    /// Bluesky PDS (<c>https://bsky.social</c>). Configurable so tests, staging and self-hosted instances work.
    /// </summary>
    public string? BaseUrl { get; set; }

    /// <summary>
    /// Credentials by name, each a reference <c>env:VARIABLE</c> or <c>file:/path</c>, never the secret itself.
    /// X: ConsumerKey, ConsumerSecret, AccessToken, AccessTokenSecret. Mastodon: AccessToken. Bluesky: Identifier, AppPassword.
    /// </summary>
    public Dictionary<string, string> Credentials { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Mastodon only: public, unlisted, private or direct.</summary>
    public string Visibility { get; set; } = "public";

    /// <summary>ISO 639 language of the posts (Mastodon's <c>language</c>, Bluesky's <c>langs</c>); defaults to Site:Language.</summary>
    public string? Language { get; set; }

    /// <summary>At most this many announcements per run of the announcement job, so a backlog never floods the timeline.</summary>
    [Range(1, 1000, ErrorMessage = "Announcements:Accounts:N:MaxPerRun must be between 1 and 1000.")]
    public int MaxPerRun { get; set; } = 5;

    /// <summary>How the article's image goes with the post: Attached (X and Mastodon's default), Card (Bluesky's default: the link card's thumbnail) or None.</summary>
    public PostImage? Image { get; set; }

    public PostImage ImageStyle => Image ?? (Network == Network.Bluesky ? PostImage.Card : PostImage.Attached);

    public bool IsPublication => string.IsNullOrWhiteSpace(Author);

    public static IReadOnlyList<string> RequiredCredentials(Network network) => network switch
    {
        Network.X => ["ConsumerKey", "ConsumerSecret", "AccessToken", "AccessTokenSecret"],
        Network.Mastodon => ["AccessToken"],
        _ => ["Identifier", "AppPassword"],
    };

    /// <summary>
    /// The account's <see cref="RequiredCredentials"/>, resolved; or null, with <paramref name="problem"/> naming the
    /// first one that is missing or cannot be read and what to do. Every client reports that the same way: a permanent
    /// failure, since no retry can succeed until someone sets the secret. A literal secret is never echoed.
    /// </summary>
    public IReadOnlyDictionary<string, string>? TryResolveCredentials(string contentRoot, out string? problem)
    {
        var resolved = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var credential in RequiredCredentials(Network))
        {
            var key = $"Announcements account {Name} Credentials:{credential}";
            if (!Credentials.TryGetValue(credential, out var reference) || string.IsNullOrWhiteSpace(reference))
            {
                problem = $"{key} is missing; {Network} needs {string.Join(", ", RequiredCredentials(Network))}, each as env:VARIABLE or file:/path.";
                return null;
            }
            if (Secrets.TryResolve(reference, contentRoot, out var why) is not { } secret)
            {
                problem = Secrets.IsReference(reference) ? $"{key} ({reference}) cannot be read: {why}." : $"{key}: {why}.";
                return null;
            }
            resolved[credential] = secret;
        }
        problem = null;
        return resolved;
    }

    public static string DefaultBaseUrl(Network network) => network switch
    {
        Network.X => "https://api.x.com",
        Network.Mastodon => "https://mastodon.social",
        _ => "https://bsky.social",
    };
}
