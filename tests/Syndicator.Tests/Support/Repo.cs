namespace Syndicator.Tests.Support;

/// <summary>Paths inside the repository, found from the test binaries so the tests run from any working directory.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string SampleArticle => Path.Combine(Root, "config", "samples", "articles", "iranian-regime-losing-regional-mystique.txt");

    public static string AppDll => typeof(Syndicator.Cli.SyndicatorCli).Assembly.Location;

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Syndicator.sln"))) return dir.FullName;
        throw new InvalidOperationException("Syndicator.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary folder deleted at the end of the test.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("syndicator-test-").FullName;

    public string File(string name, string content)
    {
        var path = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
