using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using Akka.Hosting.Logging;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Scarcity.Actors.Hosting;

/// <summary>
/// Akka's logger for a governor node: every log event goes to the host's <see cref="ILoggerFactory"/> under the class
/// that logged it (<c>Scarcity.Actors.Actuation.ActuatorActor</c>, <c>Akka.Remote.EndpointWriter</c>), so that
/// <c>Logging:LogLevel</c> can keep the governor's lines at Information and Akka's at Warning. A remote system going away
/// (a CLI that printed its answer, a client that stopped) is one Information line instead of remoting's warning plus an
/// error with a stack trace.
/// </summary>
public sealed partial class GovernorLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    /// <summary>The category of the one line a remote system's disconnection costs.</summary>
    public const string RemotingCategory = "Scarcity.Actors.Remoting";

    private readonly ILoggerFactory _factory;
    private readonly Dictionary<string, ILogger> _loggers = [];
    private readonly ILogger _remoting;
    private readonly Dictionary<string, long> _lastLogged = new(StringComparer.Ordinal);

    /// <summary>The least time between two lines of one rate-limited kind (a failing join, one unreachable address), in ms.</summary>
    private const long RepeatInterval = 30_000;
    // Akka.Persistence and sharding report a database outage once per entity, shard and attempt, each with a stack trace.
    private readonly Journaling.LogRateLimiter _persistenceErrors = new(PersistenceErrorInterval);

    /// <summary>
    /// Warnings and errors of Akka.Persistence and Akka.Cluster.Sharding are logged once per distinct error (the text with
    /// its bracketed ids and numbers left out, and the cause) per this interval; the next line says how many were left out.
    /// </summary>
    public static readonly TimeSpan PersistenceErrorInterval = TimeSpan.FromSeconds(30);

    /// <summary>Created by Akka from <c>akka.loggers</c>; needs the host's <see cref="LoggerFactorySetup"/>.</summary>
    public GovernorLogger()
    {
        var setup = Context.System.Settings.Setup.Get<LoggerFactorySetup>();
        if (!setup.HasValue) throw new InvalidOperationException($"{nameof(GovernorLogger)} needs a {nameof(LoggerFactorySetup)} in the ActorSystem's setup");
        _factory = setup.Value.LoggerFactory;
        _remoting = _factory.CreateLogger(RemotingCategory);
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Log);
    }

    private void Log(LogEvent e)
    {
        var text = e.Message?.ToString() ?? "";
        if (IsDisassociation(e, text))
        {
            // Remoting reports it twice (the gated association, then the writer's error); the warning carries the address.
            if (e.LogLevel() == AkkaLogLevel.WarningLevel)
                LogDisconnected(_remoting, RemoteAddress(text));
            return;
        }
        // Remoting retries a peer that went away; for a CLI or a client (another actor system than the cluster's) that
        // is the normal end of a session, not a warning.
        if (e.LogLevel() == AkkaLogLevel.WarningLevel && text.StartsWith("Tried to associate with unreachable remote address", StringComparison.Ordinal) &&
            RemoteAddress(text) is var address && !address.Contains($"://{Context.System.Name}@", StringComparison.Ordinal))
        {
            LogUnreachable(_remoting, address);
            return;
        }
        if (e.LogLevel() == AkkaLogLevel.WarningLevel && RewriteJoinNoise(text) is var (joinKey, rewritten))
        {
            if (joinKey is null || Environment.TickCount64 - _lastLogged.GetValueOrDefault(joinKey, long.MinValue / 2) < RepeatInterval) return;
            _lastLogged[joinKey] = Environment.TickCount64;
            text = rewritten;
        }
        var category = CategoryOf(e);
        if (e.LogLevel() >= AkkaLogLevel.WarningLevel &&
            (category.StartsWith("Akka.Persistence", StringComparison.Ordinal) || category.StartsWith("Akka.Cluster.Sharding", StringComparison.Ordinal)))
        {
            var key = $"{category}|{Variable().Replace(text, "#")}|{e.Cause?.GetType().Name}|{(e.Cause is null ? "" : Variable().Replace(e.Cause.Message, "#"))}";
            if (!_persistenceErrors.ShouldLog(key, DateTimeOffset.UtcNow, out var suppressed)) return;
            if (suppressed > 0) text += $" ({suppressed} more like it in the last {PersistenceErrorInterval.TotalSeconds:0} s)";
        }
        if (!_loggers.TryGetValue(category, out var logger))
            _loggers[category] = logger = _factory.CreateLogger(category);
        logger.Log(ToLevel(e.LogLevel()), 0, e.Cause, "{Message}", text);
    }

    // While a node cannot reach its seed nodes, Akka says so in words that mislead (sharding: "Probably, no seed-nodes
    // configured") or repeat every few seconds per address (remoting's gating). Returns the line to log instead and the
    // key it is rate-limited by (one line per key per RepeatInterval), or null when the text is none of these.
    private static (string? Key, string Text)? RewriteJoinNoise(string text)
    {
        if (text.StartsWith("Couldn't join seed nodes after", StringComparison.Ordinal))
            return ("join", "Not a member of the cluster yet: no seed node accepted the join" +
                            (Attempts().Match(text) is { Success: true } a ? $" after [{a.Groups[1].Value}] attempts " : " ") +
                            $"({(SeedList().Match(text) is { Success: true } m ? "seed nodes tried: " + m.Groups[1].Value : text)}); " +
                            "/readyz stays not ready until one does: check that a seed node runs and that it can reach this node's address");
        if (text.Contains("No coordinator found to register", StringComparison.Ordinal))
            return ("coordinator", "No shard coordinator reachable yet: this node is not yet an Up member of the cluster, or the coordinator is moving; " +
                                   "messages for sharded entities are buffered meanwhile");
        if (text.StartsWith("Tried to associate with unreachable remote address", StringComparison.Ordinal))
            return ("unreachable " + RemoteAddress(text), text + $" (repeats of this line are not logged for {RepeatInterval / 1000} s)");
        return null;
    }

    [GeneratedRegex(@"seed-nodes=\[([^\]]*)\]")]
    private static partial Regex SeedList();

    [GeneratedRegex(@"after \[(\d+)\] attempts")]
    private static partial Regex Attempts();

    // A logger made from a string rather than a class (the cluster's "Cluster", remoting's "remoting (akka://...)")
    // is filed under Akka.<its first word>: Akka.Cluster holds the membership events (joined, Up, unreachable, downed).
    private static string CategoryOf(LogEvent e)
    {
        if (e.LogClass.Name != "DummyClassForStringSources") return e.LogClass.FullName ?? e.LogClass.Name;
        var word = new string(e.LogSource.TakeWhile(char.IsLetter).ToArray());
        return word.Length == 0 ? "Akka" : $"Akka.{word}";
    }

    // The gated association (Akka.Remote), the writer's error and its supervisor's (Akka.Actor.OneForOneStrategy).
    private static bool IsDisassociation(LogEvent e, string text) =>
        e.LogLevel() is AkkaLogLevel.WarningLevel or AkkaLogLevel.ErrorLevel &&
        (IsDisassociatedCause(e) ||
         e.LogClass.Namespace?.StartsWith("Akka.Remote", StringComparison.Ordinal) == true && text.Contains("Disassociated", StringComparison.Ordinal));

    // Akka.Remote.EndpointDisassociatedException is internal.
    private static bool IsDisassociatedCause(LogEvent e) => e.Cause?.GetType().Name == "EndpointDisassociatedException";

    // "Association with remote system akka.tcp://x@h:p has failed; ..." -> akka.tcp://x@h:p
    private static string RemoteAddress(string text) =>
        AddressPattern().Match(text) is { Success: true } m ? m.Value : "(unknown address)";

    // What differs between two reports of one error: bracketed ids and paths, numbers.
    [GeneratedRegex(@"\[[^\]]*\]|\d+")]
    private static partial Regex Variable();

    [GeneratedRegex(@"akka(\.tcp)?://[^\s\[\];,]+")]
    private static partial Regex AddressPattern();

    private static LogLevel ToLevel(AkkaLogLevel level) => level switch
    {
        AkkaLogLevel.DebugLevel => LogLevel.Debug,
        AkkaLogLevel.InfoLevel => LogLevel.Information,
        AkkaLogLevel.WarningLevel => LogLevel.Warning,
        _ => LogLevel.Error,
    };

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Remote system {RemoteAddress} is unreachable (a client or CLI that went away)")]
    private static partial void LogUnreachable(ILogger logger, string remoteAddress);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Remote system {RemoteAddress} disconnected")]
    private static partial void LogDisconnected(ILogger logger, string remoteAddress);
}

/// <summary>
/// Akka's logger before its loggers start and after they stop (<c>akka.stdout-logger-class</c>): warnings and errors
/// only, so that a clean shutdown ends with the host's own line, not Akka's "Remoting shut down".
/// </summary>
public sealed class WarningsOnlyStdoutLogger : MinimalLogger
{
    /// <inheritdoc />
    protected override void Log(object message)
    {
        if (message is LogEvent e && e.LogLevel() >= AkkaLogLevel.WarningLevel) Console.WriteLine(e.ToString());
    }
}
