using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Npgsql;
using Syndicator.Announcements;
using Syndicator.Articles.Import;
using Syndicator.Digests;
using Syndicator.Feeds;
using Quartz;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Web;
using Syndicator.Shared;

namespace Syndicator.Hosting;

/// <summary>Checks that data annotations cannot express. Each message names the key and says how to fix it.</summary>
internal sealed class StorageOptionsValidator(string contentRoot) : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var errors = new List<string>();
        try
        {
            if (options.Provider == StorageProvider.Sqlite) _ = new SqliteConnectionStringBuilder(options.ConnectionString);
            else _ = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            errors.Add($"Storage:ConnectionString is not a valid {options.Provider} connection string ({e.Message}). " +
                       (options.Provider == StorageProvider.Sqlite ? "Write it like \"Data Source=data/syndicator.db\"." : "Write it like \"Host=db;Database=syndicator;Username=syndicator\"."));
        }
        if (options.Provider == StorageProvider.PostgreSql && !options.ConnectionString.Contains("Host", StringComparison.OrdinalIgnoreCase))
            errors.Add("Storage:ConnectionString names no Host for PostgreSql; add \"Host=...\".");
        if (options.Provider == StorageProvider.PostgreSql && HasPassword(options.ConnectionString))
            errors.Add("Storage:ConnectionString holds the database password itself (Password=...), and would carry it into committed files; remove it from the " +
                       "connection string and give it through Storage:PasswordFile (e.g. /run/secrets/db_password), the PGPASSWORD environment variable, " +
                       "or a PostgreSQL password file (Passfile=/path in the connection string, PGPASSFILE, or ~/.pgpass).");
        if (!string.IsNullOrWhiteSpace(options.PasswordFile) && !File.Exists(Path.GetFullPath(options.PasswordFile, contentRoot)))
            errors.Add($"Storage:PasswordFile names {Path.GetFullPath(options.PasswordFile, contentRoot)}, which does not exist; create it with the database password or remove the key.");
        if (options.Clustered && options.Provider == StorageProvider.Sqlite)
            errors.Add("Storage:Clustered is true but Storage:Provider is Sqlite, which is single-node; set Provider to PostgreSql or Clustered to false.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Password, or one of the aliases Npgsql reads as the password (PWD, PSW).</summary>
    private static bool HasPassword(string connectionString)
    {
        try
        {
            return !string.IsNullOrEmpty(new NpgsqlConnectionStringBuilder(connectionString).Password);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            return false; // reported above as an invalid connection string
        }
    }
}

/// <summary>
/// Every folder Syndicator writes to must be writable by the user it runs as, or the first feed build, mail or
/// import would fail hours later: the SQLite database's folder, the inbox (files move to processed/ and rejected/),
/// the feed output, the pickup folder when no SMTP host is set, and the signing key's folder when it is still to be
/// made. A folder that does not exist yet must be creatable. Nothing is created by the check: a probe file is made
/// and removed at once.
/// </summary>
internal sealed class DataFoldersValidator(IConfiguration configuration, string contentRoot) : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var folders = new List<(string Key, string Folder)>();
        if (options.Provider == StorageProvider.Sqlite && SqliteFile(options.ConnectionString) is { } database)
            folders.Add(("Storage:ConnectionString", Path.GetDirectoryName(database)!));
        var import = ConfigSections.ReadOrDefault<ImportOptions>(configuration, ImportOptions.Section);
        if (!string.IsNullOrWhiteSpace(import.InboxPath)) folders.Add(("Import:InboxPath", Path.GetFullPath(import.InboxPath, contentRoot)));
        var feeds = ConfigSections.ReadOrDefault<FeedOptions>(configuration, FeedOptions.Section);
        if (!string.IsNullOrWhiteSpace(feeds.OutputPath)) folders.Add(("Feeds:OutputPath", Path.GetFullPath(feeds.OutputPath, contentRoot)));
        var digests = ConfigSections.ReadOrDefault<DigestOptions>(configuration, DigestOptions.Section);
        if (string.IsNullOrWhiteSpace(digests.Smtp.Host) && !string.IsNullOrWhiteSpace(digests.PickupPath))
            folders.Add(("Digests:PickupPath", Path.GetFullPath(digests.PickupPath, contentRoot)));
        if (digests.SigningKey.StartsWith("file:", StringComparison.Ordinal) && digests.SigningKey.Length > 5)
        {
            var key = Path.GetFullPath(digests.SigningKey[5..], contentRoot);
            if (!File.Exists(key)) folders.Add(("Digests:SigningKey", Path.GetDirectoryName(key)!));
        }

        var errors = folders
            .Select(f => (f.Key, f.Folder, Problem: Unwritable(f.Folder)))
            .Where(f => f.Problem is not null)
            .Select(f => $"{f.Key} needs the folder {f.Folder}, but {f.Problem}. Give the user {Environment.UserName} write access (e.g. chown or chmod u+w), or point {f.Key} at a writable folder.")
            .ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>The database file of a SQLite connection string, made absolute; null for in-memory and URI data sources, or one that does not parse (reported elsewhere).</summary>
    private string? SqliteFile(string connectionString)
    {
        try
        {
            var source = new SqliteConnectionStringBuilder(connectionString).DataSource;
            return string.IsNullOrWhiteSpace(source) || source == ":memory:" || source.StartsWith("file:", StringComparison.Ordinal)
                ? null
                : Path.GetFullPath(source, contentRoot);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Why <paramref name="folder"/> cannot be written (or created), or null when it can.</summary>
    internal static string? Unwritable(string folder)
    {
        var existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) return $"{existing} is a file, not a folder";
            existing = Path.GetDirectoryName(existing);
            if (existing is null) return "no part of that path exists";
        }
        try
        {
            // The only test that holds for every case (permissions, ACLs, read-only mounts, root): write a file.
            using var probe = new FileStream(Path.Combine(existing, $".syndicator-write-check-{Guid.NewGuid():N}"),
                FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            return null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return existing == folder
                ? $"it cannot be written ({e.GetType().Name})"
                : $"it does not exist and cannot be created: {existing} cannot be written ({e.GetType().Name})";
        }
    }
}

/// <summary>
/// The URLs readers are sent to: Site:BaseUrl (article links in posts, feeds and digests), Feeds:PublicUrl (feed
/// self links), Digests:PublicUrl (confirm and unsubscribe links) and Feeds:IconUrl. Each must be an absolute https
/// URL with no user name, query or fragment; plain http only for this machine, or anywhere when
/// Site:AllowLocalUrls is true. Once something really reaches readers (an SMTP host, an enabled social account),
/// an address on this machine or an example domain such as the shipped https://magazine.example is refused too:
/// those links would lead every reader nowhere.
/// </summary>
internal sealed class PublicUrlsValidator(IConfiguration configuration) : IValidateOptions<SiteOptions>
{
    public ValidateOptionsResult Validate(string? name, SiteOptions options)
    {
        var feeds = ConfigSections.ReadOrDefault<FeedOptions>(configuration, FeedOptions.Section);
        var digests = ConfigSections.ReadOrDefault<DigestOptions>(configuration, DigestOptions.Section);
        var announcements = ConfigSections.ReadOrDefault<AnnouncementOptions>(configuration, AnnouncementOptions.Section);

        var mail = string.IsNullOrWhiteSpace(digests.Smtp.Host) ? null : $"Digests:Smtp:Host ({digests.Smtp.Host})";
        var accounts = announcements.Accounts.Where(a => a.Enabled).Select(a => a.Name).ToList();
        var posts = accounts.Count == 0 ? null : $"the social account{(accounts.Count == 1 ? "" : "s")} {string.Join(", ", accounts)}";
        var anyChannel = string.Join(" and ", new[] { mail, posts }.OfType<string>());

        var errors = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.BaseUrl)) Check("Site:BaseUrl", options.BaseUrl, anyChannel, "https://www.your-magazine.com", options.AllowLocalUrls, errors);
        if (feeds.PublicUrl is not null) Check("Feeds:PublicUrl", feeds.PublicUrl, anyChannel, "https://www.your-magazine.com/feeds", options.AllowLocalUrls, errors);
        if (feeds.IconUrl is not null) Check("Feeds:IconUrl", feeds.IconUrl, anyChannel, "https://www.your-magazine.com/icon.png", options.AllowLocalUrls, errors, isBase: false);
        Check("Digests:PublicUrl", digests.PublicUrl, mail ?? "", "https://syndicator.your-magazine.com", options.AllowLocalUrls, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <param name="channels">What sends this URL to readers, or empty when nothing does yet.</param>
    /// <param name="isBase">Paths are appended to it, so a query or fragment would end up in the middle of every link.</param>
    private static void Check(string key, string value, string channels, string example, bool allowLocal, List<string> errors, bool isBase = true)
    {
        if (value.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))
            || !Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
        {
            errors.Add($"{key} {ConfigShape.Show(value)} is not an absolute https URL; write it like {example}.");
            return;
        }
        if (uri.UserInfo.Length > 0)
        {
            errors.Add($"{key} carries a user name or password (user@host); readers would see it in every link. Remove it: write it like {example}.");
            return;
        }
        if (isBase && (uri.Query.Length > 0 || uri.Fragment.Length > 0))
        {
            errors.Add($"{key} {ConfigShape.Show(value)} has a query or fragment (?... or #...), which would end up in the middle of every link built on it; remove it.");
            return;
        }
        var loopback = Web.DashboardOptionsValidator.IsLoopback(value);
        if (uri.Scheme == "http" && !loopback && !allowLocal)
            errors.Add($"{key} {ConfigShape.Show(value)} is plain http; readers' links must be https ({"https://" + uri.Authority + uri.AbsolutePath.TrimEnd('/')}). " +
                       "On a machine used only locally, set Site:AllowLocalUrls=true instead.");
        if (channels.Length > 0 && !allowLocal && (loopback || IsExampleDomain(uri.IdnHost)))
            errors.Add($"{key} {ConfigShape.Show(value)} points at {(loopback ? "this machine" : "an example domain, which no reader can reach")}, but links built on it go to readers through {channels}. " +
                       $"Set it to the address readers reach, e.g. {example} (for a trial with a local mail catcher or test servers, set Site:AllowLocalUrls=true).");
    }

    /// <summary>The names reserved for examples and tests (RFC 2606, RFC 6761): the shipped https://magazine.example is one.</summary>
    internal static bool IsExampleDomain(string host)
    {
        host = host.TrimEnd('.').ToLowerInvariant();
        return host is "example" or "example.com" or "example.net" or "example.org" or "invalid" or "test" or "localhost"
            || host.EndsWith(".example", StringComparison.Ordinal) || host.EndsWith(".example.com", StringComparison.Ordinal)
            || host.EndsWith(".example.net", StringComparison.Ordinal) || host.EndsWith(".example.org", StringComparison.Ordinal)
            || host.EndsWith(".invalid", StringComparison.Ordinal) || host.EndsWith(".test", StringComparison.Ordinal) || host.EndsWith(".localhost", StringComparison.Ordinal);
    }
}

internal sealed class ScheduleOptionsValidator : IValidateOptions<ScheduleOptions>
{
    public ValidateOptionsResult Validate(string? name, ScheduleOptions options)
    {
        var errors = new List<string>();
        foreach (var (job, schedule) in options)
        {
            var key = $"{ScheduleOptions.Section}:{job}";
            if (!JobCatalog.Names.Contains(job, StringComparer.OrdinalIgnoreCase))
                errors.Add($"{key}: there is no job called '{job}'; the jobs are {string.Join(", ", JobCatalog.Names)}.");
            if (schedule.Enabled && schedule.Cron is null == schedule.IntervalSeconds is null)
                errors.Add($"{key}: set exactly one of Cron (e.g. \"0 */5 * * * ?\") or IntervalSeconds (e.g. 300).");
            if (schedule.IntervalSeconds is <= 0)
                errors.Add($"{key}:IntervalSeconds is {schedule.IntervalSeconds}; it must be a positive number of seconds.");
            if (schedule.Cron is not null)
            {
                try
                {
                    _ = new CronExpression(schedule.Cron);
                }
                catch (FormatException e)
                {
                    errors.Add($"{key}:Cron '{schedule.Cron}' is not a valid Quartz cron expression ({e.Message}). Quartz cron has seconds first, e.g. \"0 0 7 * * ?\" for 07:00 daily.");
                }
            }
            if (TimeZoneLookup.Find(schedule.TimeZone) is null)
                errors.Add($"{key}:TimeZone '{schedule.TimeZone}' is not a known time zone; use an IANA id such as \"UTC\" or \"Europe/London\".");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

}

/// <summary>
/// Http:Urls is the one place that says where Syndicator listens. ASP.NET Core's own ways (ASPNETCORE_URLS,
/// DOTNET_URLS, ASPNETCORE_HTTP_PORTS, ASPNETCORE_HTTPS_PORTS, --urls) are refused rather than honoured: the
/// dashboard's exposure check and host filtering read Http:Urls, and a second name with its own precedence is how
/// these came to be ignored without a word. The aspnet container images set ASPNETCORE_HTTP_PORTS=8080; the
/// Dockerfile clears it.
/// </summary>
internal sealed class HttpOptionsValidator : IValidateOptions<HttpOptions>
{
    internal static readonly string[] ForeignVariables = ["ASPNETCORE_URLS", "DOTNET_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS"];

    public ValidateOptionsResult Validate(string? name, HttpOptions options)
    {
        var errors = new List<string>();
        var bad = options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(u => !Uri.TryCreate(u.Replace("*", "0.0.0.0").Replace("+", "0.0.0.0"), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            .ToList();
        if (bad.Count > 0)
            errors.Add($"Http:Urls has {string.Join(", ", bad.Select(ConfigShape.Show))}, which is not an http(s) address; write it like http://127.0.0.1:5080.");
        var badOperator = options.OperatorUrlList.Where(u => HttpOptions.Port(u) is null || !u.StartsWith("http", StringComparison.OrdinalIgnoreCase)).ToList();
        if (badOperator.Count > 0)
            errors.Add($"Http:OperatorUrls has {string.Join(", ", badOperator.Select(ConfigShape.Show))}, which is not an http(s) address; write it like http://127.0.0.1:5081, or leave it empty to serve every path on Http:Urls.");
        // The split goes by the port a request arrived on (the Host header is the client's to choose), so the ports must differ.
        var shared = options.OperatorUrlList.Select(HttpOptions.Port).Intersect(options.ReaderUrlList.Select(HttpOptions.Port)).OfType<int>().ToList();
        if (shared.Count > 0)
            errors.Add($"Http:OperatorUrls and Http:Urls both use port {string.Join(", ", shared)}; the operators' paths are told apart by the port a request arrives on, so give Http:OperatorUrls a port of its own (e.g. http://127.0.0.1:5081).");
        foreach (var variable in ForeignVariables)
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value)
                errors.Add(Foreign($"the environment variable {variable} is set ({ConfigShape.Show(value)})", options.Urls, $"unset {variable}"));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>The refusal of <c>--urls</c> on the command line, which never reaches the configuration.</summary>
    internal static IReadOnlyList<string> Arguments(IEnumerable<string> args) =>
        args.Any(a => a.Equals("--urls", StringComparison.OrdinalIgnoreCase) || a.StartsWith("--urls=", StringComparison.OrdinalIgnoreCase))
            ? [Foreign("--urls is given on the command line", null, "drop --urls")]
            : [];

    private static string Foreign(string what, string? urls, string fix) =>
        $"{what}, but Syndicator listens where Http:Urls says{(urls is null ? "" : $" ({urls})")} and nowhere else; {fix} and set Http:Urls instead " +
        "(in appsettings.json, or as the environment variable Http__Urls=http://0.0.0.0:5080; several addresses are separated by ';').";
}
