using System.Data.Common;

namespace Scarcity.Actors.Configuration;

/// <summary>Connection strings as they may be shown: in logs, status lines and errors.</summary>
public static class ConnectionStrings
{
    // ADO.NET's spellings of a secret, Npgsql's and SQLite's included.
    private static readonly string[] SecretKeys = ["password", "pwd", "passphrase", "sslpassword", "ssl password", "ssl key password"];

    /// <summary>
    /// <paramref name="connectionString"/> with the value of every secret key (<c>Password</c>, <c>Pwd</c>,
    /// <c>SSL Password</c>, ...) replaced by <c>***</c>, e.g. <c>Host=db;Username=drg;Password=***</c>. A string that is not
    /// a valid connection string is not shown at all (it could hold a secret in any form).
    /// </summary>
    public static string Redact(string connectionString)
    {
        var builder = new DbConnectionStringBuilder();
        try
        {
            builder.ConnectionString = connectionString;
        }
        catch (ArgumentException)
        {
            return "(connection string not shown: it does not parse)";
        }
        foreach (var key in builder.Keys.Cast<string>().ToList())
            if (SecretKeys.Contains(key.Trim(), StringComparer.OrdinalIgnoreCase)) builder[key] = "***";
        return builder.ConnectionString;
    }
}
