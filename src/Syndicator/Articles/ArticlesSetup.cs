using Microsoft.Extensions.DependencyInjection;
using Syndicator.Articles.Import;
using Syndicator.Articles.Intake;
using Syndicator.Scheduling;

namespace Syndicator.Articles;

public static class ArticlesSetup
{
    /// <summary>The article store, import from files and the drop folder, and its job.</summary>
    public static IServiceCollection AddArticles(this IServiceCollection services)
    {
        services.AddSingleton<ArticleStore>();
        services.AddSingleton<ArticleFileReader>();
        services.AddSingleton<ArticleImporter>();
        services.AddSingleton<ArticleFiles>();
        services.AddSingleton<InboxWatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<InboxWatcher>());
        services.AddHostedService<SampleArticles>();
        services.AddIntake();
        return services.AddScheduledJob<DropFolderImportJob>(JobCatalog.DropFolderImport, new JobSchedule { IntervalSeconds = 15, Misfire = MisfirePolicy.Skip });
    }
}
