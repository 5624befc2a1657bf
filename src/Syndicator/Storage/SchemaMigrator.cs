using DbUp;
using DbUp.Builder;
using DbUp.Engine;
using Microsoft.Extensions.Logging;

namespace Syndicator.Storage;

public sealed record MigrationReport(IReadOnlyList<string> Applied, IReadOnlyList<string> AlreadyApplied);

/// <summary>Thrown when the database carries migrations this build does not know: it was made by a newer Syndicator.</summary>
public sealed class SchemaTooNewException(IReadOnlyList<string> unknown)
    : Exception($"The database schema is newer than this Syndicator: it has migrations this build does not know ({string.Join(", ", unknown)}). " +
                "Upgrade Syndicator to the version that wrote them, or point Storage:ConnectionString at another database.")
{
    public IReadOnlyList<string> UnknownMigrations { get; } = unknown;
}

/// <summary>Applies the embedded SQL migrations for the configured engine with DbUp, whose journal is the <c>schemaversions</c> table.</summary>
public sealed class SchemaMigrator(Database database, ILogger<SchemaMigrator> logger)
{
    public Task<MigrationReport> MigrateAsync(CancellationToken cancellationToken) => Task.Run(() =>
    {
        var (engine, executed, pending) = Inspect();
        cancellationToken.ThrowIfCancellationRequested();
        if (pending.Count == 0) return new MigrationReport([], executed);

        var result = engine.PerformUpgrade();
        if (!result.Successful)
            throw new InvalidOperationException(
                $"Migration {result.ErrorScript?.Name ?? "(unknown)"} failed: {result.Error?.Message}. The database was left at the last successful migration; fix the cause and run 'syndicator db migrate' again.",
                result.Error);
        foreach (var name in pending) logger.LogInformation("Applied migration {Migration}", name);
        return new MigrationReport(pending, executed);
    }, cancellationToken);

    /// <summary>For Storage:MigrateOnStart=false: refuses to run on a schema that is behind or ahead of this build.</summary>
    public Task EnsureCurrentAsync(CancellationToken cancellationToken) => Task.Run(() =>
    {
        var (_, _, pending) = Inspect();
        if (pending.Count > 0)
            throw new InvalidOperationException(
                $"The database is missing {pending.Count} migration(s) ({string.Join(", ", pending)}) and Storage:MigrateOnStart is false. Run 'syndicator db migrate' or set Storage:MigrateOnStart to true.");
    }, cancellationToken);

    private (UpgradeEngine Engine, IReadOnlyList<string> Executed, IReadOnlyList<string> Pending) Inspect()
    {
        var engine = Engine();
        var known = engine.GetDiscoveredScripts().Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var executed = engine.GetExecutedScripts();
        var unknown = executed.Where(name => !known.Contains(name)).ToList();
        if (unknown.Count > 0) throw new SchemaTooNewException(unknown);
        return (engine, executed, engine.GetScriptsToExecute().Select(s => s.Name).ToList());
    }

    private UpgradeEngine Engine()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        UpgradeEngineBuilder builder = database.Provider == StorageProvider.Sqlite
            ? DeployChanges.To.SqliteDatabase(database.ConnectionString)
            : DeployChanges.To.PostgresqlDatabase(database.ConnectionString);
        return builder
            .WithScriptsEmbeddedInAssembly(assembly, name => name.Contains(database.Dialect.MigrationFolder, StringComparison.Ordinal))
            .WithTransactionPerScript()
            .LogToNowhere()
            .Build();
    }
}
