using System.Data;
using System.Globalization;
using Dapper;

namespace Syndicator.Storage;

/// <summary>
/// SQLite keeps timestamps as ISO-8601 text and PostgreSQL as timestamptz; this handler makes both round-trip
/// <see cref="DateTimeOffset"/> in UTC so that queries compare and sort them the same way.
/// </summary>
internal static class DapperSetup
{
    private static int registered;

    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref registered, 1) == 1) return;
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset));
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset?));
        SqlMapper.AddTypeHandler(new UtcDateTimeOffsetHandler());
    }

    private sealed class UtcDateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
        {
            if (parameter is Microsoft.Data.Sqlite.SqliteParameter)
            {
                parameter.DbType = DbType.String;
                parameter.Value = Format(value);
            }
            else
            {
                parameter.DbType = DbType.DateTimeOffset;
                parameter.Value = value.ToUniversalTime();
            }
        }

        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTimeOffset dto => dto.ToUniversalTime(),
            DateTime dt => new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)),
            string s => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUniversalTime(),
            _ => throw new DataException($"Cannot read a timestamp from a {value.GetType().Name}."),
        };
    }

    /// <summary>Fixed-width UTC text, so that SQLite's string comparison orders timestamps correctly.</summary>
    public static string Format(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}

public static class StoredTime
{
    /// <summary>
    /// Both stores keep microseconds (PostgreSQL's timestamptz precision). Values are cut to that before they are
    /// compared with or written to the store, so what was written reads back equal.
    /// </summary>
    public static DateTimeOffset ToStoredPrecision(this DateTimeOffset value) =>
        new DateTimeOffset(value.UtcTicks - value.UtcTicks % 10, TimeSpan.Zero);

    /// <summary>
    /// The value as SQLite stores it (fixed-width UTC text, microseconds), which PostgreSQL also reads as a timestamptz:
    /// a timestamp inside a JSON row (<see cref="SqlList.Rows"/>, read with <see cref="SqlDialect.Timestamp"/>).
    /// </summary>
    public static string Text(DateTimeOffset value) => DapperSetup.Format(value);
}
