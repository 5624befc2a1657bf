using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Spectre.Console;

namespace Syndicator.Hosting;

/// <summary>Problems that stop Syndicator from starting, each naming its key and the fix.</summary>
public sealed class ConfigProblemsException(IReadOnlyList<string> problems)
    : Exception("Syndicator's configuration has problems:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>Runs every options validator at once and gathers all problems, so the publisher fixes them in one pass rather than one per restart.</summary>
public static partial class ConfigProblems
{
    private sealed record Section(string Name, Type OptionsType);

    /// <summary>Problems found before the options exist (in the files themselves), reported with the rest.</summary>
    internal sealed record FileProblems(IReadOnlyList<string> Problems);

    internal static void Register<T>(IServiceCollection services, string name) where T : class =>
        services.AddSingleton(new Section(name, typeof(IOptions<T>)));

    /// <summary>The sections registered so far, by name.</summary>
    internal static IReadOnlyList<string> Sections(IServiceCollection services) =>
        services.Select(d => d.ImplementationInstance).OfType<Section>().Select(s => s.Name).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>Resolves every options section on its own, so that one that cannot even be bound does not hide the others' problems.</summary>
    public static IReadOnlyList<string> Find(IServiceProvider services)
    {
        var problems = services.GetServices<FileProblems>().SelectMany(f => f.Problems).ToList();
        foreach (var section in services.GetServices<Section>())
        {
            try
            {
                var options = services.GetRequiredService(section.OptionsType);
                _ = section.OptionsType.GetProperty(nameof(IOptions<object>.Value))!.GetValue(options);
            }
            catch (Exception e)
            {
                problems.AddRange(Flatten(e));
            }
        }
        var configuration = services.GetService<IConfiguration>() as IConfigurationRoot;
        return problems.Distinct().Select(p => configuration is null ? p : WithOrigin(configuration, p)).ToList();
    }

    /// <summary>
    /// The problem with where its key was set appended: the file, line and column, or the environment variable, so a
    /// publisher with several files (or a container's environment) knows which one to edit.
    /// </summary>
    private static string WithOrigin(IConfigurationRoot configuration, string problem)
    {
        var match = ProblemKey().Match(problem);
        if (!match.Success) return problem;
        var key = match.Groups["key"].Value;
        // The provider added last wins, as it does when the value is read.
        foreach (var provider in configuration.Providers.Reverse())
        {
            if (!provider.TryGet(key, out _) && !provider.GetChildKeys([], key).Any()) continue;
            var origin = provider switch
            {
                JsonConfigurationProvider { Source: { Path: { } path, FileProvider: { } files } } when files.GetFileInfo(path).PhysicalPath is { } file
                    => ConfigFiles.Locate(file, key) ?? file,
                EnvironmentVariablesConfigurationProvider => "the environment variable " + key.Replace(ConfigurationPath.KeyDelimiter, "__", StringComparison.Ordinal),
                CommandLineConfigurationProvider => "the command line",
                _ => null,
            };
            return origin is null ? problem : $"{problem} (set in {origin})";
        }
        return problem;
    }

    /// <summary>The key a problem is about: named first ("Feeds:ItemsPerFeed must ...") or by the binder ("... at 'Storage:Provider' ...").</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^(?<key>[A-Za-z][A-Za-z0-9_]*(?::[A-Za-z0-9_]+)+)\b|configuration value at '(?<key>[^']+)'")]
    private static partial System.Text.RegularExpressions.Regex ProblemKey();

    /// <summary>
    /// Builds the app, turning everything that can go wrong before validation (no config file, malformed JSON,
    /// a value the binder cannot convert) into configuration problems too.
    /// </summary>
    public static Microsoft.AspNetCore.Builder.WebApplication BuildValidated(Func<Microsoft.AspNetCore.Builder.WebApplication> build)
    {
        Microsoft.AspNetCore.Builder.WebApplication app;
        try
        {
            app = build();
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or FormatException or InvalidOperationException or OptionsValidationException)
        {
            throw new ConfigProblemsException(Flatten(e).ToList());
        }
        var problems = Find(app.Services);
        if (problems.Count == 0) return app;
        ((IDisposable)app).Dispose();
        throw new ConfigProblemsException(problems);
    }

    public static void Print(IReadOnlyList<string> problems)
    {
        AnsiConsole.MarkupLineInterpolated($"[red]The configuration has {problems.Count} problem(s):[/]");
        foreach (var problem in problems) AnsiConsole.MarkupLineInterpolated($"  [red]-[/] {problem}");
    }

    private static IEnumerable<string> Flatten(Exception e) => e switch
    {
        AggregateException a => a.InnerExceptions.SelectMany(Flatten),
        OptionsValidationException o => o.Failures.Select(Clean),
        // The binder's messages already name the key: "Failed to convert configuration value at 'Storage:Provider'..."
        InvalidOperationException i when i.Message.Contains("configuration", StringComparison.OrdinalIgnoreCase) => [i.Message + FixFor(i.Message)],
        System.Reflection.TargetInvocationException { InnerException: { } inner } => Flatten(inner),
        InvalidDataException d => [d.Message + (d.InnerException is null ? "" : ": " + d.InnerException.Message) + " Fix the JSON syntax at that place."],
        _ => [e.Message],
    };

    private static string Clean(string failure)
    {
        // Data annotation failures come as "DataAnnotation validation failed for 'X' members: 'Y' with the error: '...'."
        const string marker = "with the error: '";
        var at = failure.IndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? failure : failure[(at + marker.Length)..].TrimEnd('.', '\'') + ".";
    }

    private static string FixFor(string message) =>
        message.Contains("Failed to convert", StringComparison.Ordinal) ? " Use one of the documented values (see README, Configuration)."
        : message.Contains("not found on type", StringComparison.Ordinal) || message.Contains("were not found", StringComparison.Ordinal) ? " Remove the key or correct its spelling (see README, Configuration)."
        : "";
}
