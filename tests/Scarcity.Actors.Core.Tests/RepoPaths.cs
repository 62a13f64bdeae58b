namespace Scarcity.Actors.Core.Tests;

/// <summary>Files of the repository the specs read as shipped (configurations, project files).</summary>
internal static class RepoPaths
{
    /// <summary>The repository root: the first directory above the test output that holds the solution.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Scarcity.Actors.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Scarcity.Actors.sln above {AppContext.BaseDirectory}");
    }
}
