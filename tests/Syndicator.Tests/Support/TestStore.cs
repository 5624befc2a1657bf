using Npgsql;
using Syndicator.Storage;

namespace Syndicator.Tests.Support;

/// <summary>
/// A real, empty database for one test: a fresh SQLite file, or a fresh database on the PostgreSQL server named by
/// SYNDICATOR_TEST_POSTGRES. Without that variable the PostgreSQL cases are skipped with the reason, except under
/// CI=true, where a missing server fails the run.
/// </summary>
public sealed class TestStore : IAsyncDisposable
{
    public const string PostgresVariable = "SYNDICATOR_TEST_POSTGRES";

    private readonly TempDir? dir;
    private readonly string? adminConnection;
    private readonly string? databaseName;

    private TestStore(StorageProvider provider, string connectionString, TempDir? dir, string? adminConnection, string? databaseName)
    {
        Provider = provider;
        ConnectionString = connectionString;
        this.dir = dir;
        this.adminConnection = adminConnection;
        this.databaseName = databaseName;
        Database = new Database(provider, connectionString);
    }

    public StorageProvider Provider { get; }
    public string ConnectionString { get; }
    public Database Database { get; }

    public static async Task<TestStore> CreateAsync(StorageProvider provider)
    {
        if (provider == StorageProvider.Sqlite)
        {
            var dir = new TempDir();
            return new TestStore(provider, $"Data Source={Path.Combine(dir.Path, "test.db")};Pooling=False", dir, null, null);
        }

        var admin = RequirePostgres();
        var name = "syn_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        return new TestStore(provider, builder.ConnectionString, null, admin, name);
    }

    public static string RequirePostgres()
    {
        var admin = Environment.GetEnvironmentVariable(PostgresVariable);
        if (!string.IsNullOrWhiteSpace(admin)) return admin;
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail($"CI=true but {PostgresVariable} is not set: the PostgreSQL tests must run in CI. .ci/run starts PostgreSQL and sets it.");
        Assert.Skip($"PostgreSQL tests skipped: {PostgresVariable} is not set. Run 'bash .ci/run', or start PostgreSQL and set {PostgresVariable}=\"Host=127.0.0.1;Username=postgres;Password=...;Database=postgres\".");
        return "";
    }

    /// <summary>
    /// Configuration overrides that point a whole Syndicator app at this store. A PostgreSQL password goes into a
    /// Storage:PasswordFile, as in production: the app refuses one written into the connection string.
    /// </summary>
    public Dictionary<string, string?> Settings()
    {
        var settings = new Dictionary<string, string?> { ["Storage:Provider"] = Provider.ToString(), ["Storage:ConnectionString"] = ConnectionString };
        if (Provider == StorageProvider.PostgreSql && new NpgsqlConnectionStringBuilder(ConnectionString) is { Password: { Length: > 0 } password } pg)
        {
            passwordDir ??= new TempDir();
            settings["Storage:PasswordFile"] = passwordDir.File("db-password", password);
            pg.Password = null;
            settings["Storage:ConnectionString"] = pg.ConnectionString;
        }
        return settings;
    }

    private TempDir? passwordDir;

    public async ValueTask DisposeAsync()
    {
        passwordDir?.Dispose();
        if (dir is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            dir.Dispose();
        }
        if (adminConnection is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(adminConnection);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {databaseName} WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }
}
