using System.Reflection;
using System.Xml.Linq;
using Scarcity.Actors.Configuration;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Architecture;

/// <summary>
/// The core stays free of Akka: the same classes run in the actors, in benchmarks, and offline in the CLI (validate,
/// simulate, replay) without an actor system. Both what the compiled assembly references and what its project file asks
/// for are checked, so a stray <c>using Akka...</c> or package reference fails the suite.
/// </summary>
public sealed class CoreReferencesSpecs
{
    private static readonly Assembly Core = typeof(DRGConfig).Assembly;

    [Fact]
    public void The_core_assembly_references_no_Akka_assembly()
    {
        var akka = Core.GetReferencedAssemblies().Where(a => a.Name!.StartsWith("Akka", StringComparison.Ordinal)).ToList();

        Assert.True(akka.Count == 0, $"{Core.GetName().Name} references {string.Join(", ", akka)}");
    }

    [Fact]
    public void The_core_project_references_only_Contracts_Microsoft_Extensions_and_MathNet()
    {
        var project = XDocument.Load(Path.Combine(RepoPaths.Root, "src", "Scarcity.Actors.Core", "Scarcity.Actors.Core.csproj"));

        var packages = project.Descendants("PackageReference").Select(p => (string)p.Attribute("Include")!).ToList();
        var projects = project.Descendants("ProjectReference").Select(p => Path.GetFileNameWithoutExtension((string)p.Attribute("Include")!)).ToList();

        // MathNet.Numerics is a deliberate exception (the learned models' least-squares fits, issue 11), and so is
        // System.IO.Hashing (dotnet/runtime's CRC-32 of the telemetry recording's frames, issue 16).
        Assert.All(packages, p => Assert.True(p.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal) || p is "MathNet.Numerics" or "System.IO.Hashing", p));
        Assert.Equal(["Scarcity.Actors.Contracts"], projects);
    }

    [Fact]
    public void The_core_holds_no_actor()
    {
        var actors = Core.GetTypes().Where(t => t.Name.EndsWith("Actor", StringComparison.Ordinal)).Select(t => t.FullName).ToList();

        Assert.Empty(actors);
    }
}
