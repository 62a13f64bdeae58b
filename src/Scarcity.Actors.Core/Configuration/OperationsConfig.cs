using System.Security.Cryptography;
using System.Text;

namespace Scarcity.Actors.Configuration;

/// <summary>
/// Who may steer the cluster, and how much one host may register. Cluster-changing commands of the <c>scarcity</c> CLI
/// (<c>cluster leave</c>, <c>down</c>, <c>down-unreachable</c>) need the operator token configured here; with none
/// configured they are refused, with a message saying how to configure one. See docs/operations.md.
/// </summary>
public sealed class OperationsConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Operations";

    /// <summary>The shortest operator token accepted, in characters: a token is a secret, not a password to remember.</summary>
    public const int MinimumTokenLength = 16;

    /// <summary>
    /// The operator token, the same on every node (prefer <see cref="OperatorTokenFile"/> or the environment,
    /// <c>Scarcity__Operations__OperatorToken</c>, to a file under version control). At least 16 characters; empty: none
    /// (cluster-changing commands are refused). <value>empty</value>
    /// </summary>
    public string OperatorToken { get; set; } = "";

    /// <summary>
    /// A file holding the operator token (its first line; e.g. a Kubernetes secret mounted as a file), instead of
    /// <see cref="OperatorToken"/>. Read once at start-up. <value>empty</value>
    /// </summary>
    public string OperatorTokenFile { get; set; } = "";

    /// <summary>
    /// The most subsystems that may be registered on one host (what the fleet view knows of, live or down); a
    /// registration beyond it is rejected naming the limit. <value>64</value>
    /// </summary>
    public int MaxSubsystemsPerHost { get; set; } = 64;

    /// <summary>The configured token (from <see cref="OperatorToken"/> or the first line of <see cref="OperatorTokenFile"/>), or null when there is none.</summary>
    /// <exception cref="IOException">The token file cannot be read (validation reports it first).</exception>
    public string? ResolveToken()
    {
        if (OperatorToken.Length > 0) return OperatorToken;
        if (OperatorTokenFile.Length == 0) return null;
        var line = File.ReadLines(OperatorTokenFile).FirstOrDefault()?.Trim();
        return string.IsNullOrEmpty(line) ? null : line;
    }

    /// <summary>
    /// True when <paramref name="given"/> is the configured token, compared in constant time (hashes of both, so neither
    /// the content nor the length leaks through timing); false when no token is configured.
    /// </summary>
    public static bool Matches(string? configured, string? given)
    {
        if (string.IsNullOrEmpty(configured) || given is null) return false;
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(configured)), SHA256.HashData(Encoding.UTF8.GetBytes(given)));
    }

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (OperatorToken.Length > 0 && OperatorTokenFile.Length > 0)
            yield return $"{section}:OperatorToken and {section}:OperatorTokenFile are both set; give one";
        if (OperatorToken.Length is > 0 and < MinimumTokenLength)
            yield return $"{section}:OperatorToken must be at least {MinimumTokenLength} characters, was {OperatorToken.Length}";
        if (OperatorToken.Any(char.IsWhiteSpace))
            yield return $"{section}:OperatorToken must not contain white space";
        if (OperatorTokenFile.Length > 0)
        {
            string? problem = null;
            try
            {
                var token = File.ReadLines(OperatorTokenFile).FirstOrDefault()?.Trim() ?? "";
                if (token.Length < MinimumTokenLength)
                    problem = $"{section}:OperatorTokenFile '{OperatorTokenFile}' must hold a token of at least {MinimumTokenLength} characters on its first line, had {token.Length}";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"{section}:OperatorTokenFile '{OperatorTokenFile}' cannot be read: {e.Message}";
            }
            if (problem is not null) yield return problem;
        }
        if (MaxSubsystemsPerHost is < 1 or > 100_000)
            yield return $"{section}:MaxSubsystemsPerHost must be between 1 and 100000, was {MaxSubsystemsPerHost}";
    }
}
