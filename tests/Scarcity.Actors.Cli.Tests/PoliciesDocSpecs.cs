using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary>docs/policies.md: every json block of the page is a policy file the governor accepts, as written.</summary>
public sealed class PoliciesDocSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("scarcity-policies-doc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string RepositoryRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Scarcity.Actors.sln"))) dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("no Scarcity.Actors.sln above the tests");
        return dir;
    }

    [Fact]
    public async Task Every_json_block_of_docs_policies_md_validates()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "docs", "policies.md"));
        var blocks = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith("```json", StringComparison.Ordinal)) continue;
            var end = Array.FindIndex(lines, i + 1, l => l.StartsWith("```", StringComparison.Ordinal));
            blocks.Add(string.Join('\n', lines[(i + 1)..end]));
            i = end;
        }
        Assert.NotEmpty(blocks);

        foreach (var (block, n) in blocks.Select((b, n) => (b, n)))
        {
            var path = Path.Combine(_dir, $"block{n}.json");
            await File.WriteAllTextAsync(path, block);
            var run = await CliRun.Of("policies", "validate", path);
            Assert.True(run.ExitCode == 0, $"block {n}: {run}");
        }
    }
}
