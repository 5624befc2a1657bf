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
}
