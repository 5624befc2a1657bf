using System.ComponentModel.DataAnnotations;

namespace Syndicator.Shared;

/// <summary>Time zones by IANA id (schedules, subscribers), the same lookup everywhere.</summary>
public static class TimeZoneLookup
{
    /// <summary>The zone, or null when this system does not know the id.</summary>
    public static TimeZoneInfo? Find(string id)
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

    /// <summary>
    /// Every zone this system knows, by IANA id (Windows ids converted), sorted: what a reader picks from. Ids that only
    /// alias another (US/Eastern) are not listed but <see cref="Find"/> still accepts them. Unsorted from the system
    /// (sorting by display name makes it look up every zone's localized name, seconds on a busy machine), sorted by id here.
    /// </summary>
    public static IReadOnlyList<TimeZoneInfo> All => all.Value;

    private static readonly Lazy<IReadOnlyList<TimeZoneInfo>> all = new(() => TimeZoneInfo.GetSystemTimeZones(skipSorting: true)
        .Select(z => z.HasIanaId ? z : TimeZoneInfo.TryConvertWindowsIdToIanaId(z.Id, out var iana) ? Find(iana) : null)
        .OfType<TimeZoneInfo>().DistinctBy(z => z.Id).OrderBy(z => z.Id, StringComparer.Ordinal).ToList());
}

/// <summary>Options validation: the value is a time zone id <see cref="TimeZoneLookup.Find"/> knows.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class TimeZoneIdAttribute : ValidationAttribute
{
    public override bool IsValid(object? value) => value is string id && id.Trim().Length > 0 && TimeZoneLookup.Find(id) is not null;
}
