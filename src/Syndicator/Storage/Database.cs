using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Syndicator.Storage;

/// <summary>
/// Opens connections to the configured store. The only place that knows which engine is behind them:
/// everything that differs between SQLite and PostgreSQL is decided here or in <see cref="SqlDialect"/>.
/// </summary>
public sealed class Database
{
    public Database(StorageProvider provider, string connectionString, bool syncEveryCommit = false)
    {
        Provider = provider;
        ConnectionString = connectionString;
        pragmas = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={(syncEveryCommit ? "FULL" : "NORMAL")}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;";
        Dialect = new SqlDialect(provider);
        KeepsStatementsPrepared = provider == StorageProvider.PostgreSql && new NpgsqlConnectionStringBuilder(connectionString).MaxAutoPrepare > 0;
        DapperSetup.EnsureRegistered();
    }

    /// <summary>PostgreSQL connections keep their most used statements prepared (<c>Max Auto Prepare</c> above 0; see <see cref="FromOptions"/>).</summary>
    public bool KeepsStatementsPrepared { get; }

    public StorageProvider Provider { get; }

    /// <summary>The resolved connection string (paths made absolute, password file read). Never log it.</summary>
    public string ConnectionString { get; }

    public SqlDialect Dialect { get; }

    private readonly string pragmas;

    /// <summary>The SQLite connections (native handles, reused by the pool) that have had <see cref="pragmas"/> applied.</summary>
    private readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> configured = new();

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        DbConnection connection = Provider == StorageProvider.Sqlite
            ? new SqliteConnection(ConnectionString)
            : new NpgsqlConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            // Once per connection the pool opens, not per use: a pooled connection keeps its settings (nothing here
            // changes them), and four statements on every open were a tenth of an e-mail's CPU.
            if (connection is SqliteConnection sqlite && sqlite.Handle is { } handle && !configured.TryGetValue(handle, out _))
            {
                await using var pragma = connection.CreateCommand();
                // WAL lets the web endpoint read while a job writes; busy_timeout makes writers queue instead of failing.
                // synchronous=NORMAL (with WAL, the default): a commit is not flushed to disk on its own, the WAL is at
                // checkpoints, so a commit costs no fsync (it was most of an e-mail's cost: a hand-over mark per message).
                // A crash of the process loses nothing committed; a power cut or OS crash may lose the last commits before
                // the checkpoint (never corrupts the file), and so could resend a message whose hand-over mark was among
                // them. Storage:SyncEveryCommit (synchronous=FULL) closes that window at an fsync per commit.
                pragma.CommandText = pragmas;
                await pragma.ExecuteNonQueryAsync(cancellationToken);
                configured.AddOrUpdate(handle, this);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Turns the configured connection string into the one to use: a relative SQLite path is anchored at
    /// <paramref name="contentRoot"/> and its folder created; a PostgreSQL password is read from <c>PasswordFile</c>.
    /// </summary>
    public static Database FromOptions(StorageOptions options, string contentRoot)
    {
        if (options.Provider == StorageProvider.Sqlite)
        {
            var builder = new SqliteConnectionStringBuilder(options.ConnectionString);
            if (builder.DataSource != ":memory:" && !builder.DataSource.StartsWith("file:", StringComparison.Ordinal))
            {
                builder.DataSource = Path.GetFullPath(builder.DataSource, contentRoot);
                Directory.CreateDirectory(Path.GetDirectoryName(builder.DataSource)!);
            }
            builder.Pooling = true;
            return new Database(StorageProvider.Sqlite, builder.ConnectionString, options.SyncEveryCommit);
        }

        var pg = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        if (!string.IsNullOrWhiteSpace(options.PasswordFile))
            pg.Password = File.ReadAllText(Path.GetFullPath(options.PasswordFile, contentRoot)).Trim();
        // The same promise as SQLite's synchronous=NORMAL: a commit returns before its WAL record is flushed (the WAL
        // writer flushes within a fraction of a second), so a crash of this process loses nothing committed, and a
        // crash of the database server or its machine may lose the last commits. A flush per commit was most of an
        // e-mail's cost on PostgreSQL (its hand-over mark). Storage:SyncEveryCommit keeps the server's own setting.
        if (!options.SyncEveryCommit) pg.Options = string.IsNullOrWhiteSpace(pg.Options) ? "-c synchronous_commit=off" : $"{pg.Options} -c synchronous_commit=off";
        // Defaults for what the operator's connection string leaves unset (what it sets wins). The same few statements
        // run for every e-mail, so each pooled connection keeps its most used ones prepared (parsed and planned once, not
        // on every run), and a connection handed back to the pool is not reset: by default Npgsql sends DISCARD ALL with
        // its next command, a transaction of its own on every use of a pooled connection (2.1 server transactions per
        // e-mail instead of 1.1, and it would drop the prepared statements). Nothing here leaves session state behind
        // (no SET that outlives its user, temporary tables, LISTEN or advisory locks; a transaction left open is rolled back on close as before).
        var given = new DbConnectionStringBuilder { ConnectionString = options.ConnectionString };
        if (!given.ContainsKey("Max Auto Prepare") && !given.ContainsKey("MaxAutoPrepare")) pg.MaxAutoPrepare = AutoPrepared;
        if (!given.ContainsKey("No Reset On Close") && !given.ContainsKey("NoResetOnClose")) pg.NoResetOnClose = true;
        return new Database(StorageProvider.PostgreSql, pg.ConnectionString);
    }

    /// <summary>Statements each pooled PostgreSQL connection keeps prepared unless the connection string says (Npgsql's <c>Max Auto Prepare</c>).</summary>
    public const int AutoPrepared = 64;
}
