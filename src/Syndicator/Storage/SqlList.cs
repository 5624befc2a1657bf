using Dapper;

namespace Syndicator.Storage;

/// <summary>
/// Expands a list into <c>(@p0, @p1, ...)</c> for an <c>IN</c> clause. Dapper's own list expansion is not used
/// because it passes arrays whole to Npgsql, which PostgreSQL rejects after <c>IN</c>; this reads the same on both.
/// </summary>
public static class SqlList
{
    public static string In<T>(DynamicParameters parameters, string prefix, IReadOnlyCollection<T> values)
    {
        if (values.Count == 0) return "(NULL)";
        var names = values.Select((value, i) =>
        {
            parameters.Add($"{prefix}{i}", value);
            return $"@{prefix}{i}";
        });
        return "(" + string.Join(", ", names) + ")";
    }

    /// <summary>
    /// <c>(SELECT ...)</c> of a list of any length passed as one JSON parameter, for an <c>IN</c> clause over hundreds
    /// or thousands of values: SQLite finds each named parameter by a linear search, so a statement with P parameters
    /// costs P² (2,000 parameters took 0.3 s to bind).
    /// </summary>
    public static string InRows(DynamicParameters parameters, string name, IEnumerable<string> values, SqlDialect dialect)
    {
        parameters.Add(name, Rows(values.Select(v => new[] { v })));
        return $"(SELECT r.value ->> 0 FROM {dialect.JsonRows("@" + name, "r")})";
    }

    /// <summary>
    /// <c>column IN (...)</c> for a list of keys of any length in one JSON parameter (as <see cref="InRows"/>), looked
    /// up in the column's index on both engines (see <see cref="SqlDialect.AnyOf"/>): for a batch's rows of a large table.
    /// </summary>
    public static string KeyIn(DynamicParameters parameters, string column, string name, IEnumerable<string> values, SqlDialect dialect) =>
        dialect.AnyOf(column, InRows(parameters, name, values, dialect));

    /// <summary>Rows for <see cref="SqlDialect.JsonRows"/>: a JSON array of arrays of text.</summary>
    public static string Rows(IEnumerable<string?[]> rows) => System.Text.Json.JsonSerializer.Serialize(rows, RowsJson);

    /// <summary>
    /// Only what JSON itself needs is escaped: the text is a parameter, never put in a page, so article bodies keep
    /// their markup and non-Latin scripts as they are instead of growing sixfold into <c>\uXXXX</c> escapes.
    /// </summary>
    private static readonly System.Text.Json.JsonSerializerOptions RowsJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
