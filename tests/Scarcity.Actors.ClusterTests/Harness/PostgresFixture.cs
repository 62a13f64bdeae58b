using System.Diagnostics;

namespace Scarcity.Actors.ClusterTests.Harness;

/// <summary>
/// The throwaway PostgreSQL of <c>scripts/postgres.sh</c> (started when it is not running; installed from Debian when
/// missing) and a fresh database for this test run, dropped at the end. When PostgreSQL cannot be had, every spec that
/// asks for <see cref="ConnectionString"/> fails with the script's message instead of hanging.
/// </summary>
public sealed class PostgresFixture : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(10); // a first start may apt-get install

    private readonly string? _connectionString;
    private readonly string? _error;

    /// <summary>The database made for this run, e.g. <c>scarcity_ct_1a2b3c4d</c>.</summary>
    public string Database { get; } = "scarcity_ct_" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Starts the server and creates <see cref="Database"/>.</summary>
    public PostgresFixture()
    {
        // scripts/test.sh already tried (and, e.g. without apt, failed): do not try and wait again.
        var unavailable = Environment.GetEnvironmentVariable("SCARCITY_PG_UNAVAILABLE");
        if (!string.IsNullOrEmpty(unavailable))
        {
            _error = "scripts/postgres.sh start failed in scripts/test.sh: " + unavailable;
            return;
        }
        var started = Run(StartTimeout, "start");
        if (started.ExitCode != 0)
        {
            _error = $"scripts/postgres.sh start failed (exit {started.ExitCode}): {started.Output.Trim()}";
            return;
        }
        var created = Run(TimeSpan.FromMinutes(1), "createdb", Database);
        if (created.ExitCode != 0)
        {
            _error = $"scripts/postgres.sh createdb {Database} failed (exit {created.ExitCode}): {created.Output.Trim()}";
            return;
        }
        _connectionString = created.Output.Trim().Split('\n').Last().Trim();
    }

    /// <summary>The Npgsql connection string of <see cref="Database"/>; throws with the reason when PostgreSQL is unavailable.</summary>
    public string ConnectionString =>
        _connectionString ?? throw new InvalidOperationException("PostgreSQL is not available for the cluster specs: " + _error);

    /// <summary>Runs a query on <see cref="Database"/> as the superuser; its rows, one a line, columns separated by '|'.</summary>
    public string Query(string sql)
    {
        _ = ConnectionString;
        var (exitCode, output) = Run(TimeSpan.FromMinutes(1), "psql", "-d", Database, "-c", sql);
        return exitCode == 0 ? output.Trim() : throw new InvalidOperationException($"psql failed (exit {exitCode}): {output}");
    }

    /// <summary>Drops <see cref="Database"/>; the server keeps running (scripts/test.sh stops it).</summary>
    public void Dispose()
    {
        if (_connectionString is not null) Run(TimeSpan.FromMinutes(1), "dropdb", Database);
    }

    /// <summary>Runs <c>scripts/postgres.sh</c> with <paramref name="args"/>; stdout and stderr together.</summary>
    public static (int ExitCode, string Output) Run(TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add(RepoPaths.Script("postgres.sh"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start bash");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (124, $"timed out after {timeout.TotalSeconds:0} s");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
