namespace Scarcity.Actors.Core.Tests.Sensing.Scrape;

/// <summary>The recorded expositions of tests/expositions, copied beside the specs.</summary>
internal static class Expositions
{
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "Expositions", name);

    public static string Read(string name) => File.ReadAllText(PathOf(name));
}
