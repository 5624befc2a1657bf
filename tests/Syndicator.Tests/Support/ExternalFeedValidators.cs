using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Syndicator.Tests.Support;

/// <summary>A link of the first entry as feedparser saw it.</summary>
public sealed record FeedParserLink(string? Href, string? Rel, string? Type);

/// <summary>An enclosure of the first entry as feedparser saw it (<c>length</c> kept as the text it found).</summary>
public sealed record FeedParserEnclosure(string? Href, string? Type, string? Length);

/// <summary>
/// The first entry of a feed as feedparser understood it. <c>*Parsed</c> are feedparser's own reading of the dates
/// (in UTC); null when it could not parse the date text.
/// </summary>
public sealed record FeedParserEntry(
    string? Id,
    string? Title,
    string? Link,
    IReadOnlyList<FeedParserLink> Links,
    string? Author,
    string? Published,
    DateTimeOffset? PublishedParsed,
    string? Updated,
    DateTimeOffset? UpdatedParsed,
    IReadOnlyList<string?> Tags,
    IReadOnlyList<FeedParserEnclosure> Enclosures,
    string? ContentType,
    string? Content,
    string? Summary);

/// <summary>
/// What Debian's python3-feedparser made of a feed file (printed by <c>Fixtures/feedcheck.py</c>).
/// <see cref="Version"/> is feedparser's code: <c>rss20</c>, <c>atom10</c>, <c>json11</c>..., or "" when it did not
/// recognise the format. <see cref="Bozo"/> is true when the document was not well-formed or otherwise broken.
/// </summary>
public sealed record FeedParserResult(
    bool Bozo,
    string? BozoException,
    string Version,
    string? Title,
    int Entries,
    FeedParserEntry? FirstEntry,
    string? FeedparserVersion,
    bool SupportsJsonFeed,
    string? Encoding,
    string? Link,
    string? Subtitle,
    string? Language,
    string? Updated,
    DateTimeOffset? UpdatedParsed)
{
    /// <summary>The script's JSON output as printed, for assertion messages.</summary>
    [JsonIgnore]
    public string RawJson { get; init; } = "";

    public override string ToString() => RawJson;
}

/// <summary>
/// jing's verdict on a document against RFC 4287's RELAX NG schema. <see cref="Errors"/> holds jing's messages
/// (<c>file:line:col: error: ...</c>), empty when valid.
/// </summary>
public sealed record JingResult(bool Valid, string Errors, int ExitCode)
{
    public override string ToString() => Valid ? "valid" : $"invalid (jing exit code {ExitCode}):{Environment.NewLine}{Errors}";
}

/// <summary>The findings of <see cref="ExternalFeedValidators.ValidateJsonFeed"/>; valid when there are none.</summary>
public sealed record JsonFeedValidationResult(IReadOnlyList<string> Errors)
{
    public bool Valid => Errors.Count == 0;

    public override string ToString() => Valid ? "valid" : string.Join(Environment.NewLine, Errors);
}

/// <summary>
/// Checks generated feeds with independent, real tools rather than with our own code:
/// <list type="bullet">
/// <item>Debian's <c>python3-feedparser</c> (run as <c>/usr/bin/python3 Fixtures/feedcheck.py FILE</c>; always
/// Debian's interpreter, because a pyenv <c>python3</c> earlier on PATH has no feedparser);</item>
/// <item>Debian's <c>jing</c> validating Atom against the RELAX NG schema of RFC 4287 Appendix B
/// (<c>Fixtures/atom.rnc</c>).</item>
/// </list>
/// Debian 12's feedparser (6.0.10) has no JSON Feed parser (see <see cref="FeedParserResult.SupportsJsonFeed"/>),
/// so JSON Feed is checked structurally against the JSON Feed 1.1 spec by <see cref="ValidateJsonFeed"/>.
/// When a tool is missing the test is skipped, or fails under CI=true (.ci/run installs both).
/// </summary>
public static partial class ExternalFeedValidators
{
    /// <summary>Debian's interpreter, the one that sees python3-feedparser.</summary>
    public const string DebianPython = "/usr/bin/python3";

    public const string FeedparserPackage = "python3-feedparser";
    public const string JingPackage = "jing";

    public const string JsonFeedVersion11 = "https://jsonfeed.org/version/1.1";

    /// <summary>Upper bound for one run of a tool (jing starts a JVM; the test machine has 2 cores and runs tests in parallel).</summary>
    public static TimeSpan ToolTimeout { get; set; } = TimeSpan.FromSeconds(90);

    private const int FeedcheckNoFeedparser = 3;

    private static readonly JsonSerializerOptions FeedcheckJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        PropertyNameCaseInsensitive = false,
    };

    public static string FixturesDirectory => Path.Combine(AppContext.BaseDirectory, "Fixtures");
    public static string AtomSchemaPath => Path.Combine(FixturesDirectory, "atom.rnc");
    public static string FeedcheckScriptPath => Path.Combine(FixturesDirectory, "feedcheck.py");

    private static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    // ------------------------------------------------------------------ feedparser

    /// <summary>Parses <paramref name="path"/> with Debian's feedparser and returns what it understood.</summary>
    public static async Task<FeedParserResult> ParseWithFeedparserAsync(string path, CancellationToken cancellationToken)
    {
        RequireFile(path);
        RequireFile(FeedcheckScriptPath);
        if (!File.Exists(DebianPython))
            ToolMissing(FeedparserPackage, $"{DebianPython} does not exist");

        var run = await RunAsync(DebianPython, ["-I", FeedcheckScriptPath, Path.GetFullPath(path)], python: true, cancellationToken);
        if (run is null)
            ToolMissing(FeedparserPackage, $"{DebianPython} could not be started");
        if (run.ExitCode == FeedcheckNoFeedparser)
            ToolMissing(FeedparserPackage, $"{DebianPython} cannot import feedparser ({run.Stderr.Trim()})");
        if (run.ExitCode != 0)
            Assert.Fail($"feedcheck.py failed on {path} with exit code {run.ExitCode}.{Environment.NewLine}{run}");

        FeedParserResult? result;
        try
        {
            result = JsonSerializer.Deserialize<FeedParserResult>(run.Stdout, FeedcheckJson);
        }
        catch (JsonException e)
        {
            Assert.Fail($"feedcheck.py printed something that is not its JSON report ({e.Message}).{Environment.NewLine}{run}");
            throw;
        }
        if (result is null) Assert.Fail($"feedcheck.py printed null.{Environment.NewLine}{run}");
        return result with { RawJson = run.Stdout.Trim() };
    }

    /// <summary>
    /// Parses with feedparser and asserts it read the file as <paramref name="expectedVersion"/> (e.g. <c>rss20</c>,
    /// <c>atom10</c>) without any bozo error.
    /// </summary>
    public static async Task<FeedParserResult> AssertFeedparserAcceptsAsync(string path, string expectedVersion, CancellationToken cancellationToken)
    {
        var result = await ParseWithFeedparserAsync(path, cancellationToken);
        if (result.Bozo || result.Version != expectedVersion)
            Assert.Fail($"feedparser did not accept {path} as {expectedVersion} without errors (bozo={result.Bozo}, version='{result.Version}', exception: {result.BozoException ?? "none"}).{Environment.NewLine}{result.RawJson}{Environment.NewLine}--- document ---{Environment.NewLine}{Head(path)}");
        return result;
    }

    // ------------------------------------------------------------------ jing

    /// <summary>Validates <paramref name="path"/> with jing against RFC 4287's RELAX NG compact schema.</summary>
    public static async Task<JingResult> ValidateAtomWithJingAsync(string path, CancellationToken cancellationToken)
    {
        RequireFile(path);
        RequireFile(AtomSchemaPath);
        var jing = FindJing();
        if (jing is null)
            ToolMissing(JingPackage, "jing is not installed (not found as /usr/bin/jing or on PATH)");

        var run = await RunAsync(jing, ["-c", AtomSchemaPath, Path.GetFullPath(path)], python: false, cancellationToken);
        if (run is null)
            ToolMissing(JingPackage, $"{jing} could not be started");

        // jing prints validation errors on stdout and exits 1; Debian's wrapper adds harmless
        // "[warning] /usr/bin/jing: Unable to locate xml-apis ..." lines on stderr.
        var stderr = string.Join(Environment.NewLine, run.Stderr.Split('\n')
            .Select(l => l.TrimEnd('\r'))
            .Where(l => l.Length > 0 && !l.StartsWith("[warning] ", StringComparison.Ordinal)));
        var errors = string.Join(Environment.NewLine, new[] { run.Stdout.Trim(), stderr.Trim() }.Where(s => s.Length > 0));

        if (run.ExitCode == 0) return new JingResult(true, errors, 0);
        if (run.Stdout.Trim().Length == 0)
        {
            // No verdict from the validator itself: the wrapper could not run Java, or similar.
            ToolMissing(JingPackage, $"jing did not run (exit code {run.ExitCode}): {stderr.Trim()} -- is a Java runtime installed (default-jre)?");
        }
        return new JingResult(false, errors, run.ExitCode);
    }

    /// <summary>Asserts jing finds <paramref name="path"/> valid against RFC 4287's schema.</summary>
    public static async Task<JingResult> AssertValidAtomAsync(string path, CancellationToken cancellationToken)
    {
        var result = await ValidateAtomWithJingAsync(path, cancellationToken);
        if (!result.Valid)
            Assert.Fail($"jing: {path} is not valid Atom (RFC 4287 Appendix B schema):{Environment.NewLine}{result.Errors}{Environment.NewLine}--- document ---{Environment.NewLine}{Head(path)}");
        return result;
    }

    private static string? FindJing()
    {
        if (File.Exists("/usr/bin/jing")) return "/usr/bin/jing";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "jing");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    // ------------------------------------------------------------------ JSON Feed (structural)

    /// <summary>
    /// Checks <paramref name="path"/> against the structure JSON Feed 1.1 requires: valid JSON; <c>version</c>
    /// (<see cref="JsonFeedVersion11"/>), <c>title</c> and <c>items</c> present; every item with a string
    /// <c>id</c> and <c>content_html</c> or <c>content_text</c>; the types of the known fields; RFC 3339 dates; absolute
    /// URLs; attachments with <c>url</c> and <c>mime_type</c>; and no unknown keys except <c>_extensions</c>.
    /// Used because Debian's feedparser cannot read JSON Feed.
    /// </summary>
    public static JsonFeedValidationResult ValidateJsonFeed(string path, string expectedVersion = JsonFeedVersion11)
    {
        RequireFile(path);
        var errors = new List<string>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            return new JsonFeedValidationResult([$"not valid JSON: {e.Message}"]);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return new JsonFeedValidationResult([$"the top level must be an object, not {root.ValueKind}"]);

            var version = RequiredString(root, "version", "feed", errors);
            if (version is not null && version != expectedVersion)
                errors.Add($"feed: version is '{version}', expected '{expectedVersion}'");
            RequiredString(root, "title", "feed", errors);
            foreach (var url in new[] { "home_page_url", "feed_url", "next_url", "icon", "favicon" })
                OptionalUrl(root, url, "feed", errors);
            foreach (var s in new[] { "description", "user_comment", "language" })
                OptionalString(root, s, "feed", errors);
            OptionalBool(root, "expired", "feed", errors);
            Authors(root, "feed", errors);
            if (root.TryGetProperty("hubs", out var hubs))
            {
                if (hubs.ValueKind != JsonValueKind.Array) errors.Add("feed: hubs must be an array");
                else
                {
                    var i = 0;
                    foreach (var hub in hubs.EnumerateArray())
                    {
                        var where = $"feed.hubs[{i++}]";
                        if (hub.ValueKind != JsonValueKind.Object) { errors.Add($"{where}: must be an object"); continue; }
                        RequiredString(hub, "type", where, errors);
                        RequiredString(hub, "url", where, errors);
                    }
                }
            }
            UnknownKeys(root, "feed", FeedKeys, errors);

            if (!root.TryGetProperty("items", out var items)) errors.Add("feed: items is required");
            else if (items.ValueKind != JsonValueKind.Array) errors.Add("feed: items must be an array");
            else
            {
                var ids = new HashSet<string>(StringComparer.Ordinal);
                var i = 0;
                foreach (var item in items.EnumerateArray())
                {
                    var where = $"items[{i++}]";
                    if (item.ValueKind != JsonValueKind.Object) { errors.Add($"{where}: must be an object"); continue; }
                    var id = RequiredString(item, "id", where, errors);
                    if (id is not null && id.Length == 0) errors.Add($"{where}: id must not be empty");
                    if (id is not null && !ids.Add(id)) errors.Add($"{where}: id '{id}' is used by an earlier item");
                    foreach (var url in new[] { "url", "external_url", "image", "banner_image" })
                        OptionalUrl(item, url, where, errors);
                    foreach (var s in new[] { "title", "content_html", "content_text", "summary", "language" })
                        OptionalString(item, s, where, errors);
                    if (!item.TryGetProperty("content_html", out _) && !item.TryGetProperty("content_text", out _))
                        errors.Add($"{where}: content_html or content_text is required");
                    OptionalDate(item, "date_published", where, errors);
                    OptionalDate(item, "date_modified", where, errors);
                    Authors(item, where, errors);
                    if (item.TryGetProperty("tags", out var tags))
                    {
                        if (tags.ValueKind != JsonValueKind.Array || tags.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String))
                            errors.Add($"{where}: tags must be an array of strings");
                    }
                    if (item.TryGetProperty("attachments", out var attachments))
                    {
                        if (attachments.ValueKind != JsonValueKind.Array) errors.Add($"{where}: attachments must be an array");
                        else
                        {
                            var j = 0;
                            foreach (var a in attachments.EnumerateArray())
                            {
                                var at = $"{where}.attachments[{j++}]";
                                if (a.ValueKind != JsonValueKind.Object) { errors.Add($"{at}: must be an object"); continue; }
                                if (RequiredString(a, "url", at, errors) is { } u && !IsAbsoluteUrl(u)) errors.Add($"{at}: url '{u}' is not an absolute URL");
                                if (RequiredString(a, "mime_type", at, errors) is { } m && !MediaType().IsMatch(m)) errors.Add($"{at}: mime_type '{m}' is not a media type");
                                OptionalString(a, "title", at, errors);
                                OptionalNumber(a, "size_in_bytes", at, errors);
                                OptionalNumber(a, "duration_in_seconds", at, errors);
                                UnknownKeys(a, at, AttachmentKeys, errors);
                            }
                        }
                    }
                    UnknownKeys(item, where, ItemKeys, errors);
                }
            }
        }
        return new JsonFeedValidationResult(errors);
    }

    /// <summary>Asserts <see cref="ValidateJsonFeed"/> finds nothing wrong.</summary>
    public static JsonFeedValidationResult AssertValidJsonFeed(string path)
    {
        var result = ValidateJsonFeed(path);
        if (!result.Valid)
            Assert.Fail($"{path} is not a valid JSON Feed 1.1:{Environment.NewLine}{result}{Environment.NewLine}--- document ---{Environment.NewLine}{Head(path)}");
        return result;
    }

    private static readonly HashSet<string> FeedKeys = ["version", "title", "home_page_url", "feed_url", "description", "user_comment", "next_url", "icon", "favicon", "author", "authors", "language", "expired", "hubs", "items"];
    private static readonly HashSet<string> ItemKeys = ["id", "url", "external_url", "title", "content_html", "content_text", "summary", "image", "banner_image", "date_published", "date_modified", "author", "authors", "tags", "language", "attachments"];
    private static readonly HashSet<string> AttachmentKeys = ["url", "mime_type", "title", "size_in_bytes", "duration_in_seconds"];
    private static readonly HashSet<string> AuthorKeys = ["name", "url", "avatar"];

    private static string? RequiredString(JsonElement obj, string name, string where, List<string> errors)
    {
        if (!obj.TryGetProperty(name, out var value)) { errors.Add($"{where}: {name} is required"); return null; }
        if (value.ValueKind != JsonValueKind.String) { errors.Add($"{where}: {name} must be a string, not {value.ValueKind}"); return null; }
        return value.GetString();
    }

    private static string? OptionalString(JsonElement obj, string name, string where, List<string> errors)
    {
        if (!obj.TryGetProperty(name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.String) { errors.Add($"{where}: {name} must be a string, not {value.ValueKind}"); return null; }
        return value.GetString();
    }

    private static void OptionalUrl(JsonElement obj, string name, string where, List<string> errors)
    {
        if (OptionalString(obj, name, where, errors) is { } url && !IsAbsoluteUrl(url))
            errors.Add($"{where}: {name} '{url}' is not an absolute URL");
    }

    private static void OptionalBool(JsonElement obj, string name, string where, List<string> errors)
    {
        if (obj.TryGetProperty(name, out var value) && value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            errors.Add($"{where}: {name} must be a boolean, not {value.ValueKind}");
    }

    private static void OptionalNumber(JsonElement obj, string name, string where, List<string> errors)
    {
        if (obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Number)
            errors.Add($"{where}: {name} must be a number, not {value.ValueKind}");
    }

    private static void OptionalDate(JsonElement obj, string name, string where, List<string> errors)
    {
        if (OptionalString(obj, name, where, errors) is { } date &&
            (!Rfc3339().IsMatch(date) || !DateTimeOffset.TryParse(date, CultureInfo.InvariantCulture, DateTimeStyles.None, out _)))
            errors.Add($"{where}: {name} '{date}' is not an RFC 3339 date-time");
    }

    private static void Authors(JsonElement obj, string where, List<string> errors)
    {
        if (obj.TryGetProperty("author", out var author) && author.ValueKind != JsonValueKind.Object)
            errors.Add($"{where}: author (deprecated in 1.1) must be an object");
        if (!obj.TryGetProperty("authors", out var authors)) return;
        if (authors.ValueKind != JsonValueKind.Array) { errors.Add($"{where}: authors must be an array"); return; }
        var i = 0;
        foreach (var a in authors.EnumerateArray())
        {
            var at = $"{where}.authors[{i++}]";
            if (a.ValueKind != JsonValueKind.Object) { errors.Add($"{at}: must be an object"); continue; }
            var name = OptionalString(a, "name", at, errors);
            var url = OptionalString(a, "url", at, errors);
            var avatar = OptionalString(a, "avatar", at, errors);
            if (name is null && url is null && avatar is null) errors.Add($"{at}: needs at least one of name, url, avatar");
            if (url is not null && !IsAbsoluteUrl(url)) errors.Add($"{at}: url '{url}' is not an absolute URL");
            if (avatar is not null && !IsAbsoluteUrl(avatar)) errors.Add($"{at}: avatar '{avatar}' is not an absolute URL");
            UnknownKeys(a, at, AuthorKeys, errors);
        }
    }

    private static void UnknownKeys(JsonElement obj, string where, HashSet<string> known, List<string> errors)
    {
        foreach (var property in obj.EnumerateObject())
            if (!known.Contains(property.Name) && !ExtensionKey().IsMatch(property.Name))
                errors.Add($"{where}: unknown key '{property.Name}' (extensions must start with '_' and a letter)");
    }

    private static bool IsAbsoluteUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "mailto" or "data" or "tag" or "urn";

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")]
    private static partial Regex Rfc3339();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;.*)?$")]
    private static partial Regex MediaType();

    [GeneratedRegex(@"^_[A-Za-z]")]
    private static partial Regex ExtensionKey();

    // ------------------------------------------------------------------ plumbing

    private sealed record ToolRun(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"--- stdout ---{Environment.NewLine}{Stdout}{Environment.NewLine}--- stderr ---{Environment.NewLine}{Stderr}";
    }

    /// <summary>Runs a tool with a bounded wait; null when it cannot be started at all (not installed).</summary>
    private static async Task<ToolRun?> RunAsync(string fileName, IEnumerable<string> args, bool python, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        if (python)
        {
            // Debian's interpreter with Debian's packages only: nothing from a pyenv/venv setup or ~/.local.
            info.Environment.Remove("PYTHONPATH");
            info.Environment.Remove("PYTHONHOME");
            info.Environment["PYTHONNOUSERSITE"] = "1";
            info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
            info.Environment["PYTHONIOENCODING"] = "utf-8";
        }

        using var process = new Process { StartInfo = info };
        try
        {
            if (!process.Start()) return null;
        }
        catch (Win32Exception)
        {
            return null;
        }
        process.StandardInput.Close();

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(ToolTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return new ToolRun(process.ExitCode, await stdout, await stderr);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } catch (Win32Exception) { }
            if (cancellationToken.IsCancellationRequested) throw;
            throw new TimeoutException($"{fileName} {string.Join(' ', info.ArgumentList)} did not finish within {ToolTimeout.TotalSeconds:0} s.");
        }
    }

    private static void RequireFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} does not exist.", path);
    }

    private static string Head(string path, int max = 4000)
    {
        var text = File.ReadAllText(path);
        return text.Length <= max ? text : text[..max] + $"{Environment.NewLine}... ({text.Length - max} more characters)";
    }

    [DoesNotReturn]
    private static void ToolMissing(string package, string detail)
    {
        if (IsCi)
            Assert.Fail($"CI=true but {detail}. Install Debian's {package} (apt-get install {package}); .ci/run's 'install feed validators' step does this.");
        Assert.Skip($"External feed validator unavailable: {detail}. Install python3-feedparser and jing, or run bash .ci/run.");
        throw new UnreachableException();
    }
}
