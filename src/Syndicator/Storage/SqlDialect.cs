using System.Data.Common;
using System.Globalization;
using Dapper;
using Npgsql;

namespace Syndicator.Storage;

/// <summary>The differences between the two SQL dialects, kept in one place. Queries elsewhere are plain SQL both engines accept.</summary>
public sealed class SqlDialect(StorageProvider provider)
{
    /// <summary>Folder of embedded migration scripts: DDL types differ (TEXT timestamps vs timestamptz, identity columns).</summary>
    public string MigrationFolder => provider == StorageProvider.Sqlite ? ".Migrations.Sqlite." : ".Migrations.PostgreSql.";

    /// <summary>
    /// Row locking for claiming work. PostgreSQL skips rows other nodes hold; SQLite has one writer at a time,
    /// so its transaction is the lock and the clause is empty.
    /// </summary>
    public string ForUpdateSkipLocked => provider == StorageProvider.PostgreSql ? "FOR UPDATE SKIP LOCKED" : "";

    /// <summary>
    /// Whether write transactions on different connections make progress at once: PostgreSQL runs each in a server
    /// process of its own; SQLite has one writer at a time, and a second transaction only waits for the first.
    /// </summary>
    public bool ConcurrentWriters => provider == StorageProvider.PostgreSql;

    /// <summary>
    /// A JSON array of arrays in one parameter as a table <paramref name="alias"/> whose fields read
    /// <c>alias.value ->> 0</c>, <c>->> 1</c>, ... (text): thousands of rows in one statement with one parameter.
    /// Both engines parse the text once into their binary JSON (<c>jsonb</c>), whose rows <c>->></c> reads without
    /// parsing. As <c>json</c> each row was text that every <c>->></c> parsed again: on SQLite planning 100,000 digests
    /// spent 0.5 s of 5.3 s CPU so; on PostgreSQL an imported article's 24 fields parsed its body 24 times.
    /// </summary>
    public string JsonRows(string parameter, string alias) => provider == StorageProvider.PostgreSql
        ? $"jsonb_array_elements(CAST({parameter} AS jsonb)) AS {alias}(value)"
        : $"jsonb_each({parameter}) AS {alias}";

    /// <summary>
    /// <c>column</c> is one of the values <paramref name="rows"/> (a <c>(SELECT ...)</c> of <see cref="JsonRows"/>)
    /// gives. PostgreSQL reads <c>IN (SELECT ...)</c> as a join, and without statistics (a table just filled, before
    /// autovacuum analyses it) it scans the whole table and hashes the list; <c>= ANY(ARRAY(...))</c> makes the list
    /// once and looks each value up in the column's index. SQLite looks an IN list up by the index either way.
    /// </summary>
    public string AnyOf(string column, string rows) => provider == StorageProvider.PostgreSql ? $"{column} = ANY(ARRAY{rows})" : $"{column} IN {rows}";

    /// <summary>A timestamp from text in <see cref="StoredTime.Text"/>'s form (a JSON row's field): SQLite keeps that text, PostgreSQL reads it as timestamptz.</summary>
    public string Timestamp(string text) => provider == StorageProvider.PostgreSql ? $"CAST({text} AS timestamptz)" : text;

    /// <summary>
    /// Tells SQLite which index answers a read (after the table's name and alias). Without statistics (SQLite keeps
    /// none unless ANALYZE runs) its planner looks articles up by id through the primary key's index and then reads
    /// each row, when a covering index would answer alone. PostgreSQL's planner has its statistics and takes no hint.
    /// </summary>
    public string UsingIndex(string index) => provider == StorageProvider.Sqlite ? $"INDEXED BY {index}" : "";

    /// <summary>
    /// Many new rows into <paramref name="table"/> (one value per column, in its columns' order) inside the caller's
    /// transaction: how many. PostgreSQL takes them by binary COPY (<see cref="PostgresCopy"/>); SQLite in one INSERT
    /// whose rows travel as one JSON parameter (<see cref="JsonRows"/>), with a value that every row has (a channel, a
    /// state, a time) passed once as a parameter of its own instead of in each row: 100,000 deliveries with all twelve
    /// values in each row took planning from 5.5-6.3 to 7.3-7.7 s of CPU. (A prepared INSERT run once per row cost
    /// more still on SQLite: Microsoft.Data.Sqlite's work per run, 6.6-7.0 s.) A row that breaks a constraint fails the
    /// statement, and with it the transaction.
    /// </summary>
    public async Task<int> InsertRowsAsync(DbConnection connection, DbTransaction transaction, RowTable table, IEnumerable<object?[]> rows,
        CancellationToken cancellationToken)
    {
        if (provider == StorageProvider.PostgreSql)
            return await PostgresCopy.WriteAsync((NpgsqlConnection)connection, table, rows, cancellationToken);
        var list = rows as IReadOnlyList<object?[]> ?? rows.ToList();
        if (list.Count == 0) return 0;
        foreach (var row in list) table.Checked(row);
        var parameters = new DynamicParameters();
        var fields = new List<string>();
        var varying = new List<int>();
        for (var i = 0; i < table.Columns.Count; i++)
        {
            var first = list[0][i];
            string source;
            if (list.All(row => Equals(row[i], first)))
            {
                parameters.Add($"c{i}", JsonField(first));
                source = $"@c{i}";
            }
            else
            {
                source = $"r.value ->> {varying.Count}";
                varying.Add(i);
            }
            // JSON text and parameters arrive as text; SQLite keeps integers and booleans (1 or 0) as INTEGER.
            fields.Add(table.Columns[i].Type is ColumnType.Integer or ColumnType.Boolean ? $"CAST({source} AS INTEGER)" : source);
        }
        parameters.Add("rows", SqlList.Rows(list.Select(row => varying.Select(i => JsonField(row[i])).ToArray())));
        return await connection.ExecuteAsync(new CommandDefinition($"""
            INSERT INTO {table.Name} ({string.Join(", ", table.Columns.Select(c => c.Name))})
            SELECT {string.Join(", ", fields)} FROM {JsonRows("@rows", "r")}
            """, parameters, transaction, cancellationToken: cancellationToken));
    }

    /// <summary>A value as text in a JSON row, in the form SQLite stores it (a timestamp as <see cref="StoredTime.Text"/>, a boolean as 1 or 0).</summary>
    private static string? JsonField(object? value) => value switch
    {
        null => null,
        bool flag => flag ? "1" : "0",
        DateTimeOffset time => StoredTime.Text(time),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };
}

/// <summary>What a column of rows written with <see cref="SqlDialect.InsertRowsAsync"/> holds.</summary>
public enum ColumnType { Text, Integer, Timestamp, Boolean }

public sealed record RowColumn(string Name, ColumnType Type);

/// <summary>A table and the columns <see cref="SqlDialect.InsertRowsAsync"/> writes, in the order each row gives its values.</summary>
public sealed record RowTable(string Name, IReadOnlyList<RowColumn> Columns)
{
    /// <summary>The row, when it has one value per column, each of its column's type (or null).</summary>
    internal object?[] Checked(object?[] row)
    {
        if (row.Length != Columns.Count)
            throw new ArgumentException($"A row for {Name} has {row.Length} values for {Columns.Count} columns ({string.Join(", ", Columns.Select(c => c.Name))}).", nameof(row));
        for (var i = 0; i < row.Length; i++)
        {
            var fits = row[i] switch
            {
                null => true,
                string => Columns[i].Type == ColumnType.Text,
                int or long => Columns[i].Type == ColumnType.Integer,
                DateTimeOffset => Columns[i].Type == ColumnType.Timestamp,
                bool => Columns[i].Type == ColumnType.Boolean,
                _ => false,
            };
            if (!fits)
                throw new ArgumentException($"Column {Name}.{Columns[i].Name} is {Columns[i].Type} and cannot take a {row[i]!.GetType().Name}.", nameof(row));
        }
        return row;
    }
}
