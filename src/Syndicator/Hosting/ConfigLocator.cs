namespace Syndicator.Hosting;

/// <summary>
/// Finds the <c>appsettings.json</c> to load: the file named by <c>SYNDICATOR_CONFIG</c> when it is set, else the
/// one in the working directory, else the nearest one at or above the executable (the application folder when
/// published, which carries the default one; the repository root in a checkout). Its folder becomes the content
/// root, which relative paths such as <c>data/</c> are anchored to.
/// </summary>
/// <remarks>
/// The explicit path comes first, although the working directory is the first place looked at otherwise: a
/// variable that loses to whatever file happens to sit in the working directory would be ignored without a word,
/// the very fault this order exists to end.
/// </remarks>
public static class ConfigLocator
{
    public const string EnvironmentVariable = "SYNDICATOR_CONFIG";
    public const string FileName = "appsettings.json";

    public static string Find()
    {
        var named = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(named))
        {
            var full = Path.GetFullPath(named);
            if (Directory.Exists(full))
                throw new FileNotFoundException($"{EnvironmentVariable} names the folder {full}; point it at the {FileName} file itself ({Path.Combine(full, FileName)}).");
            if (!File.Exists(full))
                throw new FileNotFoundException($"{EnvironmentVariable} names {full}, which does not exist. Point it at an {FileName} or unset it.");
            return full;
        }

        var working = Path.Combine(Environment.CurrentDirectory, FileName);
        if (File.Exists(working)) return working;

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, FileName);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"No {FileName} in the working directory ({Environment.CurrentDirectory}) nor at or above the executable ({AppContext.BaseDirectory}). Run from the folder that holds it, or set {EnvironmentVariable} to its path.");
    }
}
