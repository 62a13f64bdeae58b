namespace Scarcity.Actors.Cli;

/// <summary>A failure the operator must know about: printed on stderr (with <c>--json</c>: an error object on stdout), exit code 1.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>A command line that cannot be run as given: printed on stderr (with <c>--json</c>: an error object on stdout), exit code 2.</summary>
public sealed class CliUsageException(string message) : Exception(message);

/// <summary>The exit codes of <c>scarcity</c>.</summary>
public static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Ok = 0;
    /// <summary>The governor could not be reached, refused, or answered an error; a policy file is invalid.</summary>
    public const int Error = 1;
    /// <summary>The command line is wrong (unknown command or option, missing argument, bad value, a file that cannot be read).</summary>
    public const int Usage = 2;
}
