using Dapper;
using Syndicator.Storage;

namespace Syndicator.Tests.Storage;

/// <summary>
/// What a commit on SQLite promises: by default it reaches the disk at WAL checkpoints (synchronous=NORMAL, no fsync
/// per commit); with Storage:SqliteSyncEveryCommit every commit is flushed (synchronous=FULL). Both in WAL mode.
/// </summary>
public sealed class SqliteDurabilityTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly string folder = Directory.CreateTempSubdirectory("syndicator-durability-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(folder, recursive: true);
    }

    [Theory]
    [InlineData(false, 1L)] // NORMAL
    [InlineData(true, 2L)]  // FULL
    public async Task Every_connection_runs_in_WAL_with_the_configured_flush(bool syncEveryCommit, long expected)
    {
        var database = Database.FromOptions(new StorageOptions
        {
            ConnectionString = "Data Source=store/تست 数据.db",
            SqliteSyncEveryCommit = syncEveryCommit,
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
}
