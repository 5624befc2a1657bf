using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Syndicator.Storage;

/// <summary>Brings the schema up to date before anything else touches the database, unless Storage:MigrateOnStart is false.</summary>
internal sealed class StartupMigration(SchemaMigrator migrator, IOptions<StorageOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.MigrateOnStart) await migrator.MigrateAsync(cancellationToken);
        else await migrator.EnsureCurrentAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
