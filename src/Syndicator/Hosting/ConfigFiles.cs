using System.Text;
using System.Text.Json;

using Microsoft.Extensions.Configuration;
using Syndicator.Shared;

namespace Syndicator.Hosting;

/// <summary>
/// Reads a JSON configuration file the way the configuration provider will (comments and trailing commas allowed,
/// keys compared without case) and names the file, line and column of what would stop it: a syntax error, a key
/// given twice in one object, a top level that is not an object. The provider itself says only "Failed to load
/// configuration from file", and for a duplicate key not where.
/// </summary>
internal static class ConfigFiles
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Every problem of the files that exist among <paramref name="paths"/>.</summary>
    public static List<string> Problems(IEnumerable<string> paths)
    {
        var problems = new List<string>();
        foreach (var path in paths.Where(File.Exists))
            if (Problem(path) is { } problem) problems.Add(problem);
        return problems;
    }

    public static string? Problem(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{path} cannot be read ({e.GetType().Name}); give the user {Environment.UserName} read access to it.";
        }
        var json = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? bytes.AsMemory(Encoding.UTF8.Preamble.Length) : bytes.AsMemory();
        if (json.Span.Trim(" \t\r\n"u8).IsEmpty) return $"{path} is empty; it must hold a JSON object, at least {{ }}.";

        var reader = new Utf8JsonReader(json.Span, ReaderOptions);
        var objects = new Stack<HashSet<string>?>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        objects.Push(new HashSet<string>(StringComparer.OrdinalIgnoreCase));
                        break;
                    case JsonTokenType.StartArray:
                        if (objects.Count == 0)
                            return $"{At(path, json.Span, reader.TokenStartIndex)}: the file holds a list, but it must hold a JSON object {{ \"Site\": {{ ... }}, ... }}.";
                        objects.Push(null);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        objects.Pop();
                        break;
                    case JsonTokenType.PropertyName when objects.Peek() is { } keys:
                        var key = reader.GetString()!;
                        if (!keys.Add(key))
                            return $"{At(path, json.Span, reader.TokenStartIndex)}: the key \"{key}\" is given twice in the same object (keys are compared without case); keep one.";
                        break;
                    default:
                        if (objects.Count == 0)
                            return $"{At(path, json.Span, reader.TokenStartIndex)}: the file holds a single value, but it must hold a JSON object {{ \"Site\": {{ ... }}, ... }}.";
                        break;
                }
            }
        }
        catch (JsonException e) when (e.LineNumber is { } line)
        {
            return $"{path}, line {line + 1}, column {Column(json.Span, (int)line, (int)(e.BytePositionInLine ?? 0))}: {Describe(e)} Fix the JSON there (a missing comma or quote, or a stray one, is the usual cause).";
        }
        catch (InvalidOperationException)
        {
            // GetString on a key whose bytes are not UTF-8.
            return $"{At(path, json.Span, reader.TokenStartIndex)}: this key is not valid UTF-8; save the file as UTF-8.";
        }
        return null;
    }

    /// <summary>
    /// The top-level keys of the files among <paramref name="paths"/> that name no section Syndicator reads (a misspelt
    /// "Storag" would otherwise be ignored without a word), each with its line and the nearest section's name.
    /// </summary>
    public static List<string> UnknownSections(IEnumerable<string> paths, IReadOnlyCollection<string> sections)
    {
        var problems = new List<string>();
        foreach (var path in paths.Where(File.Exists))
        {
            var bytes = File.ReadAllBytes(path);
            var json = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? bytes.AsMemory(Encoding.UTF8.Preamble.Length) : bytes.AsMemory();
            var reader = new Utf8JsonReader(json.Span, ReaderOptions);
            try
            {
                while (reader.Read())
                {
                    if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1) continue;
                    var key = reader.GetString()!;
                    if (sections.Contains(key, StringComparer.OrdinalIgnoreCase)) continue;
                    var hint = ConfigShape.Nearest(key, sections) is { } nearest ? $"did you mean {nearest}?" : $"the sections are {string.Join(", ", sections.Order(StringComparer.Ordinal))}.";
                    problems.Add($"{At(path, json.Span, reader.TokenStartIndex)}: \"{key}\" is not a section Syndicator reads, so nothing in it is used; remove it or correct its spelling ({hint})");
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                // Problem() has reported the file's syntax already.
            }
        }
        return problems;
    }

    /// <summary>
    /// "path, line L, column C" of the configuration key <paramref name="key"/> ("Feeds:ItemsPerFeed",
    /// "Announcements:Accounts:0:Network") in the JSON file at <paramref name="path"/>, or null when the file does not
    /// set it. Keys are compared without case, as the provider does.
    /// </summary>
    public static string? Locate(string path, string key)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var json = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? bytes.AsSpan(Encoding.UTF8.Preamble.Length) : bytes.AsSpan();
        var wanted = key.Split(ConfigurationPath.KeyDelimiter);
        var reader = new Utf8JsonReader(json, ReaderOptions);
        // The key of every open value, and for each open list the index its next element takes.
        var keys = new List<string>();
        var lists = new Stack<int>();
        var inList = new Stack<bool>();
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray)
                {
                    if (reader.TokenType == JsonTokenType.EndArray) lists.Pop();
                    inList.Pop();
                    if (inList.Count > 0) keys.RemoveAt(keys.Count - 1);
                    continue;
                }
                if (reader.TokenType == JsonTokenType.PropertyName)
                {
                    keys.Add(reader.GetString()!);
                    if (Matches(keys, wanted)) return At(path, json, reader.TokenStartIndex);
                    continue;
                }
                // A value: in a list it is known by its index; then it either opens a container or ends its key.
                if (inList.Count > 0 && inList.Peek())
                {
                    var index = lists.Pop();
                    lists.Push(index + 1);
                    keys.Add(index.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    if (Matches(keys, wanted)) return At(path, json, reader.TokenStartIndex);
                }
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    if (reader.TokenType == JsonTokenType.StartArray) lists.Push(0);
                    inList.Push(reader.TokenType == JsonTokenType.StartArray);
                }
                else if (inList.Count > 0)
                    keys.RemoveAt(keys.Count - 1);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Problem() reports the file's syntax.
        }
        return null;

        static bool Matches(List<string> keys, string[] wanted) =>
            keys.Count == wanted.Length && keys.Zip(wanted).All(p => string.Equals(p.First, p.Second, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>"path, line L, column C" for a byte offset; columns count characters, not bytes, so a line in Persian is counted as an editor shows it.</summary>
    private static string At(string path, ReadOnlySpan<byte> json, long offset)
    {
        var before = json[..(int)offset];
        var line = before.Count((byte)'\n');
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        return $"{path}, line {line + 1}, column {Encoding.UTF8.GetCharCount(before[lineStart..]) + 1}";
    }

    private static int Column(ReadOnlySpan<byte> json, int line, int bytePosition)
    {
        var start = 0;
        for (var i = 0; i < line; i++)
        {
            var next = json[start..].IndexOf((byte)'\n');
            if (next < 0) break;
            start += next + 1;
        }
        var end = Math.Min(json.Length, start + bytePosition);
        return Encoding.UTF8.GetCharCount(json[start..end]) + 1;
    }

    /// <summary>The reader's own description, without the position it appends (given above, counted in characters).</summary>
    private static string Describe(JsonException e)
    {
        var message = e.Message;
        foreach (var marker in new[] { " Path:", " LineNumber:", " | LineNumber:" })
        {
            var at = message.IndexOf(marker, StringComparison.Ordinal);
            if (at > 0) message = message[..at];
        }
        message = message.Trim();
        return message.EndsWith('.') ? message : message + ".";
    }
}
