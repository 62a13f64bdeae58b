using Akka.Actor;
using Scarcity.Actors.Journaling;

namespace Scarcity.Actors.Profiling;

/// <summary>
/// The node's budget for the profilers' per-host staleness lines: at most <see cref="LinesPerWindow"/> "no sample"
/// warnings and as many "fresh again" lines per <see cref="Window"/> on a node, the rest counted and said in the next
/// line. When a node, its network or the fleet's sensors stall, hundreds of hosts turn stale within a second; a line for
/// each (95,866 in one cold start of 2,000 simulated hosts) was itself load on a saturated node and buried everything
/// else in the log. Every host's staleness is still in <c>scarcity_host_stale</c>, on <c>drg.node.stale</c> and in the
/// fleet view.
/// </summary>
public sealed class HostStaleLog : IExtension
{
    /// <summary>Lines of each kind per window and node.</summary>
    public const int LinesPerWindow = 20;

    /// <summary>The window: 10 s.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    /// <summary>The budget of "no sample" warnings.</summary>
    public LogBudget Stale { get; } = new(LinesPerWindow, Window);

    /// <summary>The budget of "fresh again" lines.</summary>
    public LogBudget Fresh { get; } = new(LinesPerWindow, Window);

    /// <summary>The node's budgets.</summary>
    public static HostStaleLog Get(ActorSystem system) => system.WithExtension<HostStaleLog, HostStaleLogProvider>();

    /// <summary>What a logged line adds about the lines left out: <paramref name="what"/> names the event ("turned stale").</summary>
    public static string Note(LogBudget.Verdict verdict, string what)
    {
        var note = "";
        if (verdict.LeftOutBefore > 0)
            note += $" ({verdict.LeftOutBefore} more hosts {what} on this node since the last such line, not logged one by one)";
        if (verdict.LastOfWindow)
            note += $" (the {LinesPerWindow}th such line on this node within {Window.TotalSeconds:0} s: more hosts that {what} are counted, not logged, until the window ends; scarcity_host_stale has every host)";
        return note;
    }
}

/// <summary>Creates <see cref="HostStaleLog"/>.</summary>
public sealed class HostStaleLogProvider : ExtensionIdProvider<HostStaleLog>
{
    /// <inheritdoc />
    public override HostStaleLog CreateExtension(ExtendedActorSystem system) => new();
}
