namespace Syndicator.Articles;

/// <summary>The publisher's own post text per network; null where the network's template writes the post.</summary>
public sealed record SocialTexts(string? X = null, string? Mastodon = null, string? Bluesky = null)
{
    public static readonly SocialTexts None = new();

    public bool IsEmpty => X is null && Mastodon is null && Bluesky is null;
}

/// <summary>
/// What an article's file says about its announcements (front matter, sidecar or JSON): <see cref="Announce"/> false
/// keeps it off every social account; <see cref="AnnounceAt"/> holds its posts until then; <see cref="Texts"/>
/// replaces the template's post on a network; <see cref="SkipAccounts"/> names accounts that must not post it.
/// </summary>
public sealed record AnnouncementControls(bool Announce, DateTimeOffset? AnnounceAt, SocialTexts Texts, IReadOnlyList<string> SkipAccounts)
{
    public static readonly AnnouncementControls Default = new(true, null, SocialTexts.None, []);

    public bool Skips(string accountName) => SkipAccounts.Contains(accountName, StringComparer.OrdinalIgnoreCase);

    public bool Equals(AnnouncementControls? other) =>
        other is not null && Announce == other.Announce && AnnounceAt == other.AnnounceAt && Texts == other.Texts && SkipAccounts.SequenceEqual(other.SkipAccounts);

    public override int GetHashCode() => HashCode.Combine(Announce, AnnounceAt, Texts, SkipAccounts.Count);
}

/// <summary>
/// Looks at an article before it is stored, with what only a higher layer knows (the configured accounts, each
/// network's length rule): returns the article, perhaps with a control neutralised and a line added to its warnings.
/// </summary>
public interface IArticleReviewer
{
    Article Review(Article article);
}
