using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Syndicator.Shared;

namespace Syndicator.Articles.Intake;

/// <summary>The <c>Intake</c> section: Ghost's webhooks and the feeds and WordPress sites pulled on a schedule.</summary>
public sealed class IntakeOptions
{
    public const string Section = "Intake";

    public GhostOptions Ghost { get; set; } = new();

    /// <summary>Feeds (RSS or Atom) and WordPress sites polled by the IntakePull job; each is polled every <see cref="PullSourceOptions.IntervalMinutes"/>.</summary>
    public List<PullSourceOptions> Sources { get; set; } = [];

    /// <summary>How long one request to a source may take before the poll counts it unreachable.</summary>
    [Range(1, 600, ErrorMessage = "Intake:PullTimeoutSeconds must be between 1 and 600.")]
    public int PullTimeoutSeconds { get; set; } = 30;
}

public sealed class GhostOptions
{
    /// <summary>The secret of the webhook in Ghost (Settings → Integrations), as <c>env:NAME</c> or <c>file:/path</c>. Unset: /webhooks/ghost answers 404.</summary>
    public string? Secret { get; set; }

    /// <summary>A signature older (or further in the future) than this is refused: Ghost signs with the time it sent.</summary>
    [Range(10, 86_400, ErrorMessage = "Intake:Ghost:MaxAgeSeconds must be between 10 and 86400.")]
    public int MaxAgeSeconds { get; set; } = 300;
}

public enum PullKind
{
    /// <summary>An RSS 2.0 or Atom 1.0 feed; full content from content:encoded or atom:content where the feed has it.</summary>
    Feed,
    /// <summary>WordPress's REST API: <c>/wp-json/wp/v2/posts</c>.</summary>
    WordPress,
}

public sealed class PullSourceOptions
{
    /// <summary>Names the source in job history, the article's history and the entries it remembers; never change it once articles came from it.</summary>
    public string Name { get; set; } = "";

    public PullKind Kind { get; set; } = PullKind.Feed;

    /// <summary>The feed's URL, or the WordPress site (its <c>/wp-json/wp/v2/posts</c> is added when the URL does not name it).</summary>
    public string Url { get; set; } = "";

    public int IntervalMinutes { get; set; } = 15;

    /// <summary>The author of an entry that names none; Site:DefaultAuthor when unset.</summary>
    public string? Author { get; set; }

    public bool Enabled { get; set; } = true;

    /// <summary>The URL that is fetched: for WordPress, the posts endpoint with the embedded author, image and terms.</summary>
    public string FetchUrl => Kind != PullKind.WordPress ? Url
        : Url.Contains("/wp-json/", StringComparison.Ordinal) ? Url
        : Url.TrimEnd('/') + "/wp-json/wp/v2/posts?per_page=20&_embed=1";
}

/// <summary>Checks the section at start-up: every key named with what is wrong and what to write instead.</summary>
internal sealed class IntakeOptionsValidator(IHostEnvironment environment) : IValidateOptions<IntakeOptions>
{
    public ValidateOptionsResult Validate(string? name, IntakeOptions options)
    {
        var errors = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.Ghost.Secret))
        {
            if (!Secrets.IsReference(options.Ghost.Secret))
                errors.Add("Intake:Ghost:Secret must be a secret reference (env:NAME or file:/path), never the secret itself; for example env:SYNDICATOR_GHOST_SECRET.");
            else if (Secrets.TryResolve(options.Ghost.Secret, environment.ContentRootPath, out var problem) is null)
                errors.Add($"Intake:Ghost:Secret cannot be read: {problem}.");
        }
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Sources.Count; i++)
        {
            var source = options.Sources[i];
            var key = $"Intake:Sources:{i}";
            if (string.IsNullOrWhiteSpace(source.Name) || source.Name.Length > 64 || !source.Name.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.'))
                errors.Add($"{key}:Name is \"{Shown.Value(source.Name)}\"; give each source a name of 1 to 64 letters, digits, '-', '_' or '.', such as 'blog'.");
            else if (!names.Add(source.Name))
                errors.Add($"{key}:Name '{source.Name}' is used by another source; names must differ.");
            if (!WebUrl.TryParse(source.Url, out _, out var urlProblem))
                errors.Add($"{key}:Url is \"{Shown.Value(source.Url)}\", which is not an absolute http(s) URL ({urlProblem}); write the feed's URL, or the WordPress site's, like https://magazine.example/feed.xml.");
            if (source.IntervalMinutes is < 1 or > 10_080)
                errors.Add($"{key}:IntervalMinutes is {source.IntervalMinutes}; use 1 to 10080 (a week).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
