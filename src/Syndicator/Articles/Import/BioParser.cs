using System.Text.RegularExpressions;

namespace Syndicator.Articles.Import;

/// <summary>
/// Reads an author bio line ("*Hassan Mahmoudi is a ... He tweets under @hassan_mahmou1.") for the author's
/// name and social handles. Bios are free text, so this reads patterns rather than one fixed sentence:
/// "@user@instance" is a Mastodon address, "@name.bsky.social" (a handle with a dot) is Bluesky, a bare
/// "@name" is X unless the words before it name another network, and profile URLs count too.
/// </summary>
public static partial class BioParser
{
    private static readonly HashSet<string> NameParticles = new(StringComparer.Ordinal)
    {
        "al", "bin", "bint", "da", "de", "del", "della", "der", "di", "du", "el", "ibn", "la", "le", "van", "von", "y",
    };

    /// <summary>The name a bio starts with: the leading run of capitalised words, joined by the usual particles.</summary>
    public static string? LeadingName(string bio)
    {
        var words = bio.TrimStart('*', ' ', '\t').Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var name = new List<string>();
        foreach (var raw in words)
        {
            var word = raw.TrimEnd(',', ';', ':');
            var capitalised = word.Length > 0 && char.IsUpper(word[0]);
            var particle = NameParticles.Contains(word) || (word.Contains('-') && NameParticles.Contains(word.Split('-')[0]));
            if (!capitalised && !(particle && name.Count > 0)) break;
            name.Add(word);
            if (raw.Length != word.Length) break; // "Jane Doe, a writer": the comma ends the name
        }
        while (name.Count > 0 && NameParticles.Contains(name[^1])) name.RemoveAt(name.Count - 1);
        return name.Count == 0 ? null : string.Join(' ', name);
    }

    public static SocialHandles Handles(string bio)
    {
        string? x = null, mastodon = null, bluesky = null;

        foreach (Match m in ProfileUrl().Matches(bio))
        {
            var host = m.Groups["host"].Value.ToLowerInvariant();
            var path = m.Groups["path"].Value;
            if (host is "x.com" or "twitter.com" or "www.twitter.com" or "www.x.com") x ??= path.TrimStart('@');
            else if (host == "bsky.app" && path.StartsWith("profile/", StringComparison.Ordinal)) bluesky ??= path["profile/".Length..];
            else if (path.StartsWith('@')) mastodon ??= $"{path[1..]}@{host}";
        }

        foreach (Match m in Mention().Matches(bio))
        {
            var handle = m.Groups["handle"].Value.TrimEnd('.');
            var before = bio[Math.Max(0, m.Index - 40)..m.Index].ToLowerInvariant();
            if (m.Groups["instance"].Success) mastodon ??= $"{handle}@{m.Groups["instance"].Value.TrimEnd('.')}";
            else if (handle.Contains('.')) bluesky ??= handle;
            else if (before.Contains("bluesky") || before.Contains("bsky")) continue;
            else if (before.Contains("mastodon")) continue;
            else x ??= handle;
        }

        return new SocialHandles(x, mastodon, bluesky);
    }

    [GeneratedRegex(@"(?<![\w@/])@(?<handle>[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)(?:@(?<instance>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+))?")]
    private static partial Regex Mention();

    [GeneratedRegex(@"https?://(?<host>[A-Za-z0-9.-]+)/(?<path>@?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.:-]+)?)")]
    private static partial Regex ProfileUrl();
}
