using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Storage;

/// <summary>Quartz's persistent job store on the same database, with the schema Quartz creates itself.</summary>
public sealed class JobStoreTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static async Task<int> TriggerCountAsync(TestStore store)
    {
        await using var connection = await store.Database.OpenAsync(Ct);
        return await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM qrtz_triggers WHERE trigger_group = 'syndicator' AND trigger_name = 'DropFolderImport'");
    }

    private static async Task RunOnceAsync(TestStore store, Dictionary<string, string?> settings)
    {
        var all = store.Settings();
        all["Http:Urls"] = "http://127.0.0.1:0";
        all["Import:SamplesPath"] = "";
        all["Feeds:OutputPath"] = Path.Combine(Path.GetTempPath(), "syndicator-jobstore-" + Guid.NewGuid().ToString("N"));
        all["Digests:SigningKey"] = "file:" + Path.Combine(Path.GetTempPath(), "syndicator-jobstore-" + Guid.NewGuid().ToString("N") + ".key");
        foreach (var (k, v) in settings) all[k] = v;
        await using var app = Syndicator.Hosting.SyndicatorHost.Build([], c => Microsoft.Extensions.Configuration.MemoryConfigurationBuilderExtensions.AddInMemoryCollection(c, all));
        await app.StartAsync(Ct);
        var scheduler = await app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler(Ct);
        // The hosted service starts the scheduler once the application has started, which is just after StartAsync returns.
        for (var i = 0; i < 100 && scheduler.Status != SchedulerStatus.Running; i++) await Task.Delay(50, Ct);
        Assert.Equal(SchedulerStatus.Running, scheduler.Status);
        Assert.True((await scheduler.GetMetadata(Ct)).JobStorePersistent);
        await app.StopAsync(Ct);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Quartz_creates_its_schema_and_a_restart_with_a_changed_schedule_replaces_the_trigger(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        using var inbox = new TempDir();

        await RunOnceAsync(store, new() { ["Import:InboxPath"] = inbox.Path, ["Jobs:DropFolderImport:IntervalSeconds"] = "30" });
        Assert.Equal(1, await TriggerCountAsync(store));

        await RunOnceAsync(store, new()
        {
            ["Import:InboxPath"] = inbox.Path,
            ["Jobs:DropFolderImport:IntervalSeconds"] = null,
            ["Jobs:DropFolderImport:Cron"] = "0 0/5 * * * ?",
            ["Jobs:DropFolderImport:TimeZone"] = "Europe/London",
        });
        Assert.Equal(1, await TriggerCountAsync(store));
        await using var connection = await store.Database.OpenAsync(Ct);
        Assert.Equal("0 0/5 * * * ?", await connection.ExecuteScalarAsync<string>("SELECT cron_expression FROM qrtz_cron_triggers WHERE trigger_name = @n", new { n = JobCatalog.DropFolderImport }));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Disabling_a_job_removes_its_stored_trigger()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        using var inbox = new TempDir();
        await RunOnceAsync(store, new() { ["Import:InboxPath"] = inbox.Path });
        Assert.Equal(1, await TriggerCountAsync(store));

        await RunOnceAsync(store, new() { ["Import:InboxPath"] = inbox.Path, ["Jobs:DropFolderImport:Enabled"] = "false" });

        Assert.Equal(0, await TriggerCountAsync(store));
    }
}
