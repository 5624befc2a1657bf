using Npgsql;
using NpgsqlTypes;

namespace Syndicator.Storage;

/// <summary>
/// Many new rows into one PostgreSQL table with binary <c>COPY ... FROM STDIN</c> (Npgsql's binary importer), inside
/// the connection's open transaction: no JSON to build, send and take apart, no statement to plan. Planning 100,000
/// digests wrote their digest and delivery rows this way instead of <c>INSERT ... SELECT</c> from a JSON parameter.
/// A row that breaks a constraint fails the COPY, and with it the transaction, as the INSERT did. Reached through
/// <see cref="SqlDialect.InsertRowsAsync"/>, so callers do not know which store they write to.
/// </summary>
internal static class PostgresCopy
{
    public static async Task<int> WriteAsync(NpgsqlConnection connection, RowTable table, IEnumerable<object?[]> rows, CancellationToken cancellationToken)
    {
        var columns = table.Columns;
        await using var importer = await connection.BeginBinaryImportAsync(
            $"COPY {table.Name} ({string.Join(", ", columns.Select(c => c.Name))}) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in rows)
        {
            table.Checked(row);
            await importer.StartRowAsync(cancellationToken);
            for (var i = 0; i < row.Length; i++)
            {
                switch (row[i])
                {
                    case null: await importer.WriteNullAsync(cancellationToken); break;
                    // timestamptz takes UTC only.
                    case DateTimeOffset time: await importer.WriteAsync(time.ToUniversalTime(), Type(columns[i]), cancellationToken); break;
                    case var value: await importer.WriteAsync(value, Type(columns[i]), cancellationToken); break;
                }
            }
        }
        return (int)await importer.CompleteAsync(cancellationToken);
    }

    private static NpgsqlDbType Type(RowColumn column) => column.Type switch
    {
        ColumnType.Text => NpgsqlDbType.Text,
        ColumnType.Integer => NpgsqlDbType.Integer,
        ColumnType.Timestamp => NpgsqlDbType.TimestampTz,
        ColumnType.Boolean => NpgsqlDbType.Boolean,
        _ => throw new ArgumentOutOfRangeException(nameof(column), column.Type, $"No PostgreSQL type for column {column.Name}."),
    };
}
