using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;


namespace Scarcity.Actors.Cli;

/// <summary>
/// Offline check of a policy file: a JSON file with a <c>Scarcity</c> section (as appsettings.json) or just the Policy
/// section (<c>{ "Cooldown": "00:00:05", "Policies": { "*": [ ... ] } }</c>). Every problem is named with its key, exactly as
/// the governor would refuse it at start-up.
/// </summary>
public static class PolicyFile
{
    /// <summary>Every problem of <paramref name="path"/>; empty when the governor would accept it.</summary>
    public static IReadOnlyList<string> Validate(string path)
    {
        if (!File.Exists(path)) throw new CliException($"no such file: {path}");
        IConfigurationRoot file;
        try
        {
            using var stream = File.OpenRead(path);
            file = new ConfigurationBuilder().AddJsonStream(stream).Build();
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidDataException)
        {
            return [$"{path}: not valid JSON: {(e.InnerException ?? e).Message}"];
        }

        var configuration = file.GetSection(DRGConfig.Section).Exists()
            ? file
            : new ConfigurationBuilder().AddInMemoryCollection(file.AsEnumerable(makePathsRelative: true)
                .Where(kv => kv.Value is not null)
                .Select(kv => new KeyValuePair<string, string?>($"{DRGConfig.Section}:Policy:{kv.Key}", kv.Value))).Build();
        try
        {
            DRGConfig.Load(configuration);
            return [];
        }
        catch (DRGConfigException e)
        {
            return e.Errors;
        }
    }
}
