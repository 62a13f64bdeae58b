using System.Collections.Immutable;

namespace Scarcity.Actors.Contracts;

// What the governor's sharded entities persist (snapshots and events). They live here, beside the wire messages, so
// that ScarcitySerializer knows every manifest it will ever read from a journal at compile time.

/// <summary>
/// Everything a Kalman level/trend filter knows, so that it can be snapshotted and restored elsewhere (a failover keeps
/// the level and trend instead of re-learning them).
/// </summary>
/// <param name="Level">Estimated level, in the series' unit.</param>
/// <param name="Trend">Estimated trend, units per second.</param>
/// <param name="P00">Variance of the level.</param>
/// <param name="P01">Covariance of level and trend.</param>
/// <param name="P11">Variance of the trend.</param>
/// <param name="R">Current estimate of the measurement-noise variance.</param>
/// <param name="LastAt">Time of the last reading.</param>
/// <param name="Count">Readings folded in so far; 0 means the filter is empty.</param>
public readonly record struct KalmanState(
    double Level, double Trend, double P00, double P01, double P11, double R, DateTimeOffset LastAt, long Count)
{
    /// <summary>Problems that make the state unusable (non-finite values, negative variances); empty when it is sound.</summary>
    public IEnumerable<string> Validate()
    {
        if (Count < 0) yield return $"Count must not be negative, was {Count}";
        if (Count == 0) yield break;
        if (!double.IsFinite(Level) || !double.IsFinite(Trend) || !double.IsFinite(P01))
            yield return "Level, Trend and P01 must be finite";
        if (!(P00 >= 0 && double.IsFinite(P00)) || !(P11 >= 0 && double.IsFinite(P11)))
            yield return "P00 and P11 must be finite and not negative";
        if (!(R > 0 && double.IsFinite(R))) yield return $"R must be positive and finite, was {R}";
    }
}

/// <summary>What one profiled series knows, for a snapshot.</summary>
/// <param name="Raw">The last reading.</param>
/// <param name="Ema">The moving average.</param>
/// <param name="Kalman">The Kalman filter's state (its <see cref="KalmanState.LastAt"/> is the time of the last reading).</param>
public readonly record struct SeriesState(double Raw, double Ema, KalmanState Kalman);

/// <summary>Snapshot of a host's profiler entity: every series' EMA and Kalman state and the subsystems on the host.</summary>
/// <remarks>Manifest <c>profiler-snapshot.v1</c>; snapshots written before <paramref name="Holders"/> existed read with it null.</remarks>
/// <param name="Series">State per series.</param>
/// <param name="Subsystems">Subsystems attached to the host.</param>
/// <param name="RejectedValues">Readings rejected so far.</param>
/// <param name="Holders">The path of the actor holding each attached subsystem that has a known holder (see <see cref="AttachSubsystem.Holder"/>).</param>
public sealed record ProfilerSnapshot(
    ImmutableDictionary<string, SeriesState> Series, ImmutableArray<string> Subsystems, long RejectedValues,
    ImmutableDictionary<string, string>? Holders = null)
    : IScarcityMessage;

/// <summary>
/// A <see cref="Decision"/> as the actuator entity journals it: written under the JSON manifest <c>decision.v1</c>, the
/// form every release reads, while the <see cref="Decision"/> itself travels in its binary form (<c>decision.b1</c>).
/// A <c>decision.v1</c> row reads back as a <see cref="Decision"/> (recovery, the CLI's <c>decisions</c>); a journal that
/// keeps objects instead of bytes (the in-memory one of the specs) hands this record back.
/// </summary>
/// <param name="Decision">The decision journaled.</param>
public sealed record PersistedDecision(Decision Decision) : IScarcityMessage;

/// <summary>Snapshot of a subsystem's actuator entity: its levels and sequence. Decisions after it are replayed from the journal.</summary>
/// <remarks>Manifest <c>actuator-snapshot.v1</c>.</remarks>
/// <param name="Sequence">Newest sequence issued.</param>
/// <param name="Levels">Level per action.</param>
/// <param name="LastChanges">When each action's level last changed.</param>
/// <param name="Registration">
/// The registration in force when the snapshot was taken (null: none, or a snapshot written before this field existed),
/// so that an actuator recovering from a snapshot still knows whom it governs: the registration event itself is older
/// than the snapshot and is not replayed.
/// </param>
/// <param name="Model">
/// The learned <c>reduce_batch</c> model and what it knows of crashes (null: none, or a snapshot written before this field
/// existed), so that it survives a restart or a failover.
/// </param>
/// <param name="BudgetCaps">The fleet budgets' caps in force (null: none, or a snapshot written before this field existed).</param>
/// <param name="DryLevels">The levels of the subsystem's dry-run policy per action (null: none, or a snapshot written before this field existed).</param>
public sealed record ActuatorSnapshot(long Sequence, ImmutableDictionary<string, double> Levels, ImmutableDictionary<string, DateTimeOffset> LastChanges,
    RegisterSubsystem? Registration = null, LearnedModelState? Model = null, ImmutableArray<ApplyBudgetCap>? BudgetCaps = null,
    ImmutableDictionary<string, double>? DryLevels = null)
    : IScarcityMessage;

/// <summary>
/// A learned model's state as the actuator entity persists it: the readings it fits (<c>vram_util</c> against
/// <c>level × context_k</c>), oldest first, and the hard limits crashes taught it.
/// </summary>
/// <param name="Action">The action it sets (<c>reduce_batch</c>).</param>
/// <param name="X">Each reading's <c>level × context_k</c>.</param>
/// <param name="Y">Each reading's value (<c>vram_util</c>, a fraction).</param>
/// <param name="Distrusted">How often its predictions were contradicted.</param>
/// <param name="JumpHeadroom">The largest sudden rise of <c>context_k</c> that crashed the subsystem, k tokens, planned for ever after.</param>
/// <param name="CrashX">The smallest <c>level × context_k</c> it crashed at; null: never.</param>
/// <param name="CapX">The hard limit on <c>level × context_k</c> while the model is not confident after a crash; null: none.</param>
public sealed record LearnedModelState(string Action, ImmutableArray<double> X, ImmutableArray<double> Y, int Distrusted, double JumpHeadroom,
    double? CrashX, double? CapX);

/// <summary>
/// Tells a host's profiler entity that a subsystem runs there, so its profiles reach that subsystem's actuator, and which
/// actor holds the subsystem, so only that actor's <see cref="ReportMetrics"/> are profiled (persisted by the profiler).
/// </summary>
/// <remarks>Manifest <c>attach-subsystem.v1</c>; events written before <paramref name="Holder"/> existed read with it null.</remarks>
/// <param name="Host">The host.</param>
/// <param name="Subsystem">The subsystem.</param>
/// <param name="Holder">
/// The full path (address included, uid left out) of the actor whose registration the actuator accepted; null when
/// not known (an event of an older governor), and then no report of the subsystem counts until an attach names one.
/// </param>
public sealed record AttachSubsystem(string Host, string Subsystem, string? Holder = null) : IScarcityMessage, IWithHost;

/// <summary>Tells a host's profiler entity that a subsystem no longer runs there (persisted by the profiler).</summary>
/// <param name="Host">The host.</param>
/// <param name="Subsystem">The subsystem.</param>
public sealed record DetachSubsystem(string Host, string Subsystem) : IScarcityMessage, IWithHost;
