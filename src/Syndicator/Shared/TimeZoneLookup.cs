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
}
