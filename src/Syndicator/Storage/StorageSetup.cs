using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Syndicator.Storage;

public static class StorageSetup
{
    /// <summary>The database (SQLite by default, PostgreSQL for production and clusters) and its migrations at start.</summary>
    public static IServiceCollection AddStorage(this IServiceCollection services, string contentRoot)
    {
        services.AddSingleton(sp => Database.FromOptions(sp.GetRequiredService<IOptions<StorageOptions>>().Value, contentRoot));
        services.AddSingleton<SchemaMigrator>();
        services.AddSingleton<WebhookReplays>();
        services.AddHostedService<StartupMigration>();
        return services;
    }
}
