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
        return new ComposedPost(text, article.CanonicalUrl, article.Title, article.Summary, article.Image?.Url?.Value, account.Language ?? language, idempotencyKey);
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
