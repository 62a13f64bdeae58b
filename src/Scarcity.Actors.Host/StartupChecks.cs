using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Akka.Actor;
using Microsoft.Data.Sqlite;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Host;

/// <summary>
/// What a node checks before it starts, so that bad start-up input ends in one line naming the problem and a non-zero
/// exit code instead of a stack trace or a node that runs and fails forever: a configuration file that is not JSON
/// (its path, line and position), an address another process listens on (remoting, the operator endpoint) and a SQLite
/// data directory the node cannot write (its path).
/// </summary>
public static partial class StartupChecks
{
    /// <summary>Exit code of a configuration that cannot be read or is invalid.</summary>
    public const int ConfigurationError = 2;

    /// <summary>Exit code of a node that cannot run here: its address is taken, or its data directory is not writable.</summary>
    public const int EnvironmentError = 3;

    /// <summary>
    /// The one line for a configuration file that failed to load, or null when <paramref name="error"/> is not one:
    /// <c>configuration file '/etc/scarcity/node.json': malformed JSON at line 3, position 7: ...</c>.
    /// </summary>
    public static string? DescribeConfigurationFileError(Exception error)
    {
        if (error is not InvalidDataException { Message: var message } load || !message.StartsWith("Failed to load configuration from file", StringComparison.Ordinal))
            return null;
        var path = QuotedPath().Match(message) is { Success: true } m ? m.Groups[1].Value : "(unknown)";
        var json = FindInner<JsonException>(load);
        if (json is { LineNumber: { } line })
        {
            // System.Text.Json counts both from 0 and appends them to its message; an editor counts from 1.
            var reason = LinePosition().Replace(json.Message, "").Trim();
            return $"configuration file '{path}': malformed JSON at line {line + 1}, position {(json.BytePositionInLine ?? 0) + 1}: {reason}";
        }
        var innermost = load.GetBaseException();
        return $"configuration file '{path}': {(ReferenceEquals(innermost, load) ? message : innermost.Message)}";
    }

    /// <summary>
    /// Null when nothing listens on <paramref name="host"/>:<paramref name="port"/> yet, else the line naming the setting and
    /// the address. The probe binds without address reuse, as the node does, and releases the port at once.
    /// </summary>
    /// <param name="setting">The configuration key of the port (<c>Scarcity:Cluster:Port</c>).</param>
    /// <param name="host">A host name or address; <c>*</c>, <c>0.0.0.0</c> or empty: every interface.</param>
    /// <param name="port">The port; 0 (any free port) is never taken.</param>
    public static string? CheckAddressFree(string setting, string host, int port)
    {
        if (port == 0) return null;
        IPAddress[] addresses;
        try
        {
            addresses = host is "" or "*" or "0.0.0.0" ? [IPAddress.Any]
                : host == "localhost" ? [IPAddress.Loopback]
                : IPAddress.TryParse(host, out var ip) ? [ip] : Dns.GetHostAddresses(host);
        }
        catch (SocketException e)
        {
            return $"{setting}: cannot resolve host '{host}': {e.Message}";
        }
        foreach (var address in addresses.Take(1))
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(address, port));
                socket.Listen(1);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                return $"{setting}: {host}:{port} is already in use (another governor node or program listens there); stop it or choose another port";
            }
            catch (SocketException e)
            {
                return $"{setting}: cannot listen on {host}:{port}: {e.Message}";
            }
        }
        return null;
    }

    /// <summary>
    /// Null when the node keeps no SQLite file or can write where its file lives; else the line naming the directory.
    /// Creates the directory when missing (as the node would) and writes and deletes a probe file in it, because SQLite
    /// needs the directory writable for its journal as well as the file.
    /// </summary>
    public static string? CheckDataDirectory(PersistenceConfig persistence)
    {
        if (!string.Equals(persistence.Provider, "Sqlite", StringComparison.OrdinalIgnoreCase)) return null;
        SqliteConnectionStringBuilder csb;
        try
        {
            csb = new SqliteConnectionStringBuilder(persistence.ConnectionString);
        }
        catch (ArgumentException e)
        {
            return $"{PersistenceConfig.Section}:ConnectionString: {e.Message}";
        }
        if (csb.Mode == SqliteOpenMode.Memory || csb.DataSource is "" or ":memory:") return null;
        var file = Path.GetFullPath(csb.DataSource);
        var directory = Path.GetDirectoryName(file) ?? ".";
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".scarcity-write-check-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            if (File.Exists(file)) using (File.Open(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite)) { }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{PersistenceConfig.Section}:ConnectionString: the data directory '{directory}' is not writable ({e.Message}); " +
                   "give the node a directory it can write (Data Source=<path>/scarcity.db)";
        }
    }

    /// <summary>
    /// The one line for a start-up failure of the actor system that a probe could not foresee (a port taken between the
    /// check and the bind), or null when <paramref name="error"/> is something else.
    /// </summary>
    public static string? DescribeStartFailure(Exception error, DRGConfig config) =>
        FindInner<SocketException>(error) is { SocketErrorCode: SocketError.AddressAlreadyInUse }
            ? $"an address of this node is already in use (remoting {config.Cluster.Hostname}:{config.Cluster.Port}, operator endpoint " +
              $"{config.Metrics.Address}:{config.Metrics.Port}): {error.GetBaseException().Message}"
            : null;

    /// <summary>
    /// The exit code and the one line for a node that Akka stopped on its own with a non-zero exit code, or null when it
    /// stopped as asked (Ctrl+C, SIGTERM, <c>scarcity cluster leave</c>) or was downed (exit code 0). The case a fleet
    /// meets: Akka.Remote (1.5.50 and later) stops a node whose outbound TLS handshake fails (exit code 79), so that a node
    /// with a certificate its peers do not trust ends at once instead of retrying its join for ever.
    /// </summary>
    public static (int Code, string Line)? DescribeSelfShutdown(CoordinatedShutdown.Reason? reason, DRGConfig config)
    {
        if (reason is null || reason.ExitCode == 0) return null;
        var tls = config.Cluster.Tls;
        if (Scarcity.Actors.Contracts.RemotingTls.IsHandshakeFailure(reason))
            return (reason.ExitCode,
                $"stopped: a TLS handshake with a peer failed ({reason}); Akka.Remote stops a node whose own connection fails its " +
                $"TLS handshake. Check {TlsConfig.Section}: this node's certificate ('{tls.CertificatePath}') must be signed by the " +
                $"CA its peers trust, and theirs by its CA ('{tls.CaCertificatePath}'); the peer's log names the certificate it refused " +
                $"(exit code {reason.ExitCode})");
        return (reason.ExitCode, $"stopped by Akka: {reason} (exit code {reason.ExitCode})");
    }

    private static T? FindInner<T>(Exception error) where T : Exception
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is T found) return found;
            if (e is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions)
                    if (FindInner<T>(inner) is { } nested) return nested;
        }
        return null;
    }

    [GeneratedRegex("'([^']*)'")]
    private static partial Regex QuotedPath();

    [GeneratedRegex(@"\s*(Path: \S*)?\s*\|?\s*LineNumber: \d+ \| BytePositionInLine: \d+\.")]
    private static partial Regex LinePosition();
}
