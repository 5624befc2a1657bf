using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Storage;

public sealed class MigrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Migrating_an_empty_database_creates_the_tables_and_a_second_run_applies_nothing(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var migrator = new SchemaMigrator(store.Database, NullLogger<SchemaMigrator>.Instance);

        var first = await migrator.MigrateAsync(Ct);
        var second = await migrator.MigrateAsync(Ct);

        Assert.NotEmpty(first.Applied);
        Assert.Empty(second.Applied);
        Assert.Equal(first.Applied, second.AlreadyApplied);
        await using var connection = await store.Database.OpenAsync(Ct);
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM deliveries"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM articles"));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_database_with_a_migration_this_build_does_not_know_is_refused(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var migrator = new SchemaMigrator(store.Database, NullLogger<SchemaMigrator>.Instance);
        await migrator.MigrateAsync(Ct);
        await using (var connection = await store.Database.OpenAsync(Ct))
            await connection.ExecuteAsync("INSERT INTO schemaversions (scriptname, applied) VALUES ('Syndicator.Storage.Migrations.9999_from_the_future.sql', @now)", new { now = DateTime.UtcNow });

        var e = await Assert.ThrowsAsync<SchemaTooNewException>(() => migrator.MigrateAsync(Ct));
        Assert.Contains("9999_from_the_future", e.Message);
        Assert.Contains("newer", e.Message);
        await Assert.ThrowsAsync<SchemaTooNewException>(() => migrator.EnsureCurrentAsync(Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Without_migrate_on_start_a_database_behind_this_build_is_refused_with_the_command_to_run()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        var migrator = new SchemaMigrator(store.Database, NullLogger<SchemaMigrator>.Instance);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => migrator.EnsureCurrentAsync(Ct));

        Assert.Contains("syndicator db migrate", e.Message);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_sqlite_store_runs_in_WAL_mode()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        await using var connection = await store.Database.OpenAsync(Ct);
        Assert.Equal("wal", await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode"));
    }
}
