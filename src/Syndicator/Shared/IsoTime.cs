using System.Globalization;

namespace Syndicator.Shared;

/// <summary>
/// The one way a time is written for an operator (logs, CLI tables, readiness reasons): ISO 8601 in UTC, whatever the
/// server's culture or zone. A Persian or Thai culture would otherwise print another calendar's year, and a local zone
/// would put one node's log beside another's in a different hour.
/// </summary>
public static class IsoTime
{
    /// <summary>Every separator quoted: an unquoted ':' is the culture's time separator, not always a colon.</summary>
    public const string Format = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'";

    /// <summary>The console logger's timestamp, to the millisecond, with the space that separates it from the level.</summary>
    public const string LogTimestampFormat = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fff'Z' ";

    public static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);
}
