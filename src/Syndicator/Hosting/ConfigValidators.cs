using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;
using Quartz;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Web;

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
        if (!string.IsNullOrWhiteSpace(options.PasswordFile) && !File.Exists(Path.GetFullPath(options.PasswordFile, contentRoot)))
            errors.Add($"Storage:PasswordFile names {Path.GetFullPath(options.PasswordFile, contentRoot)}, which does not exist; create it with the database password or remove the key.");
        if (options.Clustered && options.Provider == StorageProvider.Sqlite)
            errors.Add("Storage:Clustered is true but Storage:Provider is Sqlite, which is single-node; set Provider to PostgreSql or Clustered to false.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
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
            if (FindTimeZone(schedule.TimeZone) is null)
                errors.Add($"{key}:TimeZone '{schedule.TimeZone}' is not a known time zone; use an IANA id such as \"UTC\" or \"Europe/London\".");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static TimeZoneInfo? FindTimeZone(string id)
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
        {
            return null;
        }
    }
}

internal sealed class HttpOptionsValidator : IValidateOptions<HttpOptions>
{
    public ValidateOptionsResult Validate(string? name, HttpOptions options)
    {
        var bad = options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(u => !Uri.TryCreate(u.Replace("*", "0.0.0.0").Replace("+", "0.0.0.0"), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            .ToList();
        return bad.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Http:Urls has {string.Join(", ", bad.Select(b => $"'{b}'"))}, which is not an http(s) address; write it like http://127.0.0.1:5080.");
    }
}
