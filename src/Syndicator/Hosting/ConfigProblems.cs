using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Spectre.Console;

namespace Syndicator.Hosting;

public sealed class ConfigProblemsException(IReadOnlyList<string> problems)
    : Exception("Syndicator's configuration has problems:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>Runs every options validator at once and gathers all problems, so the publisher fixes them in one pass rather than one per restart.</summary>
public static class ConfigProblems
{
    public static IReadOnlyList<string> Find(IServiceProvider services)
    {
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
            return [];
        }
        catch (Exception e)
        {
            return Flatten(e).Distinct().ToList();
        }
    }

    public static void ThrowIfAny(IServiceProvider services)
    {
        var problems = Find(services);
        if (problems.Count > 0) throw new ConfigProblemsException(problems);
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
