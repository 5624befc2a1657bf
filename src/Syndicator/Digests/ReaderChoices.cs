using System.Text;
using Dapper;
using Syndicator.Shared;
using Syndicator.Storage;

namespace Syndicator.Digests;

/// <summary>What a reader may follow: the authors with at least one article and the tags in use, spelled as the store has them.</summary>
public sealed record FollowChoices(IReadOnlyList<string> Authors, IReadOnlyList<string> Tags)
{
    public static readonly FollowChoices None = new([], []);
}

/// <summary>Reads <see cref="FollowChoices"/> from the article store: the checkboxes of the sign-up and preferences pages.</summary>
public sealed class FollowCatalog(Database database)
{
    public async Task<FollowChoices> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var authors = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT DISTINCT au.name FROM authors au JOIN articles a ON a.author_id = au.id", cancellationToken: cancellationToken));
        var tags = await connection.QueryAsync<string>(new CommandDefinition("SELECT DISTINCT tag FROM article_tags", cancellationToken: cancellationToken));
        return new FollowChoices(Sorted(authors), Sorted(tags));
    }

    /// <summary>Case-insensitively distinct (the planner matches follows without case), first spelling kept, in a stable order.</summary>
    private static List<string> Sorted(IEnumerable<string> values) =>
        values.DistinctBy(v => v.ToLowerInvariant()).OrderBy(v => v, StringComparer.OrdinalIgnoreCase).ThenBy(v => v, StringComparer.Ordinal).ToList();
}

/// <summary>
/// What a reader chooses on the sign-up and preferences pages: how often, their time zone, and whom and what they
/// follow (none: everything). <see cref="Parse"/> checks a posted form against what the site offers and names the
/// field of each problem; values are matched to the store's spelling, so a follow always names a real author or tag.
/// </summary>
public sealed record ReaderChoices(DigestFrequency Frequency, string TimeZone, IReadOnlyList<string> Authors, IReadOnlyList<string> Tags)
{
    /// <summary>Longer than any author name or tag an import accepts; past it a value is not looked up at all.</summary>
    private const int MaxValueLength = 200;

    public static IReadOnlyList<DigestFrequency> Frequencies { get; } = Enum.GetValues<DigestFrequency>();

    public static string Name(DigestFrequency frequency) => SubscriberStore.Column(frequency);

    /// <summary>
    /// Checks a form. An empty frequency is daily and an empty zone <paramref name="defaultZone"/> (the site's); anything
    /// else must be one of the offered values, or it is a problem that names the field and the fix.
    /// </summary>
    public static (ReaderChoices? Choices, IReadOnlyList<string> Problems) Parse(
        string? frequency, string? timeZone, IReadOnlyList<string?> authors, IReadOnlyList<string?> tags, FollowChoices known, string defaultZone)
    {
        var problems = new List<string>();
        var frequencyText = (frequency ?? "").Trim();
        DigestFrequency? chosen = frequencyText.Length == 0 ? DigestFrequency.Daily
            : Frequencies.Where(f => Name(f).Equals(frequencyText, StringComparison.OrdinalIgnoreCase)).Select(f => (DigestFrequency?)f).FirstOrDefault();
        if (chosen is null)
            problems.Add($"how often: '{Shown.Value(frequencyText, 40)}' is not offered; choose {string.Join(" or ", Frequencies.Select(Name))}");
        var zone = (timeZone ?? "").Trim();
        if (zone.Length == 0) zone = defaultZone;
        if (ZoneProblem(zone) is { } zoneProblem) problems.Add(zoneProblem);
        var followedAuthors = Follows("authors", "author", authors, known.Authors, problems);
        var followedTags = Follows("tags", "tag", tags, known.Tags, problems);
        return problems.Count > 0 ? (null, problems) : (new ReaderChoices(chosen!.Value, zone, followedAuthors, followedTags), []);
    }

    /// <summary>Why <paramref name="zone"/> is not a time zone a reader can have, or null when it is one.</summary>
    public static string? ZoneProblem(string? zone) =>
        string.IsNullOrWhiteSpace(zone) || zone.Length > MaxValueLength || zone.Any(char.IsControl) || TimeZoneLookup.Find(zone.Trim()) is null
            ? $"time zone '{Shown.Value(zone, 64)}' is unknown; pick one from the list, or an IANA id such as Europe/London or Asia/Tehran"
            : null;

    private static List<string> Follows(string field, string singular, IReadOnlyList<string?> values, IReadOnlyList<string> known, List<string> problems)
    {
        var byKey = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in known) byKey.TryAdd(Key(name), name);
        var chosen = new List<string>();
        var unknown = 0;
        foreach (var value in values)
        {
            var text = (value ?? "").Trim();
            if (text.Length == 0) continue;
            if (text.Length <= MaxValueLength && !text.Any(char.IsControl) && byKey.TryGetValue(Key(text), out var canonical))
            {
                if (!chosen.Contains(canonical, StringComparer.Ordinal)) chosen.Add(canonical);
                continue;
            }
            // One line per value would let a huge form fill the page; the first few say enough.
            if (++unknown <= 3)
                problems.Add(text.Length > MaxValueLength
                    ? $"{field}: a value of {text.Length} characters is not a{(singular == "author" ? "n" : "")} {singular} of this site; tick {field} from the list"
                    : $"{field}: '{Shown.Value(text, 64)}' is not a{(singular == "author" ? "n" : "")} {singular} of this site; tick {field} from the list");
        }
        if (unknown > 3) problems.Add($"{field}: {unknown - 3} more value(s) are not {field} of this site");
        return chosen;
    }

    /// <summary>How a follow is compared: composed (NFC) and without case, as the planner compares them.</summary>
    private static string Key(string value) => value.Trim().Normalize(NormalizationForm.FormC).ToLowerInvariant();
}
