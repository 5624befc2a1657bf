using Npgsql;
using NpgsqlTypes;

namespace Syndicator.Storage;

/// <summary>
/// Many new rows into one PostgreSQL table with binary <c>COPY ... FROM STDIN</c> (Npgsql's binary importer), inside
/// the connection's open transaction: no JSON to build, send and take apart, no statement to plan. Planning 100,000
/// digests wrote their digest and delivery rows this way instead of <c>INSERT ... SELECT</c> from a JSON parameter.
/// A row that breaks a constraint fails the COPY, and with it the transaction, as the INSERT did.
/// </summary>
public static class PostgresCopy
{
    /// <summary>Writes <paramref name="rows"/> (one value per column, in <paramref name="columns"/>' order) into <paramref name="table"/>: how many.</summary>
    public static async Task<int> WriteAsync(NpgsqlConnection connection, string table, IReadOnlyList<(string Name, NpgsqlDbType Type)> columns,
        IEnumerable<object?[]> rows, CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync(
            $"COPY {table} ({string.Join(", ", columns.Select(c => c.Name))}) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in rows)
        {
            if (row.Length != columns.Count)
                throw new ArgumentException($"A row for {table} has {row.Length} values for {columns.Count} columns.", nameof(rows));
            await importer.StartRowAsync(cancellationToken);
            for (var i = 0; i < row.Length; i++)
            {
                if (row[i] is null) await importer.WriteNullAsync(cancellationToken);
                else await importer.WriteAsync(row[i], columns[i].Type, cancellationToken);
            }
        }
        return (int)await importer.CompleteAsync(cancellationToken);
    }
}
