namespace Syndicator.Hosting;

/// <summary>
/// Finds the <c>appsettings.json</c> to load, whatever the working directory: the file named by
/// <c>SYNDICATOR_CONFIG</c>, else the nearest one at or above the executable (the repository root in a checkout,
/// the application folder when published). Its folder becomes the content root, which relative paths such as
/// <c>data/</c> are anchored to.
/// </summary>
public static class ConfigLocator
{
    public const string EnvironmentVariable = "SYNDICATOR_CONFIG";

    public static string Find()
    {
        var named = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(named))
        {
            var full = Path.GetFullPath(named);
            if (!File.Exists(full))
                throw new FileNotFoundException($"{EnvironmentVariable} names {full}, which does not exist. Point it at an appsettings.json or unset it.");
            return full;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "appsettings.json");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"No appsettings.json found at or above {AppContext.BaseDirectory}. Set {EnvironmentVariable} to its path.");
    }
}
