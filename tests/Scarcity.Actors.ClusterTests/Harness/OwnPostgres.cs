using System.Diagnostics;

namespace Scarcity.Actors.ClusterTests.Harness;

/// <summary>
/// A PostgreSQL server of one spec's own, on a free port with a temporary data directory (<c>scripts/postgres.sh</c>
/// with <c>SCARCITY_PG_PORT</c> and <c>SCARCITY_PG_DATA</c>), so that the spec can stop and start it without touching
/// the server the other specs and engineers share. <see cref="Dispose"/> stops it and deletes its data.
/// </summary>
public sealed class OwnPostgres : IDisposable
{
    private readonly Dictionary<string, string> _environment;

    /// <summary>Its port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The connection string of its database <c>scarcity</c>.</summary>
    public string ConnectionString { get; }

    /// <summary>Installs (when missing), initialises and starts the server; throws with the script's output when it cannot.</summary>
    public OwnPostgres()
    {
        Port = RepoPaths.FreePort();
        _environment = new()
        {
            ["SCARCITY_PG_PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SCARCITY_PG_DATA"] = Path.Combine(Path.GetTempPath(), $"scarcity-pg-own-{Port}-{Guid.NewGuid():N}"[..40]),
        };
        ConnectionString = Start().Split('\n', StringSplitOptions.RemoveEmptyEntries).Last().Trim();
    }

    /// <summary>Starts the server (again); returns the script's output.</summary>
    public string Start() => Run(TimeSpan.FromMinutes(10), "start");

    /// <summary><c>pg_ctl stop -m fast</c>: every connection is cut, new ones are refused.</summary>
    public void Stop() => Run(TimeSpan.FromMinutes(1), "stop");

    /// <summary>Runs <paramref name="sql"/> on database <c>scarcity</c> as the superuser; rows one a line, columns separated by '|'.</summary>
    public string Query(string sql) => Run(TimeSpan.FromMinutes(1), "psql", "-c", sql).Trim();

    /// <summary>Stops the server at once and deletes its data directory.</summary>
    public void Dispose()
    {
        try { Run(TimeSpan.FromMinutes(1), "reset"); }
        catch (InvalidOperationException) { /* already gone */ }
    }

    private string Run(TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add(RepoPaths.Script("postgres.sh"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (key, value) in _environment) psi.Environment[key] = value;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start bash");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"scripts/postgres.sh {string.Join(' ', args)} timed out after {timeout.TotalSeconds:0} s");
        }
        p.WaitForExit();
        return p.ExitCode == 0
            ? stdout.Result
            : throw new InvalidOperationException($"scripts/postgres.sh {string.Join(' ', args)} failed (exit {p.ExitCode}): {stdout.Result}{stderr.Result}");
    }
}
