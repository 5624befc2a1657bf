using System.Text.Encodings.Web;
using Fluid;
using Fluid.Values;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Shared;

namespace Syndicator.Announcements;

/// <summary>
/// Renders an article into a post with the network's Liquid template, then makes it fit the network's length rule:
/// the summary is trimmed at a word boundary with an ellipsis, then the hashtags dropped, then the title trimmed.
/// The URL is never cut.
/// </summary>
public sealed class PostComposer
{
    private readonly Dictionary<Network, IFluidTemplate> templates = [];
    private readonly string? language;

    public PostComposer(IOptions<AnnouncementOptions> options, IOptions<SiteOptions> site, IHostEnvironment environment)
    {
        language = site.Value.Language;
        var folder = Path.GetFullPath(options.Value.TemplatesPath, environment.ContentRootPath);
        foreach (var network in Enum.GetValues<Network>())
            templates[network] = LiquidTemplates.Load(Path.Combine(folder, TemplateFile(network)), "Announcements:TemplatesPath");
    }

    public static string TemplateFile(Network network) => network.ToString().ToLowerInvariant() + ".liquid";

    public ComposedPost Compose(Article article, SocialAccount account, string idempotencyKey)
    {
        var text = OwnText(article, account.Network) ?? TemplateText(article, account);
        return new ComposedPost(text, article.CanonicalUrl, article.Title, article.Summary, article.Image?.Url?.Value, account.Language ?? language, idempotencyKey)
        {
            ImageAlt = article.Image?.Caption,
        };
    }

    /// <summary>
    /// The article's own text for <paramref name="network"/> (its <c>social:</c> entry) as it is posted, when it has one
    /// that fits: import already dropped one that did not, so this only guards against a rule that changed since.
    /// </summary>
    private static string? OwnText(Article article, Network network)
    {
        var own = network switch
        {
            Network.X => article.Controls.Texts.X,
            Network.Mastodon => article.Controls.Texts.Mastodon,
            _ => article.Controls.Texts.Bluesky,
        };
        if (own is null) return null;
        var text = OwnText(own, article.CanonicalUrl);
        return PostLength.Measure(network, text) <= PostLength.Limit(network) ? text : null;
    }

    /// <summary>A publisher's own post text, with the article's URL on a line of its own unless the text already has it: every post links to its article.</summary>
    public static string OwnText(string text, string url) =>
        text.Contains(url, StringComparison.Ordinal) ? text : text.TrimEnd() + "\n\n" + url;

    private string TemplateText(Article article, SocialAccount account)
    {
        var handle = Handle(article.Author.Handles, account.Network);
        var hashtags = string.Join(' ', article.Tags.Select(Hashtag).Where(h => h.Length > 1));
        var summary = article.Summary;
        var title = article.Title;
        var limit = PostLength.Limit(account.Network);

        var text = Render(account.Network, title, summary, article.CanonicalUrl, article.Author.Name, handle, hashtags);
        if (PostLength.Measure(account.Network, text) > limit)
        {
            summary = Fit(s => Render(account.Network, title, s, article.CanonicalUrl, article.Author.Name, handle, hashtags), summary, account.Network, limit);
            text = Render(account.Network, title, summary, article.CanonicalUrl, article.Author.Name, handle, hashtags);
        }
        if (PostLength.Measure(account.Network, text) > limit && hashtags.Length > 0)
        {
            hashtags = "";
            text = Render(account.Network, title, summary, article.CanonicalUrl, article.Author.Name, handle, hashtags);
        }
        if (PostLength.Measure(account.Network, text) > limit)
        {
            title = Fit(t => Render(account.Network, t, summary, article.CanonicalUrl, article.Author.Name, handle, hashtags), title, account.Network, limit);
            text = Render(account.Network, title, summary, article.CanonicalUrl, article.Author.Name, handle, hashtags);
        }
        return text;
    }

    /// <summary>The longest word-boundary prefix of <paramref name="value"/> (with an ellipsis) whose rendering fits; empty when none does.</summary>
    private static string Fit(Func<string, string> render, string value, Network network, int limit)
    {
        var words = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int lo = 0, hi = words.Length - 1;
        var best = "";
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            var candidate = string.Join(' ', words.Take(mid + 1)).TrimEnd(',', ';', ':', '.', '-', '—') + "…";
            if (PostLength.Measure(network, render(candidate)) <= limit) { best = candidate; lo = mid + 1; }
            else hi = mid - 1;
        }
        return best;
    }

    private string Render(Network network, string title, string summary, string url, string author, string handle, string hashtags)
    {
        var context = new TemplateContext();
        context.SetValue("title", new StringValue(title));
        context.SetValue("summary", new StringValue(summary));
        context.SetValue("url", new StringValue(url));
        context.SetValue("author", new StringValue(author));
        context.SetValue("handle", new StringValue(handle));
        context.SetValue("hashtags", new StringValue(hashtags));
        var text = templates[network].Render(context, NullEncoder.Default);
        // Empty variables leave blank lines behind; a post never needs more than one empty line in a row.
        while (text.Contains("\n\n\n", StringComparison.Ordinal)) text = text.Replace("\n\n\n", "\n\n", StringComparison.Ordinal);
        return text.Trim();
    }

    public static string Handle(SocialHandles handles, Network network) => network switch
    {
        Network.X => handles.X is { } x ? "@" + x : "",
        Network.Mastodon => handles.Mastodon is { } m ? "@" + m : "",
        _ => handles.Bluesky is { } b ? "@" + b : "",
    };

    private static string Hashtag(string tag) => "#" + new string(tag.Where(char.IsLetterOrDigit).ToArray());
}
