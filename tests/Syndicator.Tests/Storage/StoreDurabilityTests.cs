using Dapper;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Storage;

/// <summary>
/// What a commit promises. By default it returns before it is flushed: SQLite reaches the disk at WAL checkpoints
/// (synchronous=NORMAL), PostgreSQL sessions run with synchronous_commit=off. With Storage:SyncEveryCommit every
/// commit is flushed: SQLite synchronous=FULL, PostgreSQL the server's own setting. SQLite always in WAL mode.
/// </summary>
public sealed class StoreDurabilityTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly string folder = Directory.CreateTempSubdirectory("syndicator-durability-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(folder, recursive: true);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(false, 1L)] // NORMAL
    [InlineData(true, 2L)]  // FULL
    public async Task Every_connection_runs_in_WAL_with_the_configured_flush(bool syncEveryCommit, long expected)
    {
        var database = Database.FromOptions(new StorageOptions
        {
            ConnectionString = "Data Source=store/تست 数据.db",
            SyncEveryCommit = syncEveryCommit,
        }, folder);

        // Two connections: a pooled connection opened again gets the same settings.
        for (var i = 0; i < 2; i++)
        {
            await using var connection = await database.OpenAsync(Ct);
            Assert.Equal(expected, await connection.ExecuteScalarAsync<long>("PRAGMA synchronous"));
            Assert.Equal("wal", await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode"));
        }
        Assert.True(File.Exists(Path.Combine(folder, "store", "تست 数据.db")));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_connection_the_pool_gives_again_keeps_its_settings_and_a_new_one_gets_them()
    {
        var database = Database.FromOptions(new StorageOptions { ConnectionString = "Data Source=pool.db" }, folder);
        await using (var first = await database.OpenAsync(Ct))
            Assert.Equal(1L, await first.ExecuteScalarAsync<long>("PRAGMA foreign_keys"));
        // The pool's connection, then a second one opened while it is in use: both configured.
        await using var again = await database.OpenAsync(Ct);
        await using var second = await database.OpenAsync(Ct);
        foreach (var connection in new[] { again, second })
        {
            Assert.Equal(1L, await connection.ExecuteScalarAsync<long>("PRAGMA foreign_keys"));
            Assert.Equal(1L, await connection.ExecuteScalarAsync<long>("PRAGMA synchronous"));
            Assert.Equal(10_000L, await connection.ExecuteScalarAsync<long>("PRAGMA busy_timeout"));
        }
        // After the pool is cleared, connections are new and configured again.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await using var fresh = await database.OpenAsync(Ct);
        Assert.Equal(1L, await fresh.ExecuteScalarAsync<long>("PRAGMA foreign_keys"));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(false, "off")]
    [InlineData(true, "on")] // the server's default, which this server keeps
    public async Task PostgreSQL_sessions_commit_without_waiting_for_the_flush_unless_told_to(bool syncEveryCommit, string expected)
    {
        var admin = new Npgsql.NpgsqlConnectionStringBuilder(TestStore.RequirePostgres());
        var passwordFile = Path.Combine(folder, "password");
        await File.WriteAllTextAsync(passwordFile, admin.Password ?? "", Ct);
        admin.Password = null;
        // A connection string with its own Options keeps them.
        admin.Options = "-c application_name=durability-test";
        var database = Database.FromOptions(new StorageOptions
        {
            Provider = StorageProvider.PostgreSql,
            ConnectionString = admin.ConnectionString,
            PasswordFile = passwordFile,
            SyncEveryCommit = syncEveryCommit,
        }, folder);
        await using var connection = await database.OpenAsync(Ct);
        Assert.Equal(expected, await connection.ExecuteScalarAsync<string>("SHOW synchronous_commit"));
        Assert.Equal("durability-test", await connection.ExecuteScalarAsync<string>("SHOW application_name"));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("", true)]
    [InlineData(";Max Auto Prepare=0;No Reset On Close=false", false)]
    [InlineData(";MaxAutoPrepare=0;NoResetOnClose=false", false)] // the synonyms Npgsql reads too
    public async Task PostgreSQL_connections_keep_their_statements_prepared_across_uses_unless_the_connection_string_says_not(string given, bool kept)
    {
        var admin = new Npgsql.NpgsqlConnectionStringBuilder(TestStore.RequirePostgres());
        var passwordFile = Path.Combine(folder, "password");
        await File.WriteAllTextAsync(passwordFile, admin.Password ?? "", Ct);
        admin.Password = null;
        // A pool of its own, so no other test's connections are counted.
        admin.ApplicationName = $"prepared-{Guid.NewGuid():N}";
        admin.MaxPoolSize = 1;
        var database = Database.FromOptions(new StorageOptions
        {
            Provider = StorageProvider.PostgreSql,
            ConnectionString = admin.ConnectionString + given,
            PasswordFile = passwordFile,
        }, folder);
        var built = new Npgsql.NpgsqlConnectionStringBuilder(database.ConnectionString);
        Assert.Equal(kept ? Database.AutoPrepared : 0, built.MaxAutoPrepare);
        Assert.Equal(kept, built.NoResetOnClose);

        // The same statement, each time on the pool's one connection opened again (as every store call does).
        for (var i = 0; i < 10; i++)
        {
            await using var connection = await database.OpenAsync(Ct);
            Assert.Equal("شماره ✉", await connection.ExecuteScalarAsync<string>("SELECT @text || ' ✉'", new { text = "شماره" }));
        }
        await using (var connection = await database.OpenAsync(Ct))
        {
            var prepared = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE '%|| '' ✉''%'");
            Assert.Equal(kept ? 1L : 0L, prepared);
            Npgsql.NpgsqlConnection.ClearPool((Npgsql.NpgsqlConnection)connection);
        }
    }
}
