using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Syndicator.ActivityPub;
using Syndicator.Announcements;
using Syndicator.Announcements.Mastodon;
using Syndicator.Articles;
using Syndicator.Articles.Import;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Feeds;
using Syndicator.Scheduling;
using Syndicator.Storage;
using Syndicator.Web;
using Syndicator.Shared;

namespace Syndicator.Hosting;

/// <summary>The composition root: one place that wires every capability, used by the service and by every CLI verb.</summary>
public static class SyndicatorHost
{
    /// <summary>
    /// Builds the application. <paramref name="configure"/> lets tests and the CLI add configuration
    /// (in-memory overrides) after appsettings.json and environment variables.
    /// </summary>
    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null, Action<IServiceCollection>? services = null)
    {
        var configPath = ConfigLocator.Find();
        var contentRoot = Path.GetDirectoryName(configPath)!;
        var environmentName = Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? Environments.Production;
        var environmentConfigPath = Path.Combine(contentRoot, $"appsettings.{environmentName}.json");
        // Checked before the provider reads them, which would say neither line nor column.
        var fileProblems = ConfigFiles.Problems([configPath, environmentConfigPath]);
        if (fileProblems.Count > 0) throw new ConfigProblemsException(fileProblems);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = contentRoot,
            EnvironmentName = environmentName,
        });

        builder.Configuration
            .AddJsonFile(configPath, optional: false, reloadOnChange: false)
            .AddJsonFile(environmentConfigPath, optional: true, reloadOnChange: false)
            .AddEnvironmentVariables()
            .AddCommandLine(args);
        configure?.Invoke(builder.Configuration);

        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        // Logs go to stderr so that stdout carries only what a command prints (its --json output above all).
        // ISO 8601 in UTC, so lines from nodes in different zones (or cultures) sort and compare as they are.
        builder.Logging.AddConsole(o => o.FormatterName = IsoConsoleFormatter.Name)
            .AddConsoleFormatter<IsoConsoleFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>();
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.AddSystemd();
        builder.Services.AddWindowsService();
        var shutdownTimeout = ConfigSections.ReadOrDefault<ServiceOptions>(builder.Configuration, ServiceOptions.Section).ShutdownTimeoutSeconds;
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(shutdownTimeout));

        AddCapabilities(builder.Services, builder.Configuration, contentRoot);
        // Logging is read by the host itself; every other top-level key must be a section some capability binds.
        builder.Services.AddSingleton(new ConfigProblems.FileProblems(
            ConfigFiles.UnknownSections([configPath, environmentConfigPath], [.. ConfigProblems.Sections(builder.Services), "Logging"])));
        WebEndpoints.AddServer(builder);
        services?.Invoke(builder.Services);

        var app = builder.Build();
        WebEndpoints.Map(app);
        return app;
    }

    private static void AddCapabilities(IServiceCollection services, IConfiguration configuration, string contentRoot)
    {
        services.AddSingleton(TimeProvider.System);

        Bind<SiteOptions>(services, configuration, SiteOptions.Section);
        Bind<ServiceOptions>(services, configuration, ServiceOptions.Section);
        services.AddSingleton<ShutdownGrace>();
        Bind<StorageOptions>(services, configuration, StorageOptions.Section);
        Bind<ImportOptions>(services, configuration, ImportOptions.Section);
        // --- Article intake over HTTP (API, Ghost, pulled sources) ---
        Bind<Articles.Intake.IntakeOptions>(services, configuration, Articles.Intake.IntakeOptions.Section);
        // --- end article intake ---
        Bind<HttpOptions>(services, configuration, HttpOptions.Section);
        Bind<ScheduleOptions>(services, configuration, ScheduleOptions.Section);
        Bind<FeedOptions>(services, configuration, FeedOptions.Section);
        Bind<DeliveryOptions>(services, configuration, DeliveryOptions.Section);
        Bind<HistoryOptions>(services, configuration, HistoryOptions.Section);
        Bind<AnnouncementOptions>(services, configuration, AnnouncementOptions.Section);
        services.AddSingleton<IValidateOptions<AnnouncementOptions>>(new AnnouncementOptionsValidator(contentRoot, configuration));
        Bind<DigestOptions>(services, configuration, DigestOptions.Section);
        Bind<SubscriptionOptions>(services, configuration, SubscriptionOptions.Section);
        services.AddSingleton<IValidateOptions<DigestOptions>>(new DigestOptionsValidator(contentRoot,
            ConfigSections.ReadOrDefault<StorageOptions>(configuration, StorageOptions.Section).Clustered));
        services.AddSingleton<IValidateOptions<StorageOptions>>(new StorageOptionsValidator(contentRoot));
        services.AddSingleton<IValidateOptions<StorageOptions>>(new DataFoldersValidator(configuration, contentRoot));
        services.AddSingleton<IValidateOptions<SiteOptions>>(new PublicUrlsValidator(configuration));
        services.AddSingleton<IValidateOptions<ScheduleOptions>, ScheduleOptionsValidator>();
        services.AddSingleton<IValidateOptions<ScheduleOptions>, JobRetriesValidator>();
        services.AddSingleton<IValidateOptions<HttpOptions>, HttpOptionsValidator>();
        Bind<DashboardOptions>(services, configuration, DashboardOptions.Section);
        services.AddSingleton<IValidateOptions<DashboardOptions>>(new DashboardOptionsValidator(configuration, contentRoot));

        // Each capability adds its own services and jobs.
        services.AddStorage(contentRoot);
        services.AddDeliveries();
        services.AddArticles();
        services.AddFeeds();
        services.AddAnnouncements();
        services.AddDigests();
        // --- ActivityPub (off unless ActivityPub:Enabled) ---
        Bind<ActivityPubOptions>(services, configuration, ActivityPubOptions.Section);
        services.AddActivityPub(configuration);
        // --- end ActivityPub ---
        SchedulingSetup.Add(services, configuration, contentRoot);

        // --- Telemetry (traces and metrics over OTLP when Telemetry:OtlpEndpoint is set) ---
        Bind<TelemetryOptions>(services, configuration, TelemetryOptions.Section);
        services.AddSingleton<IValidateOptions<TelemetryOptions>, TelemetryOptionsValidator>();
        TelemetrySetup.Add(services, ConfigSections.ReadOrDefault<TelemetryOptions>(configuration, TelemetryOptions.Section));
        // --- end Telemetry ---
    }

    private static void Bind<T>(IServiceCollection services, IConfiguration configuration, string section) where T : class
    {
        // Binds only the values that fit their settings; ConfigShapeValidator reports the others with every other problem.
        services.AddOptions<T>().Configure(options => ConfigShape.BindInto(options, configuration, section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>>(new ConfigShapeValidator<T>(configuration, section));
        ConfigProblems.Register<T>(services, section);
    }
}
