namespace Scarcity.Actors.Core.Tests.FieldCases;

/// <summary>
/// The inputs of one field case (shared/field-cases/README.md), copied into this folder and shipped to the test output:
/// what real hosts do to a governor's sensors and rules.
/// </summary>
internal static class FieldCase
{
    /// <summary>The path of <paramref name="parts"/> inside the case <paramref name="name"/>, e.g. <c>File("cgroup-page-cache", "cgroup")</c>.</summary>
    public static string File(string name, params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "FieldCases", name, .. parts]);
}
