using System.Diagnostics;

namespace Scarcity.Actors.Testing;

/// <summary>
/// A test CA and certificates in a temporary folder, made by <c>scripts/make-test-certs.sh</c> (the script operators use):
/// <c>ca.pem</c>, <c>node1.pfx</c>, <c>node2.pfx</c>, <c>client.pfx</c>, <c>cli.pfx</c> (and their .pem), and
/// <c>rogue.pfx</c> / <c>rogue-ca.pem</c> from another CA. Every .pfx has the password <see cref="Password"/>.
/// Use as an xunit class fixture; the folder is deleted on dispose.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    /// <summary>The password of every .pfx.</summary>
    public const string Password = "scarcity-test";

    /// <summary>The folder holding the files.</summary>
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("scarcity-tls-").FullName;

    /// <summary>Runs the script; fails with its output when it fails (openssl missing, say).</summary>
    public TestCertificates()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Scarcity.Actors.sln"))) root = root.Parent;
        if (root is null) throw new InvalidOperationException($"no Scarcity.Actors.sln above {AppContext.BaseDirectory}");
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(root.FullName, "scripts", "make-test-certs.sh"));
        psi.ArgumentList.Add(Directory);
        psi.Environment["SCARCITY_TLS_PASSWORD"] = Password;
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd() + stderr.Result;
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"scripts/make-test-certs.sh failed ({process.ExitCode}): {output}");
    }

    /// <summary>The path of the file <paramref name="name"/> (<c>ca.pem</c>, <c>node1.pfx</c>...).</summary>
    public string this[string name] => Path.Combine(Directory, name);

    /// <inheritdoc />
    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
