using System.Collections.Immutable;
using Akka.Actor;

namespace Scarcity.Actors.Contracts;

/// <summary>Marker of every message and event that crosses the wire or is persisted; all go through <see cref="ScarcitySerializer"/>.</summary>
public interface IScarcityMessage;

/// <summary>A message addressed to one host's entity (its profiler).</summary>
public interface IWithHost
{
    /// <summary>The host the message is about.</summary>
    string Host { get; }
}

/// <summary>A message addressed to one subsystem's entity (its actuator).</summary>
public interface IWithSubsystem
{
    /// <summary>The subsystem the message is about.</summary>
    string Subsystem { get; }
}

/// <summary>One reading of one metric series.</summary>
/// <param name="Metric">Series name, possibly labelled (<c>vram_util{gpu="0"}</c>).</param>
/// <param name="Value">The reading, in the metric's unit.</param>
public readonly record struct MetricValue(string Metric, double Value);

/// <summary>One sample of a host: every series a sensor read at one instant.</summary>
/// <param name="Host">The host the readings come from.</param>
/// <param name="At">When the readings were taken.</param>
/// <param name="Values">The readings.</param>
/// <param name="Stale">Series the source could not read this time (e.g. a failing GPU); they turn stale, never zero.</param>
public sealed record Sample(string Host, DateTimeOffset At, ImmutableArray<MetricValue> Values, ImmutableArray<string> Stale)
    : IScarcityMessage, IWithHost;

/// <summary>Why a <see cref="Throttle"/> was issued.</summary>
/// <param name="Rule">The rule that decided (its display form, e.g. <c>vram_util forecast &gt; 0.85 -&gt; reduce_batch x0.5</c>), or <c>recovery</c>.</param>
/// <param name="Metric">The series the rule watched.</param>
/// <param name="Signal">Which signal was compared: raw, ema, estimate or forecast.</param>
/// <param name="Value">The signal's value when the decision was taken.</param>
/// <param name="Forecast">The metric's forecast at the horizon when the decision was taken.</param>
/// <param name="Threshold">The rule's threshold.</param>
public sealed record ThrottleReason(string Rule, string Metric, string Signal, double Value, double Forecast, double Threshold)
{
    /// <summary>A one-line human form of the reason.</summary>
    public override string ToString() => Signal == "forecast"
        ? $"{Rule} ({Metric} forecast={Forecast:0.###}, threshold={Threshold:0.###})"
        : $"{Rule} ({Metric} {Signal}={Value:0.###}, forecast={Forecast:0.###}, threshold={Threshold:0.###})";
}

/// <summary>
/// Tells a subsystem the absolute level to apply for one action. Levels are idempotent: applying the same
/// Throttle twice is harmless, and a subsystem ignores any Throttle whose sequence is not above the last it applied.
/// </summary>
/// <param name="Subsystem">The subsystem governed.</param>
/// <param name="Action">The action, e.g. <c>reduce_batch</c>.</param>
/// <param name="Level">The absolute target level in (0, 1], 1 meaning unrestricted (above 1 for <c>scale_up</c>).</param>
/// <param name="Sequence">Increases by one per Throttle for this subsystem, across actions.</param>
/// <param name="Reason">Why.</param>
/// <param name="Host">The host whose metrics led to the decision.</param>
/// <param name="IssuedAt">When the governor decided.</param>
public sealed record Throttle(string Subsystem, string Action, double Level, long Sequence, ThrottleReason Reason, string Host, DateTimeOffset IssuedAt)
    : IScarcityMessage, IWithSubsystem;

/// <summary>A subsystem's answer to a <see cref="Throttle"/>.</summary>
/// <param name="Subsystem">The subsystem answering.</param>
/// <param name="Sequence">The sequence of the Throttle acknowledged.</param>
/// <param name="Applied">True when the level was applied; false when it was ignored (stale, duplicate, unknown action, handler failed).</param>
/// <param name="Detail">Why, in words.</param>
/// <param name="Host">The host of the Throttle acknowledged (<see cref="Throttle.Host"/>), so an ack sent through the front door
/// finds the actuator without a directory look-up; null (older senders): the front door looks the host up.</param>
public sealed record ThrottleAck(string Subsystem, long Sequence, bool Applied, string Detail, string? Host = null) : IScarcityMessage, IWithSubsystem;

/// <summary>Registers a subsystem for governing; answered by <see cref="SubsystemRegistered"/> or <see cref="RegistrationRejected"/>.</summary>
/// <param name="Name">Unique subsystem name, e.g. <c>inference_engine</c>.</param>
/// <param name="Host">The host it runs on; that host's metrics govern it.</param>
/// <param name="Priority">Higher is more important; shown to operators and used to order actuation.</param>
/// <param name="Actions">The actions it understands; a Throttle for any other is never sent.</param>
/// <param name="Ref">The actor that receives <see cref="Throttle"/> messages.</param>
/// <param name="LatencyObjectiveMs">
/// The subsystem's latency objective in milliseconds (what its <c>latency_ms</c> reports should stay under), or null
/// for the governor's configured default. Absent in registrations of older clients (read as null).
/// </param>
/// <param name="Reports">
/// The metrics the subsystem says it reports about itself (<c>latency_ms</c>, <c>queue_depth</c>, <c>context_k</c>,
/// <c>oom_total</c>...), or null when it does not say (older clients). One that reports <c>context_k</c> is an engine whose
/// memory grows with its requests' context: its first registration gets <c>Scarcity:Policy:LearnedInitialLevel</c> on a
/// learned <c>reduce_batch</c> (a full batch may not fit its first requests).
/// </param>
public sealed record RegisterSubsystem(string Name, string Host, int Priority, ImmutableArray<string> Actions, IActorRef Ref, double? LatencyObjectiveMs = null,
    ImmutableArray<string>? Reports = null)
    : IScarcityMessage, IWithSubsystem
{
    /// <inheritdoc />
    public string Subsystem => Name;
}

/// <summary>Confirms a registration and carries the current levels, which the subsystem applies at once.</summary>
/// <param name="Name">The subsystem.</param>
/// <param name="Levels">Current level per action (actions at level 1 included).</param>
/// <param name="LastSequence">The sequence of the newest Throttle issued so far (0 if none).</param>
public sealed record SubsystemRegistered(string Name, ImmutableDictionary<string, double> Levels, long LastSequence) : IScarcityMessage;

/// <summary>A registration the governor refused, and why.</summary>
/// <param name="Name">The name asked for.</param>
/// <param name="Reason">What is wrong with the registration.</param>
public sealed record RegistrationRejected(string Name, string Reason) : IScarcityMessage;

/// <summary>
/// Application metrics reported by a subsystem (e.g. <c>latency_ms</c>); profiled under its <c>subsystem</c> label, but
/// only when <paramref name="Reporter"/> is the actor that holds the subsystem's registration on that host. Any other
/// report (a rejected duplicate of the name, a process not registered yet, a client too old to name itself) is counted
/// in <see cref="TelemetryPublished.RejectedValues"/> and logged once per reporter, never profiled.
/// </summary>
/// <param name="Subsystem">The reporting subsystem.</param>
/// <param name="Host">The host it runs on.</param>
/// <param name="Values">Metric base name to value.</param>
/// <param name="At">When the values were measured.</param>
/// <param name="Reporter">
/// The actor that registered the subsystem (its <see cref="RegisterSubsystem.Ref"/>). Carried in the message because
/// the sender a governor sees for a report that came through ClusterClient is the receptionist's tunnel, not the
/// subsystem. Null in reports of clients older than this field.
/// </param>
public sealed record ReportMetrics(string Subsystem, string Host, ImmutableDictionary<string, double> Values, DateTimeOffset At, IActorRef? Reporter = null)
    : IScarcityMessage, IWithHost;

/// <summary>Host pressure, from the worst utilisation or its forecast: GREEN &lt; 0.70 &lt;= YELLOW &lt; 0.85 &lt;= ORANGE &lt; 0.95 &lt;= RED.</summary>
public enum PressureLevel
{
    /// <summary>Below 0.70.</summary>
    Green,
    /// <summary>0.70 to 0.85.</summary>
    Yellow,
    /// <summary>0.85 to 0.95.</summary>
    Orange,
    /// <summary>0.95 and above.</summary>
    Red,
}

/// <summary>What the profiler knows of one series.</summary>
/// <param name="Raw">The last reading.</param>
/// <param name="Ema">Exponential moving average.</param>
/// <param name="Estimate">Kalman estimate of the level.</param>
/// <param name="Trend">Kalman estimate of the trend, per second.</param>
/// <param name="Forecast">Forecast at the horizon.</param>
/// <param name="ForecastStdDev">Standard deviation of the forecast.</param>
/// <param name="UpdatedAt">When the last reading was taken.</param>
/// <param name="Stale">True when no fresh reading arrived for three sampling intervals.</param>
public sealed record MetricEstimate(double Raw, double Ema, double Estimate, double Trend, double Forecast, double ForecastStdDev, DateTimeOffset UpdatedAt, bool Stale);

/// <summary>The profile of one host after a sample; published on <see cref="Topics.Telemetry"/>.</summary>
/// <param name="Host">The host.</param>
/// <param name="At">Time of the sample.</param>
/// <param name="Pressure">Host pressure level.</param>
/// <param name="Metrics">Every series known for the host.</param>
public sealed record HostProfile(string Host, DateTimeOffset At, PressureLevel Pressure, ImmutableDictionary<string, MetricEstimate> Metrics)
    : IScarcityMessage, IWithHost;

/// <summary>Published on <see cref="Topics.Telemetry"/> after every sample: a compact summary of a host.</summary>
/// <param name="Profile">The host's profile.</param>
/// <param name="RejectedValues">
/// Readings of this host rejected so far, counted, never profiled: NaN or infinite ones, out-of-order ones, and every
/// value of a <see cref="ReportMetrics"/> from an actor that does not hold the subsystem.
/// </param>
/// <param name="ValuesProfiled">Readings of this host (samples and app metrics) profiled since its profiler started.</param>
/// <param name="SamplesProfiled">Sensor samples of this host profiled since its profiler started (on this node).</param>
public sealed record TelemetryPublished(HostProfile Profile, long RejectedValues, long ValuesProfiled = 0, long SamplesProfiled = 0) : IScarcityMessage;

/// <summary>
/// Published on <see cref="Topics.TelemetryDigest"/> by each governor node once per view interval: the newest
/// <see cref="TelemetryPublished"/> of every host profiled on that node since its previous digest (a large node sends
/// several digests per interval, each within the transport's frame size).
/// </summary>
/// <param name="Node">The address of the node whose profilers produced the entries.</param>
/// <param name="At">When the digest was sent.</param>
/// <param name="Hosts">One entry per host, its newest profile.</param>
public sealed record TelemetryDigest(string Node, DateTimeOffset At, ImmutableArray<TelemetryPublished> Hosts) : IScarcityMessage;

/// <summary>
/// Published on <see cref="Topics.SubsystemDigest"/> by each governor node when its actuators have something to say, at
/// most once per linger (100 ms, or the view interval if shorter: <c>TelemetryDigestActor.EventLinger</c>): the newest
/// <see cref="SubsystemStatus"/> of each subsystem whose state changed since the previous digest and every
/// <see cref="Decision"/> (notices and the decisions an actuator replays from its journal when it starts included) in the
/// order taken. What every node's fleet view and decision log and the budget owner follow, so that a decision costs
/// each other node one share of a batch instead of a message per decision and per status; the per-event topics
/// (<see cref="Topics.Decisions"/>, <see cref="Topics.Subsystems"/>, <see cref="Topics.Signal"/>) still carry each one
/// for whoever subscribes to them. A busy node sends several digests per flush, each within the transport's frame size.
/// </summary>
/// <param name="Node">The address of the node whose actuators produced the entries.</param>
/// <param name="At">When the digest was sent.</param>
/// <param name="Statuses">The newest status of each subsystem that changed, one per subsystem.</param>
/// <param name="Decisions">Decisions and notices, oldest first.</param>
public sealed record SubsystemDigest(string Node, DateTimeOffset At, ImmutableArray<SubsystemStatus> Statuses, ImmutableArray<Decision> Decisions)
    : IScarcityMessage;

/// <summary>A host profile handed to one subsystem's actuator entity by the host's profiler entity (inside the governor).</summary>
/// <param name="Subsystem">The subsystem to evaluate.</param>
/// <param name="Profile">The profile of its host.</param>
public sealed record EvaluateProfile(string Subsystem, HostProfile Profile) : IScarcityMessage, IWithSubsystem;

/// <summary>Published on <see cref="Topics.NodeStale"/> when a host's samples stop (Stale) or resume.</summary>
/// <param name="Host">The host.</param>
/// <param name="Stale">True when it turned stale, false when fresh samples cleared it.</param>
/// <param name="Metrics">The series concerned.</param>
/// <param name="At">When it was noticed.</param>
public sealed record NodeStale(string Host, bool Stale, ImmutableArray<string> Metrics, DateTimeOffset At) : IScarcityMessage;

/// <summary>
/// A level change the governor decided; persisted with its inputs (the decision log is the journal) and published on
/// <see cref="Topics.Signal"/>. A decision the subsystem cannot receive (action not declared) is logged with <paramref name="Sent"/> false.
/// </summary>
/// <param name="Subsystem">The subsystem governed.</param>
/// <param name="Host">The host whose metrics decided.</param>
/// <param name="Action">The action.</param>
/// <param name="PreviousLevel">The level before.</param>
/// <param name="Level">The new level.</param>
/// <param name="Sequence">The Throttle sequence (0 when not sent).</param>
/// <param name="Reason">Why.</param>
/// <param name="At">When.</param>
/// <param name="Inputs">The signals of every metric the subsystem's rules read, at decision time.</param>
/// <param name="Sent">Whether a Throttle was sent.</param>
/// <param name="Detail">Extra words, e.g. why it was not sent.</param>
/// <param name="Dry">
/// True for a dry-run decision: what a policy, subsystem or rule marked dry-run would have done. Journaled and published like
/// any other, never sent; it does not move the live level. Absent (older journals and peers): false.
/// </param>
public sealed record Decision(
    string Subsystem, string Host, string Action, double PreviousLevel, double Level, long Sequence,
    ThrottleReason Reason, DateTimeOffset At, ImmutableDictionary<string, double> Inputs, bool Sent, string Detail, bool Dry = false)
    : IScarcityMessage, IWithSubsystem;

/// <summary>Asks for the newest decisions, newest last; answered by <see cref="RecentDecisions"/>.</summary>
/// <param name="Count">How many at most.</param>
/// <param name="Subsystem">Only this subsystem's, or every subsystem's when null.</param>
public sealed record GetRecentDecisions(int Count, string? Subsystem = null) : IScarcityMessage;

/// <summary>The answer to <see cref="GetRecentDecisions"/>.</summary>
/// <param name="Decisions">Oldest first.</param>
public sealed record RecentDecisions(ImmutableArray<Decision> Decisions) : IScarcityMessage;

/// <summary>Asks for the governor's view; answered by <see cref="GovernorStatus"/>.</summary>
public sealed record GetGovernorStatus : IScarcityMessage
{
    /// <summary>The one instance.</summary>
    public static readonly GetGovernorStatus Instance = new();
}

/// <summary>What the governor knows of one subsystem.</summary>
/// <param name="Name">The subsystem.</param>
/// <param name="Host">Its host.</param>
/// <param name="Priority">Its priority.</param>
/// <param name="Levels">Current level per action.</param>
/// <param name="LastSequence">Newest Throttle sequence issued.</param>
/// <param name="LastAckedSequence">Newest sequence the subsystem acknowledged.</param>
/// <param name="Reachable">False once it died (DeathWatch) or stays silent.</param>
/// <param name="Skipped">Rules not evaluated at the last profile, and why (missing or stale metric).</param>
/// <param name="Unjournaled">Decisions and registrations taken but not yet written to the journal (0 while the database takes writes).</param>
/// <param name="JournalError">Why journal writes fail (the database's error, with since when); null while they succeed.</param>
/// <param name="JournalOverflowed">Events dropped unwritten because the actuator's write buffer was full, since it started.</param>
/// <param name="Model">The learned model that sets a level (null: none learned).</param>
/// <param name="Ineffective">Actions held because cutting them had no effect on the metric that triggered them, each with why (null or empty: none).</param>
/// <param name="DryLevels">The levels of its dry-run policy, per action, apart from the live ones (null: no dry-run rule governs it).</param>
/// <param name="PolicyVersion">The live policy version it runs (0: the configuration file's, before the store answered).</param>
/// <param name="DryPolicyVersion">The policy version its dry-run levels come from (null: none).</param>
public sealed record SubsystemStatus(
    string Name, string Host, int Priority, ImmutableDictionary<string, double> Levels, long LastSequence,
    long LastAckedSequence, bool Reachable, ImmutableArray<string> Skipped,
    int Unjournaled = 0, string? JournalError = null, long JournalOverflowed = 0, LearnedModelStatus? Model = null,
    ImmutableDictionary<string, string>? Ineffective = null, ImmutableDictionary<string, double>? DryLevels = null, int PolicyVersion = 0,
    int? DryPolicyVersion = null) : IScarcityMessage;

/// <summary>A learned model as <c>scarcity subsystems</c> shows it: <c>vram_util = a + b × level × context_k</c>.</summary>
/// <param name="Action">The action it sets.</param>
/// <param name="Intercept"><c>a</c> (the weights' share of VRAM).</param>
/// <param name="Slope"><c>b</c>, VRAM fraction per unit of <c>level × context_k</c>.</param>
/// <param name="Residual">Standard deviation of its readings around the line.</param>
/// <param name="Confidence">In [0, 1]; it decides from 0.8 (with enough readings, spread and small residuals).</param>
/// <param name="Samples">Readings in the fit.</param>
/// <param name="Confident">Whether it decides (else the rules do).</param>
/// <param name="Distrusted">How often its predictions were contradicted.</param>
/// <param name="ContextK">The last <c>context_k</c> reported, k tokens.</param>
/// <param name="Prediction">What it predicts at the current level and context.</param>
/// <param name="Headroom">The rise of <c>context_k</c> it plans for, k tokens.</param>
public sealed record LearnedModelStatus(string Action, double Intercept, double Slope, double Residual, double Confidence, int Samples,
    bool Confident, int Distrusted, double ContextK, double Prediction, double Headroom);

/// <summary>The governor's view: every host's profile and every subsystem's state.</summary>
/// <param name="Hosts">Profiles by host.</param>
/// <param name="Subsystems">Subsystems by name.</param>
/// <param name="RejectedSamples">Readings rejected so far, every host's <see cref="TelemetryPublished.RejectedValues"/> together.</param>
public sealed record GovernorStatus(
    ImmutableDictionary<string, HostProfile> Hosts, ImmutableDictionary<string, SubsystemStatus> Subsystems, long RejectedSamples)
    : IScarcityMessage;

/// <summary>Asks one subsystem's actuator for its <see cref="SubsystemStatus"/>.</summary>
/// <param name="Subsystem">The subsystem.</param>
/// <param name="Host">The host it is registered on, where the asker knows it; null: the front door looks it up.</param>
public sealed record GetSubsystemStatus(string Subsystem, string? Host = null) : IScarcityMessage, IWithSubsystem;
