using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Syndicator.Articles.Import;

/// <summary>
/// Key/value metadata from a sidecar, Markdown front matter or a JSON article, read the same way whatever its
/// syntax. Keys are case-insensitive and accept the common spellings (<c>date</c>, <c>published</c>, <c>publishedAt</c>...).
/// Every problem is reported with the line of the key in <see cref="sourceText"/>.
/// </summary>
internal sealed class Metadata(IReadOnlyDictionary<string, object?> values, string sourceText, int lineOffset = 0)
{
    private readonly Dictionary<string, object?> values = new(values, StringComparer.OrdinalIgnoreCase);

    public static Metadata Empty { get; } = new(new Dictionary<string, object?>(), "");

    public static Metadata FromYaml(string text, int lineOffset = 0)
    {
        try
        {
            var parsed = new DeserializerBuilder().Build().Deserialize<object?>(text);
            return parsed switch
            {
                null => new Metadata(new Dictionary<string, object?>(), text, lineOffset),
                Dictionary<object, object?> map => new Metadata(map.ToDictionary(kv => kv.Key.ToString()!, kv => kv.Value), text, lineOffset),
                _ => throw new ArticleRejectedException("the metadata is not a set of 'key: value' lines", 1 + lineOffset),
            };
        }
        catch (YamlException e)
        {
            throw new ArticleRejectedException($"unreadable YAML: {e.Message}", (int)e.Start.Line + lineOffset, e);
        }
    }

    public static Metadata FromJson(JsonElement element, string sourceText) =>
        element.ValueKind == JsonValueKind.Object
            ? new Metadata(element.EnumerateObject().ToDictionary(p => p.Name, p => FromJsonValue(p.Value)), sourceText)
            : throw new ArticleRejectedException("expected a JSON object for the article");

    private static object? FromJsonValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => value.EnumerateObject().ToDictionary(p => (object)p.Name, p => FromJsonValue(p.Value)),
        JsonValueKind.Array => value.EnumerateArray().Select(FromJsonValue).ToList(),
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        _ => value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText(),
    };

    public string? String(params string[] keys)
    {
        var (key, value) = Find(keys);
        return value switch
        {
            null => null,
            string s => string.IsNullOrWhiteSpace(s) ? null : s.Trim(),
            IDictionary<object, object?> or IList<object?> => throw new ArticleRejectedException($"'{key}' should be a single value", LineOf(key!)),
            _ => value.ToString(),
        };
    }

    public DateTimeOffset? Date(params string[] keys)
    {
        var text = String(keys);
        if (text is null) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var date))
            return date.ToUniversalTime();
        var key = Find(keys).Key!;
        throw new ArticleRejectedException($"'{key}' is \"{text}\", which is not a date; write it as ISO 8601, for example 2026-11-23T09:30:00Z", LineOf(key));
    }

    public IReadOnlyList<string> List(params string[] keys)
    {
        var (_, value) = Find(keys);
        return value switch
        {
            null => [],
            string s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            IEnumerable<object?> items => items.Select(i => i?.ToString()?.Trim()).Where(i => !string.IsNullOrEmpty(i)).Select(i => i!).ToList(),
            _ => [value.ToString()!],
        };
    }

    /// <summary>A nested mapping such as <c>author: { name: ..., x: ... }</c>, or null where the key holds a plain value.</summary>
    public Metadata? Section(params string[] keys)
    {
        var (_, value) = Find(keys);
        return value is IDictionary<object, object?> map
            ? new Metadata(map.ToDictionary(kv => kv.Key.ToString()!, kv => kv.Value), sourceText, lineOffset)
            : null;
    }

    public bool Has(params string[] keys) => Find(keys).Key is not null;

    /// <summary>Which of <paramref name="keys"/> the file used, for messages; the first key when none.</summary>
    public string KeyOf(params string[] keys) => Find(keys).Key ?? keys[0];

    private (string? Key, object? Value) Find(string[] keys)
    {
        foreach (var key in keys)
            if (values.TryGetValue(key, out var value)) return (key, value);
        return (null, null);
    }

    /// <summary>The line where <paramref name="key"/> is written, for error messages.</summary>
    public int? LineOf(string key)
    {
        var match = Regex.Match(sourceText, $@"^[ \t""]*{Regex.Escape(key)}[""]?[ \t]*:", RegexOptions.Multiline | RegexOptions.IgnoreCase);
        if (!match.Success) match = Regex.Match(sourceText, $@"[{{,\s]""{Regex.Escape(key)}""\s*:", RegexOptions.IgnoreCase);
        return match.Success ? sourceText.AsSpan(0, match.Index + 1).Count('\n') + 1 + lineOffset : null;
    }
}
