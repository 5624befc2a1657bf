namespace Syndicator.Scheduling;

/// <summary>The jobs Syndicator schedules, by the names used under the <c>Jobs</c> configuration section.</summary>
public static class JobCatalog
{
    public const string DropFolderImport = "DropFolderImport";

    public static readonly string[] Names = [DropFolderImport];
}
