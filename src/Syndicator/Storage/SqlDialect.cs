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
    /// A JSON array of arrays in one parameter as a table <paramref name="alias"/> whose fields read
    /// <c>alias.value ->> 0</c>, <c>->> 1</c>, ... (text): thousands of rows in one statement with one parameter.
    /// </summary>
    public string JsonRows(string parameter, string alias) => provider == StorageProvider.PostgreSql
        ? $"json_array_elements(CAST({parameter} AS json)) AS {alias}(value)"
        : $"json_each({parameter}) AS {alias}";

    /// <summary>A timestamp from text in <see cref="StoredTime.Text"/>'s form (a JSON row's field): SQLite keeps that text, PostgreSQL reads it as timestamptz.</summary>
    public string Timestamp(string text) => provider == StorageProvider.PostgreSql ? $"CAST({text} AS timestamptz)" : text;

    /// <summary>
    /// Tells SQLite which index answers a read (after the table's name and alias). Without statistics (SQLite keeps
    /// none unless ANALYZE runs) its planner looks articles up by id through the primary key's index and then reads
    /// each row, when a covering index would answer alone. PostgreSQL's planner has its statistics and takes no hint.
    /// </summary>
    public string UsingIndex(string index) => provider == StorageProvider.Sqlite ? $"INDEXED BY {index}" : "";

    /// <summary>A boolean from the text <c>1</c> or <c>0</c> (a JSON row's field).</summary>
    public string Boolean(string text) => provider == StorageProvider.PostgreSql ? $"CAST({text} AS boolean)" : $"CAST({text} AS INTEGER)";
}
