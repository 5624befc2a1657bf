using Microsoft.Extensions.Options;
using Syndicator.Articles;

namespace Syndicator.Announcements;

/// <summary>
/// Checks an article's announcement controls at import against what only announcements know. A <c>social</c> text
/// that breaks its network's length rule (<see cref="PostLength"/>; for X twitter-text's weighted length and its
/// forbidden characters), counted with the article's URL as it will be posted, is neutralised: dropped with a
/// warning naming the key, its length and the limit, so the template writes that post. Refusing the file instead
/// would keep the article out of the feeds for the sake of one post. A <c>skipAccounts</c> name that is no
/// configured account is kept (the account may be added later) with a warning naming it.
/// </summary>
public sealed class AnnouncementReview(IOptions<AnnouncementOptions> options) : IArticleReviewer
{
    public Article Review(Article article)
    {
        var controls = article.Controls;
        var warnings = new List<string>();
        var texts = controls.Texts;
        if (!texts.IsEmpty)
        {
            texts = new SocialTexts(
                Checked(Network.X, texts.X, article, warnings),
                Checked(Network.Mastodon, texts.Mastodon, article, warnings),
                Checked(Network.Bluesky, texts.Bluesky, article, warnings));
        }
        var known = options.Value.Accounts.Select(a => a.Name).ToList();
        foreach (var name in controls.SkipAccounts.Where(n => !known.Contains(n, StringComparer.OrdinalIgnoreCase)))
            warnings.Add($"'skipAccounts' names \"{Shared.Shown.Value(name)}\", which is no account under Announcements:Accounts" +
                         (known.Count == 0 ? "" : $" ({string.Join(", ", known)})") + "; check the spelling");
        return warnings.Count == 0 ? article : article with { Controls = controls with { Texts = texts }, Warnings = [.. article.Warnings, .. warnings] };
    }

    private static string? Checked(Network network, string? text, Article article, List<string> warnings)
    {
        if (text is null) return null;
        var post = PostComposer.OwnText(text, article.CanonicalUrl);
        var length = PostLength.Measure(network, post);
        var limit = PostLength.Limit(network);
        var key = "social." + network.ToString().ToLowerInvariant();
        if (length > limit)
        {
            warnings.Add($"'{key}' was dropped: with the article's link it counts {length} on {network}, over its limit of {limit}; shorten it, or remove it to let the template write the post");
            return null;
        }
        if (network == Network.X && !PostLength.XParse(post).Valid)
        {
            warnings.Add($"'{key}' was dropped: X refuses a character in it (twitter-text counts it invalid); the template writes the post instead");
            return null;
        }
        return text;
    }
}
