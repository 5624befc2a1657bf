using System.Data.Common;
using System.Diagnostics;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.Hosting;
using Syndicator.Storage;

namespace Syndicator.Benchmarks;

/// <summary>The real composition root (<see cref="SyndicatorHost.Build"/>), pointed at the benchmark's database and folders, never started.</summary>
public static class BenchHost
{
    public const string ConnectionVariable = "SYNDICATOR_BENCH_CONNECTION";

    public static WebApplication Build(BenchOptions options)
    {
        var connection = Environment.GetEnvironmentVariable(ConnectionVariable)
            ?? throw new InvalidOperationException($"{ConnectionVariable} is not set; phases are started by the benchmark itself.");
        var work = options.Work ?? throw new InvalidOperationException("--work is missing.");
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = options.Provider == "sqlite" ? nameof(StorageProvider.Sqlite) : nameof(StorageProvider.PostgreSql),
            ["Storage:ConnectionString"] = WithoutPassword(connection),
            ["Feeds:OutputPath"] = FeedsFolder(work),
            ["Import:SamplesPath"] = "",
            ["Import:InboxPath"] = Path.Combine(work, "inbox"),
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Syndicator"] = "Warning",
        };
        // No command-line arguments: the benchmark's own options must not reach the app's configuration.
        return SyndicatorHost.Build([], config => config.AddInMemoryCollection(settings));
    }

    /// <summary>
    /// The service refuses a password written into the connection string (it would end up in committed files), so a
    /// PostgreSQL password moves to PGPASSWORD, which Npgsql reads, as in production; SQLite strings pass through.
    /// </summary>
    public static string WithoutPassword(string connection)
    {
        if (connection.StartsWith("Data Source=", StringComparison.OrdinalIgnoreCase)) return connection;
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connection);
        if (string.IsNullOrEmpty(builder.Password)) return connection;
        Environment.SetEnvironmentVariable("PGPASSWORD", builder.Password);
        builder.Password = null;
        return builder.ConnectionString;
    }

    public static string FeedsFolder(string work) => Path.Combine(work, "feeds");

    public static T Get<T>(this WebApplication app) where T : notnull => app.Services.GetRequiredService<T>();

    public static long PeakWorkingSet()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }

    /// <summary>Reads a timestamp column whichever engine returned it (SQLite text, PostgreSQL DateTime).</summary>
    public static DateTimeOffset ReadTime(object value) => value switch
    {
        DateTimeOffset dto => dto.ToUniversalTime(),
        DateTime dt => new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)),
        string s => DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal).ToUniversalTime(),
        _ => throw new InvalidOperationException($"Cannot read a timestamp from a {value.GetType().Name}."),
    };

    public static async Task<long> DatabaseBytesAsync(Database database, DbConnection connection)
    {
        if (database.Provider == StorageProvider.PostgreSql)
            return await connection.ExecuteScalarAsync<long>("SELECT pg_database_size(current_database())");
        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(database.ConnectionString);
        return new[] { "", "-wal", "-shm" }.Select(s => new FileInfo(builder.DataSource + s)).Where(f => f.Exists).Sum(f => f.Length);
    }
}
