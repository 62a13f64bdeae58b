using Akka.Actor;
using Scarcity.Actors.Journaling;

namespace Scarcity.Actors.Actuation;

/// <summary>
/// The node's budget for the actuators' "ineffective" warnings: at most <see cref="LinesPerWindow"/> per
/// <see cref="Window"/> on a node, the rest counted and said in the next line. When one cause makes many subsystems'
/// cuts useless at once (a fleet whose VRAM another tenant holds, a metric that stopped moving), every actuator reaches
/// the verdict within seconds, and again after each release; a line each (2,794 warnings in a 5-minute run of 500
/// simulated hosts) buried the rest of the log. Every verdict is still on <c>drg.signal.&lt;action&gt;</c>, in
/// <c>scarcity subsystems</c> and in <c>scarcity_ineffective_verdicts_total</c>.
/// </summary>
public sealed class IneffectiveLog : IExtension
{
    /// <summary>Lines per window and node.</summary>
    public const int LinesPerWindow = 20;

    /// <summary>The window: 60 s.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(60);

    /// <summary>The budget.</summary>
    public LogBudget Budget { get; } = new(LinesPerWindow, Window);

    /// <summary>The node's budget.</summary>
    public static IneffectiveLog Get(ActorSystem system) => system.WithExtension<IneffectiveLog, IneffectiveLogProvider>();

    /// <summary>What a logged line adds about the lines left out.</summary>
    public static string Note(LogBudget.Verdict verdict)
    {
        var note = "";
        if (verdict.LeftOutBefore > 0)
            note += $" ({verdict.LeftOutBefore} more ineffective verdicts on this node since the last such line, not logged one by one)";
        if (verdict.LastOfWindow)
            note += $" (the {LinesPerWindow}th such line on this node within {Window.TotalSeconds:0} s: more verdicts are counted, not logged, until the window ends; scarcity_ineffective_verdicts_total and drg.signal have every one)";
        return note;
    }
}

/// <summary>Creates <see cref="IneffectiveLog"/>.</summary>
public sealed class IneffectiveLogProvider : ExtensionIdProvider<IneffectiveLog>
{
    /// <inheritdoc />
    public override IneffectiveLog CreateExtension(ExtendedActorSystem system) => new();
}
