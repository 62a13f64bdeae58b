using System.Collections.Immutable;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Policies;

/// <summary>A level change decided by <see cref="SubsystemPolicy.Evaluate"/>.</summary>
/// <param name="Action">The action.</param>
/// <param name="PreviousLevel">Level before.</param>
/// <param name="Level">Level after.</param>
/// <param name="Reason">The rule (or recovery) and the signal values behind it.</param>
/// <param name="Inputs">The signal of every metric the subsystem's rules read.</param>
public sealed record LevelChange(string Action, double PreviousLevel, double Level, ThrottleReason Reason, ImmutableDictionary<string, double> Inputs);

/// <summary>Where one action stands: the state a restart must restore.</summary>
/// <param name="Level">Current level.</param>
/// <param name="LastChangeAt">When the level last changed (null: never).</param>
public readonly record struct ActionState(double Level, DateTimeOffset? LastChangeAt);

/// <summary>
/// The rules and levels of one subsystem: hysteresis, cooldown, multiplicative decrease, additive recovery to 1, missing
/// or stale metrics skipped. Pure and deterministic: time comes in as an argument. Not thread-safe (one actor owns it).
/// </summary>
/// <remarks>
/// A rule whose metric is stale, or missing after it was reported, is skipped and holds its action's level: the
/// pressure it watched may still be there. A rule whose metric has never been reported on the host (a kernel without
/// PSI, a MIG GPU without utilisation) is skipped too but counts as released, so the action recovers once its other
/// rules release. <see cref="Skipped"/> tells the two apart.
/// </remarks>
public sealed class SubsystemPolicy
{
    private const double Epsilon = 1e-9;

    private readonly PolicyConfig _config;
    private readonly RuleState[] _rules;
    private readonly ActionGroup[] _actions;
    private readonly List<string> _skipped = [];

    /// <summary>Creates the policy of <paramref name="subsystem"/> from its rules; every action starts at level 1.</summary>
    /// <param name="subsystem">The subsystem governed.</param>
    /// <param name="rules">Its rules.</param>
    /// <param name="config">How levels move.</param>
    /// <param name="latencyObjectiveMs">Its latency objective, ms, as it registered it; null: <see cref="PolicyConfig.LatencyObjective"/>.</param>
    public SubsystemPolicy(string subsystem, IReadOnlyList<PolicyRule> rules, PolicyConfig config, double? latencyObjectiveMs = null)
    {
        Subsystem = subsystem;
        _config = config;
        _rules = rules.Select(r => new RuleState(r, subsystem)).ToArray();
        _actions = _rules.GroupBy(r => r.Rule.Action, StringComparer.Ordinal)
            .Select(g => new ActionGroup(g.Key, g.OrderByDescending(r => r.Rule.Priority).ToArray()))
            .ToArray();
        if (config.LearnBatchResponse)
            foreach (var group in _actions.Where(a => a.Action == ActionNames.ReduceBatch))
                if (Array.Find(group.Rules, r => MetricNames.BaseName(r.Rule.Metric) == MetricNames.VramUtil && r.Rule.Direction == RuleDirection.Above) is { } vram)
                    group.Learning = new BatchLearning(vram, subsystem) { Load = new BatchLoadSizing(config.MinLevel) };
        if (config.LatencyAdmission && Array.Find(_actions, a => a.Action == ActionNames.Throttle) is { } throttle)
        {
            throttle.Admission = new LatencyAdmission(ObjectiveOrDefault(latencyObjectiveMs), config.LatencySetpoint, config.MinLevel);
            _latencySeries = MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, subsystem);
            _queueSeries = MetricNames.Labelled(MetricNames.QueueDepth, MetricNames.SubsystemLabel, subsystem);
        }
    }

    private readonly string? _latencySeries;
    private readonly string? _queueSeries;

    private double ObjectiveOrDefault(double? ms) =>
        ms is { } m && m > 0 && double.IsFinite(m) ? m : _config.LatencyObjective.TotalMilliseconds;

    /// <summary>
    /// What the subsystem's registration says it reports (<see cref="RegisterSubsystem.Reports"/>; null: it does not say).
    /// Only one that reports <c>context_k</c> gets <see cref="PolicyConfig.LearnedInitialLevel"/> at its first registration:
    /// a subsystem that says nothing of its context is not assumed to be an engine whose first batch may not fit.
    /// </summary>
    public void SetDeclaredReports(IReadOnlyCollection<string>? reports) =>
        _reportsContext = reports?.Contains(MetricNames.ContextK) == true;

    private bool _reportsContext;

    /// <summary>Sets the latency objective the subsystem registered (null: the configured default).</summary>
    public void SetLatencyObjective(double? latencyObjectiveMs)
    {
        if (Array.Find(_actions, a => a.Admission is not null)?.Admission is { } admission)
            admission.ObjectiveMs = ObjectiveOrDefault(latencyObjectiveMs);
    }

    /// <summary>
    /// The subsystem registered (started, or came back after a restart) at <paramref name="now"/>. A registration that
    /// follows another within a minute with no report of its own in between is a process that died before it could report
    /// (an OOM in its first step): the learned <c>reduce_batch</c> takes it as a crash and keeps a hard limit at half its state,
    /// applied at once, so that the levels the registration reply carries (<see cref="Levels"/> after this call) are the
    /// ones that fit and the process's first step back does not run out of memory again from the same cause.
    /// </summary>
    /// <returns>The level changes the registration decided (empty when none): the cut to the hard limit, to journal and announce.</returns>
    public IReadOnlyList<LevelChange> Registered(DateTimeOffset now)
    {
        if (Array.Find(_actions, a => a.Learning is not null) is not { Learning: { } l } group) return Array.Empty<LevelChange>();
        // The first registration, nothing reported yet, no level restored: the prior level, since nothing says what fits.
        if (_reportsContext && l.Registrations == 0 && !l.ContextSeen && group.LastChangeAt is null && _config.LearnedInitialLevel < group.Level)
        {
            l.Registrations++;
            l.RegisteredAt = now;
            l.LevelAtRegistration = _config.LearnedInitialLevel;
            l.LoadCutFrom = group.Level;
            l.Load.Start(_config.LearnedInitialLevel);
            return [Apply(group, _config.LearnedInitialLevel, new ThrottleReason(
                FormattableString.Invariant($"first registration, nothing reported yet: the prior level {_config.LearnedInitialLevel:0.###} (LearnedInitialLevel) until the load and the model say more"),
                l.ContextSeries, LoadSignal, double.NaN, double.NaN, _config.LearnedInitialLevel), now, ImmutableDictionary<string, MetricEstimate>.Empty)];
        }
        var level = group.Level;
        // Within a minute of the last: a restart loop, not a subsystem that simply reports no context of its own.
        if (l.Registrations > 0 && !l.ReportedSinceRegistration && now - l.RegisteredAt < CrashLoopWindow)
        {
            // It crashed at the level it had when it last registered, or a higher one since.
            l.CrashedSilently = true;
            l.SilentCrashLevel = Math.Max(level, l.LevelAtRegistration);
        }
        l.Registrations++;
        l.RegisteredAt = now;
        l.LevelAtRegistration = level;
        l.ReportedSinceRegistration = false;
        return l.CrashedSilently && SilentCrash(group, l, now, ImmutableDictionary<string, MetricEstimate>.Empty) is { } change
            ? [change]
            : Array.Empty<LevelChange>();
    }

    /// <summary>The latency objective admission keeps to, ms; null when no action is governed by latency.</summary>
    public double? LatencyObjectiveMs => Array.Find(_actions, a => a.Admission is not null)?.Admission?.ObjectiveMs;

    /// <summary>
    /// Actions whose rule was found ineffective (the effect check: cut <see cref="PolicyConfig.IneffectiveAfterCuts"/>
    /// times without its signal improving), each with why; they hold until the rule releases.
    /// </summary>
    public ImmutableDictionary<string, string> Ineffective =>
        _actions.Where(a => a.IneffectiveReason is not null)
            .ToImmutableDictionary(a => a.Action, a => a.IneffectiveReason!, StringComparer.Ordinal);

    /// <summary>
    /// Rises whenever <see cref="Ineffective"/> changes (an action found ineffective, or its rule released), so a caller
    /// that evaluates on every sample builds <see cref="Ineffective"/> only when it moved. 0 for a new policy.
    /// </summary>
    public int IneffectiveVersion { get; private set; }

    /// <summary>The learned <c>reduce_batch</c> model as it stands (null when none is learned), for display.</summary>
    public LearnedModelStatus? Model => Array.Find(_actions, a => a.Learning is not null) is { Learning: { } l } g
        ? new LearnedModelStatus(g.Action, l.Model.Intercept, l.Model.Slope, l.Model.Residual, l.Model.Confidence, l.Model.Count,
            l.Model.Confident, l.Model.Distrusted, l.LastContext, l.Model.Predict(g.Level, l.LastContext), l.Headroom)
        : null;

    /// <summary>The learned state to persist with the actuator entity (null when none is learned).</summary>
    public LearnedModelState? GetLearned()
    {
        if (Array.Find(_actions, a => a.Learning is not null) is not { Learning: { } l } g) return null;
        var state = l.Model.Snapshot();
        return new LearnedModelState(g.Action, [.. state.Samples.Select(s => s.X)], [.. state.Samples.Select(s => s.Y)], state.Distrusted,
            l.JumpHeadroom, double.IsFinite(l.CrashX) ? l.CrashX : null, l.CapX);
    }

    /// <summary>Restores a persisted learned state (after a restart or failover); a state for another action is ignored.</summary>
    public void RestoreLearned(LearnedModelState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (Array.Find(_actions, a => a.Learning is not null && a.Action == state.Action)?.Learning is not { } l) return;
        var samples = state.X.Zip(state.Y, (x, y) => (x, y)).ToList();
        l.Model.Restore(new BatchModelState(samples, 0, 0, 0, 0, state.Distrusted));
        l.JumpHeadroom = state.JumpHeadroom;
        l.CrashX = state.CrashX ?? double.PositiveInfinity;
        l.CapX = state.CapX;
    }

    /// <summary>
    /// This subsystem's policy under new rules and settings (a policy version applied at run time): every action that keeps
    /// a rule keeps its level, its last change and its pacing, and the learned model carries over; the rules themselves start
    /// released and activate again at the next evaluation if their signal is still past the threshold. An action left without
    /// any rule is released at once: <paramref name="released"/> holds its change back to 1 (reason <paramref name="why"/>).
    /// </summary>
    public SubsystemPolicy WithRules(IReadOnlyList<PolicyRule> rules, PolicyConfig config, DateTimeOffset now, string why,
        out IReadOnlyList<LevelChange> released)
    {
        var next = new SubsystemPolicy(Subsystem, rules, config, LatencyObjectiveMs) { _reportsContext = _reportsContext };
        var changes = new List<LevelChange>();
        foreach (var group in _actions)
        {
            if (Array.Find(next._actions, a => a.Action == group.Action) is { } kept)
            {
                kept.Level = group.Level;
                kept.LastChangeAt = group.LastChangeAt;
                kept.LastEscalationAt = group.LastEscalationAt;
                kept.LastChangeRaised = group.LastChangeRaised;
                continue;
            }
            if (Math.Abs(group.Level - 1) < Epsilon) continue;
            changes.Add(new LevelChange(group.Action, group.Level, 1,
                new ThrottleReason(why, "", "policy", double.NaN, double.NaN, double.NaN), ImmutableDictionary<string, double>.Empty));
        }
        if (GetLearned() is { } learned) next.RestoreLearned(learned);
        released = changes;
        return next;
    }

    /// <summary>The subsystem governed.</summary>
    public string Subsystem { get; }

    /// <summary>
    /// Priorities across the subsystems sharing its resource (null: governed alone). When set, a cut that a series of the
    /// host or its GPU triggered (not the subsystem's own series) and every recovery step ask it first; a learned model or
    /// latency admission decide without it. Its resource label (<c>gpu=0</c>) also makes a rule on a base metric read
    /// that GPU's series (<c>vram_util{gpu="0"}</c>) before the host's worst-GPU series.
    /// </summary>
    public PriorityArbitration? Arbitration
    {
        get => _arbitration;
        set
        {
            _arbitration = value;
            var label = value?.Resource?.Split('=', 2);
            foreach (var rule in _rules)
                rule.ResourceSeries = label is [var key, var v] && !rule.Rule.Metric.Contains('{') ? MetricNames.Labelled(rule.Rule.Metric, key, v) : null;
        }
    }

    private PriorityArbitration? _arbitration;

    /// <summary>The actions its rules act on.</summary>
    public IEnumerable<string> Actions => _actions.Select(a => a.Action);

    /// <summary>Current level per action.</summary>
    public ImmutableDictionary<string, double> Levels =>
        _actions.ToImmutableDictionary(a => a.Action, a => a.Level, StringComparer.Ordinal);

    /// <summary>The rules not evaluated at the last <see cref="Evaluate"/>, each with why.</summary>
    public IReadOnlyList<string> Skipped => _skipped;

    /// <summary>Whether a rule is currently active (past its threshold, not yet released).</summary>
    public bool IsActive(PolicyRule rule) => _rules.First(r => r.Rule == rule).Active;

    /// <summary>The state of one action, for persistence.</summary>
    public ActionState GetState(string action) =>
        _actions.FirstOrDefault(a => a.Action == action) is { } g ? new ActionState(g.Level, g.LastChangeAt) : new ActionState(1, null);

    /// <summary>Restores an action's level after a restart (from the decision journal).</summary>
    public void Restore(string action, ActionState state)
    {
        var group = _actions.FirstOrDefault(a => a.Action == action);
        if (group is null) return;
        group.Level = state.Level;
        group.LastChangeAt = state.LastChangeAt;
        group.LastEscalationAt = state.LastChangeAt;
    }

    /// <summary>
    /// Evaluates every rule against <paramref name="metrics"/> at <paramref name="now"/> and returns the level changes,
    /// in action order; empty (and allocation-free) when nothing changes.
    /// </summary>
    public IReadOnlyList<LevelChange> Evaluate(IReadOnlyDictionary<string, MetricEstimate> metrics, DateTimeOffset now)
    {
        _skipped.Clear();
        List<LevelChange>? changes = null;
        foreach (var group in _actions)
        {
            // The wall clock stepped back (NTP): times ahead of now are re-anchored on it, so a cooldown or the recovery
            // delay waits its own length from here, not the step's length as well.
            if (group.LastChangeAt > now) group.LastChangeAt = now;
            if (group.LastEscalationAt > now) group.LastEscalationAt = now;
            if (group.ReleasedSince > now) group.ReleasedSince = now;
            RuleState? deciding = null;
            var anyActive = false;
            var anySkipped = false;
            foreach (var rule in group.Rules)
            {
                if (!rule.TryRead(metrics, out var estimate, out var series))
                {
                    _skipped.Add(rule.SkipReason(estimate, series));
                    // A metric this host has never reported (no PSI, a MIG GPU) holds nothing: the rule counts as
                    // released. One that was reported and went missing or stale holds the level until it is back.
                    if (estimate is null && !rule.Seen) continue;
                    anySkipped = true;
                    anyActive |= rule.Active;
                    continue;
                }
                var value = Signal(estimate!, rule.Rule.Signal);
                rule.LastValue = value;
                rule.LastForecast = estimate!.Forecast;
                rule.LastSeries = series;
                if (!rule.Active && rule.Rule.Fires(value)) rule.Active = true;
                else if (rule.Active && rule.Rule.Releases(value)) rule.Active = false;
                if (rule.Active)
                {
                    anyActive = true;
                    deciding ??= rule; // rules are sorted by priority, highest first
                }
            }

            if (anyActive) group.ReleasedSince = null;
            _arbitration?.Observe(group.Action, anyActive, now);
            // The effect check's verdict lasts until the rule that was found ineffective releases.
            if (group.IneffectiveRule is { } stuck && !stuck.Active)
            {
                group.IneffectiveRule = null;
                group.IneffectiveReason = null;
                group.CutsWithoutEffect = 0;
                IneffectiveVersion++;
            }
            if (group.Learning is { } learning && Learned(group, learning, metrics, now, out var learned))
            {
                if (learned is not null) (changes ??= []).Add(learned);
                continue;
            }
            if (group.Admission is { } admission && Admitted(group, admission, deciding, metrics, now, out var admitted))
            {
                if (admitted is not null) (changes ??= []).Add(admitted);
                continue;
            }
            var change = deciding is not null
                ? Escalate(group, deciding, now, metrics)
                : !anyActive && !anySkipped ? Recover(group, now, metrics) : null;
            if (change is not null) (changes ??= []).Add(change);
        }
        return changes ?? (IReadOnlyList<LevelChange>)Array.Empty<LevelChange>();
    }

    private LevelChange? Escalate(ActionGroup group, RuleState rule, DateTimeOffset now, IReadOnlyDictionary<string, MetricEstimate> metrics)
    {
        // Escalation has its own pacing: a recovery step in between does not delay it.
        var cooldown = rule.Rule.Cooldown ?? _config.Cooldown;
        var since = _config.RecoveryDelaysEscalation ? group.LastChangeAt : group.LastEscalationAt;
        if (since is { } last && now - last < cooldown) return null;
        if (ReferenceEquals(group.IneffectiveRule, rule)) return null;
        // The stronger step: while latency admission still has room on throttle, a latency rule does not shed load.
        if (group.Action == ActionNames.ShedLoad && LatencyAdmitting(rule)) return null;
        var target = rule.Rule.Factor > 1
            ? Math.Min(_config.MaxScaleUp, group.Level * rule.Rule.Factor)
            : Math.Max(_config.MinLevel, group.Level * rule.Rule.Factor);
        if (Math.Abs(target - group.Level) < Epsilon) return null;
        // Priorities: a cut for a shared resource waits while lower-priority peers on it can still cut.
        string? peerNote = null;
        if (_arbitration is { } arbitration && rule.Rule.Factor < 1 && MetricNames.Label(rule.LastSeries, MetricNames.SubsystemLabel) is null)
        {
            var verdict = arbitration.Cut(group.Action, now);
            if (verdict.Hold) return null;
            peerNote = verdict.Note;
        }
        if (EffectCheck(group, rule)) return null;
        var reason = new ThrottleReason(peerNote is null ? rule.Rule.ToString() : $"{rule.Rule}; {peerNote}", rule.LastSeries, Lower(rule.Rule.Signal), rule.LastValue, rule.LastForecast, rule.Rule.Threshold);
        var change = Apply(group, target, reason, now, metrics);
        group.LastEscalationAt = now;
        return change;
    }

    /// <summary>
    /// The effect check before a cut: true (hold, the rule is ineffective) when the rule's signal has not improved
    /// measurably over the last <see cref="PolicyConfig.IneffectiveAfterCuts"/> cuts of this action by the same rule.
    /// </summary>
    private bool EffectCheck(ActionGroup group, RuleState rule)
    {
        if (_config.IneffectiveAfterCuts <= 0 || rule.Rule.Factor > 1) return false;
        if (ReferenceEquals(group.LastCutRule, rule) && double.IsFinite(group.LastCutValue))
        {
            // Measurable: 1 % of the threshold towards the safe side.
            var tolerance = 0.01 * Math.Max(Math.Abs(rule.Rule.Threshold), 1e-6);
            var improved = rule.Rule.Direction == RuleDirection.Above
                ? rule.LastValue < group.LastCutValue - tolerance
                : rule.LastValue > group.LastCutValue + tolerance;
            group.CutsWithoutEffect = improved ? 0 : group.CutsWithoutEffect + 1;
            if (group.CutsWithoutEffect >= _config.IneffectiveAfterCuts)
            {
                group.IneffectiveRule = rule;
                IneffectiveVersion++;
                group.IneffectiveReason = FormattableString.Invariant(
                    $"ineffective: {group.CutsWithoutEffect} cuts of {group.Action} by '{rule.Rule}' left {rule.LastSeries} {Lower(rule.Rule.Signal)} at {rule.LastValue:0.###} (was {group.LastCutValue:0.###} at the last cut); holding at {group.Level:0.###}");
                return true;
            }
        }
        else group.CutsWithoutEffect = 0;
        group.LastCutRule = rule;
        group.LastCutValue = rule.LastValue;
        return false;
    }

    /// <summary>True when <paramref name="rule"/> watches latency or queue and latency admission still has room on throttle.</summary>
    private bool LatencyAdmitting(RuleState rule)
    {
        var metric = MetricNames.BaseName(rule.Rule.Metric);
        if (metric != MetricNames.LatencyMs && metric != MetricNames.QueueDepth) return false;
        return Array.Find(_actions, a => a.Admission is not null) is { } throttle && throttle.AdmissionSeen
               && throttle.Level > _config.MinLevel + Epsilon;
    }

    /// <summary>
    /// Latency admission on <c>throttle</c> (<see cref="PolicyConfig.LatencyAdmission"/>). True when it decided (the change,
    /// or null to hold); false when the rules decide: the subsystem has never reported <c>latency_ms</c>.
    /// </summary>
    private bool Admitted(ActionGroup group, LatencyAdmission admission, RuleState? deciding, IReadOnlyDictionary<string, MetricEstimate> metrics,
        DateTimeOffset now, out LevelChange? change)
    {
        change = null;
        var has = metrics.TryGetValue(_latencySeries!, out var latency);
        // A subsystem that crashed before it ever reported (the learned batch saw it) is down as well.
        var crashed = Array.Find(_actions, a => a.Learning is not null)?.Learning is { Down: true };
        if (!has && !group.AdmissionSeen && !crashed) return false;
        group.AdmissionSeen = true;
        if (!has || latency!.Stale)
        {
            // Down or silent: it serves nothing, so it admits as little as it may (a queue that builds up for a dead
            // process is all over the objective when it is back); nothing recovers, and its trend starts afresh.
            admission.Reset();
            group.LastLatencyAt = null;
            if (group.Level > _config.MinLevel + Epsilon)
                change = Apply(group, _config.MinLevel, new ThrottleReason(
                    $"latency admission: {_latencySeries} {(has ? "stale" : "missing")}, the subsystem is down or silent; admitting the least until it reports again",
                    _latencySeries!, AdmissionSignal, double.NaN, double.NaN, admission.TargetMs), now, metrics);
            return true;
        }
        // An effective rule on throttle (cpu_util) still cuts, paced by its cooldown; admission never raises past it.
        var ruleActive = deciding is not null && !ReferenceEquals(group.IneffectiveRule, deciding);
        if (ruleActive && Escalate(group, deciding!, now, metrics) is { } cut)
        {
            change = cut;
            return true;
        }
        var queue = metrics.TryGetValue(_queueSeries!, out var q) && !q.Stale ? q.Raw : double.NaN;
        // One step per new reading: an evaluation that sees the same reading again holds.
        if (group.LastLatencyAt is { } seen && latency.UpdatedAt <= seen) return true;
        var interval = group.LastLatencyAt is { } previous ? (latency.UpdatedAt - previous).TotalSeconds : 0;
        group.LastLatencyAt = latency.UpdatedAt;
        var target = admission.Next(group.Level, latency.Raw, queue, interval);
        if (target > group.Level && ruleActive) return true;
        if (Math.Abs(target - group.Level) < Epsilon) return true;
        var reason = new ThrottleReason(admission.Describe(), _latencySeries!, AdmissionSignal, latency.Raw, admission.LastPredictionMs, admission.TargetMs);
        change = Apply(group, target, reason, now, metrics);
        return true;
    }

    private LevelChange? Recover(ActionGroup group, DateTimeOffset now, IReadOnlyDictionary<string, MetricEstimate> metrics)
    {
        group.ReleasedSince ??= now;
        if (Math.Abs(group.Level - 1) < Epsilon) return null;
        if (now - group.ReleasedSince.Value < _config.RecoveryDelay) return null;
        if (group.LastChangeAt is { } last && now - last < _config.RecoveryInterval) return null;
        var target = group.Level < 1
            ? Math.Min(1, group.Level + _config.RecoveryStep)
            : Math.Max(1, group.Level - _config.RecoveryStep);
        if (Math.Abs(target - 1) < Epsilon) target = 1;
        // After a crash, the hard limit bounds what the rules may recover to until the learned model is confident.
        if (group.Learning?.Cap is { } cap && target > cap)
        {
            if (group.Level >= cap - Epsilon) return null;
            target = cap;
        }
        // Before the learned model is confident, the rules' recovery is bounded by the context planned for (the headroom
        // applies before the model decides): by the line fitted so far if it has a positive slope, else as if all the VRAM
        // reserved grew with the level and the context.
        if (group.Learning is { ContextKnown: true } lr && lr.Vram.LastValue is var reserved && double.IsFinite(reserved) && reserved > 0)
        {
            var planned = lr.PlannedContext(lr.LastContext);
            var bound = lr.Model.Slope > 0 && lr.Model.Count >= 3
                ? (lr.Vram.Rule.Threshold - lr.Model.Intercept) / (lr.Model.Slope * planned)
                : group.Level * lr.Vram.Rule.Threshold / (reserved * planned / lr.LastContext);
            if (target > bound)
            {
                if (group.Level >= bound - Epsilon) return null;
                target = bound;
            }
        }
        if (group.Level < 1 && _arbitration?.Recover(group.Action, now) is { Hold: true }) return null;
        // The reason names the first rule that has a reading, not one whose metric this host never reported.
        var first = Array.Find(group.Rules, r => r.Seen) ?? group.Rules[0];
        var reason = new ThrottleReason("recovery", first.LastSeries, Lower(first.Rule.Signal), first.LastValue, first.LastForecast, first.Rule.EffectiveRelease);
        return Apply(group, target, reason, now, metrics);
    }

    /// <summary>
    /// The learned <c>reduce_batch</c> (<see cref="PolicyConfig.LearnBatchResponse"/>). True when it decided (the change,
    /// or null to hold); false when the rules decide: the subsystem reports no <c>context_k</c>, or the model is not
    /// confident and no crash bounds the level.
    /// </summary>
    private bool Learned(ActionGroup group, BatchLearning l, IReadOnlyDictionary<string, MetricEstimate> metrics, DateTimeOffset now, out LevelChange? change)
    {
        change = null;
        var hasContext = metrics.TryGetValue(l.ContextSeries, out var context);
        if (l.CrashedSilently && SilentCrash(group, l, now, metrics) is { } cut)
        {
            change = cut;
            return true;
        }
        if (hasContext && !context!.Stale) l.ReportedSinceRegistration = true;
        if (!l.ContextKnown && l.CapX is not null && now > l.SilentLimitUntil) l.CapX = null;
        if (!hasContext && !l.ContextSeen) return false;
        l.ContextSeen = true;
        var limit = _config.LearnedVramLimit;
        if (!hasContext || context!.Stale)
        {
            // Its own reports stopped: a crashed or restarting engine. Cut to half the state it was in and hold there;
            // nothing recovers while it is down, and it comes back to the level that fits.
            if (!l.Down)
            {
                l.Down = true;
                l.Load.Reset();
                l.LoadCutFrom = double.NaN;
                l.CrashLevel = group.Level;
                l.CrashContext = l.LastContext;
                l.CapBeforeCrash = l.CapX;
                l.CapX = Math.Min(l.CapX ?? double.PositiveInfinity, 0.5 * group.Level * l.LastContext);
            }
            var capped = Math.Max(_config.MinLevel, Math.Min(1, l.CapX!.Value / l.LastContext));
            if (group.Level > capped + Epsilon)
                change = Apply(group, capped, new ThrottleReason(
                    FormattableString.Invariant($"silent since a crash or restart: hard limit level x context_k <= {l.CapX:0.###} (half the state it was in); nothing recovers while it is down"),
                    l.ContextSeries, CrashSignal, l.LastContext, l.LastContext, l.CapX.Value), now, metrics);
            return true;
        }

        var contextNow = context.Raw;
        var model = l.Model;
        if (!l.ContextKnown)
        {
            // The first context it reports: limits from a crash before it ever reported were kept in level alone.
            l.CapX *= contextNow;
            l.CrashX *= contextNow;
            if (l.Down) l.CrashContext = contextNow;
        }
        if (l.Down)
        {
            // Back (re-registered): the state it crashed in is the level it had and the context it came back with, if
            // that is higher than the one it last reported (a sudden step up it never got to report).
            l.Down = false;
            l.ReturnedFromCrash = true;
            var crashContext = Math.Max(l.CrashContext, contextNow);
            l.CrashX = Math.Min(l.CrashX, l.CrashLevel * crashContext);
            if (contextNow > l.CrashContext)
            {
                l.JumpHeadroom = Math.Max(l.JumpHeadroom, contextNow - l.CrashContext);
                // The step explains the crash: the state it ran in before the step fitted, so the hard limit is that state
                // (the step itself is planned for as headroom from now on), not half of it, which held the batch at a
                // quarter of what fits for the rest of the run while the model had too little spread to become confident.
                l.CapX = Math.Min(l.CapBeforeCrash ?? double.PositiveInfinity, l.CrashLevel * l.CrashContext);
            }
            // A confident model that said the crash state fits is contradicted: distrusted until it has learned again.
            if (model.Confident && model.Predict(l.CrashLevel, crashContext) < 1) model.Distrust();
        }
        // A rise is between two reports: the first context reported has no report before it (LastContext is a placeholder).
        else if (l.ContextKnown && contextNow > l.LastContext)
        {
            l.Rises.Enqueue((now, contextNow - l.LastContext));
            // The largest rise of its history, remembered longer than the minute (it fades with RiseMemory's half-life).
            var rise = contextNow - l.LastContext;
            if (contextNow >= StepRatio * l.LastContext) l.Stepped = true;
            if (rise >= l.RememberedRise(now)) (l.LargestRise, l.LargestRiseAt) = (rise, now);
            // Once a sudden rise has crashed it, its context is known to step: every rise seen since is kept as hard
            // headroom too, not forgotten after a minute (the next step up may come later, and as large).
            if (l.JumpHeadroom > 0) l.JumpHeadroom = Math.Max(l.JumpHeadroom, contextNow - l.LastContext);
        }
        // A fall below every context reported before: the context has never been seen climbing from here to where it
        // fell from, so the fall is the only evidence of how it moves over that range, and a step back up may be as large
        // (steps r2: 2.9k from the start, 1.6k at 33 s, 2.3k at 73 s). A fall within the range already reported adds
        // nothing: the context was seen climbing over it (sawtooth's drops, after its ramp), and those rises are counted.
        else if (l.ContextKnown && contextNow < l.MinContext)
        {
            var fall = Math.Min(l.LastContext, l.MinContext) - contextNow;
            if (l.LastContext >= StepRatio * contextNow) l.Stepped = true;
            if (fall >= l.RememberedRise(now)) (l.LargestRise, l.LargestRiseAt) = (fall, now);
        }
        // Every change of a fifth or more between two reports is one more level the context has been seen at: the more of
        // them, the better the largest one reported bounds where the next step goes (PlannedContext).
        if (l.ContextKnown && l.LastContext > 0 && Math.Abs(contextNow - l.LastContext) > StepCountRatio * l.LastContext) l.Steps++;
        while (l.Rises.Count > 0 && now - l.Rises.Peek().At > RiseWindow) l.Rises.Dequeue();
        l.Remembered = l.RememberedRise(now);
        l.LastContext = contextNow;
        l.ContextKnown = true;
        l.MaxContext = Math.Max(l.MaxContext, contextNow);
        l.MinContext = Math.Min(l.MinContext, contextNow);
        var contextAhead = l.PlannedContext(contextNow);
        if (metrics.TryGetValue(l.OomSeries, out var ooms) && !ooms.Stale)
        {
            // A rising counter the silence did not already account for (an engine that survives its OOM).
            if (l.LastOoms is { } before && ooms.Raw > before && !l.ReturnedFromCrash)
                l.CapX = Math.Min(l.CapX ?? double.PositiveInfinity, 0.5 * group.Level * contextNow);
            l.LastOoms = ooms.Raw;
            l.ReturnedFromCrash = false;
        }
        ObserveLoad(l, group.Level, contextNow, metrics, context.UpdatedAt);
        if (!l.Vram.TryRead(metrics, out var vram, out var series)) return l.CapX is not null;
        // An engine that has just crashed has not gone stale yet, but it has stopped reporting: until its own report is
        // as fresh as the VRAM reading (which now shows only what a dead process leaves), the level holds.
        if (vram!.UpdatedAt - context.UpdatedAt >= FreshReport) return true;

        // Readings right after a level change show the allocator, not the batch: they are neither fitted nor checked.
        var settled = group.LastChangeAt is not { } changed || now - changed >= SettleTime;
        // A reading still falling (the allocator returning memory after a cut or a fall of the context) contradicts nothing.
        if (settled && model.Confident && !model.Falling(vram!.Raw) && vram.Raw > model.Predict(group.Level, contextNow) + 3 * model.Margin)
            model.Distrust();
        // An unsettled reading is not fitted, but the next is compared with it (whether the allocator is still releasing).
        model.Observe(group.Level, contextNow, vram!.Raw, fit: settled);

        double target;
        ThrottleReason reason;
        if (model.Confident)
        {
            l.CapX = null; // the model knows where memory runs out now
            // Never back to where it crashed: 90 % of the smallest level x context_k it ran out of memory at.
            var margin = model.Margin;
            target = Math.Clamp(Math.Min(model.LargestLevelUnder(limit, contextAhead, margin), 0.9 * l.CrashX / contextAhead), _config.MinLevel, 1);
            // No further past the readings than the trust region: a raise beyond them is checked before the next.
            if (target > group.Level && model.Confidence < BatchResponseModel.TrustedConfidence)
                target = Math.Max(group.Level, Math.Min(target, BatchResponseModel.TrustRegion * model.MaxObserved / contextNow));
            l.LoadCutFrom = double.NaN;
            if (l.Load.Level < target)
            {
                // The load needs less than fits: the VRAM left free is headroom against a step up of the context.
                target = Math.Max(_config.MinLevel, l.Load.Level);
                reason = new ThrottleReason(FormattableString.Invariant(
                        $"{l.Load.Describe()}, under what the model lets fit: {MetricNames.VramUtil} = {model.Intercept:0.###} + {model.Slope:0.###} x level x context_k predicts {model.Predict(target, contextNow):0.###} at context_k {contextNow:0.##}, {model.Predict(target, contextAhead):0.###} at {contextAhead:0.##} (planned rise {l.Headroom:0.##}) <= {limit} - margin {margin:0.###}"),
                    l.QueueSeries, LoadSignal, l.Load.Level, model.Predict(target, contextAhead), limit - margin);
            }
            else reason = new ThrottleReason(FormattableString.Invariant(
                    $"model: {MetricNames.VramUtil} = {model.Intercept:0.###} + {model.Slope:0.###} x level x context_k (n={model.Count}, confidence {model.Confidence:0.##}, ±{model.Residual:0.###}) predicts {model.Predict(target, contextAhead):0.###} at context_k {contextAhead:0.##} (now {contextNow:0.##} + observed rise {l.Headroom:0.##}) <= {limit} - margin {margin:0.###}"),
                series, "model", model.Predict(target, contextAhead), vram!.Raw, limit - margin);
        }
        else if (l.CapX is { } capX)
        {
            var cap = Math.Clamp(capX / contextAhead, _config.MinLevel, 1);
            if (group.Level <= cap + Epsilon) return HeadroomCut(group, l, vram!.Raw, contextNow, contextAhead, now, metrics, out change)
                                                   || LoadSized(group, l, vram!.Raw, now, metrics, out change); // else the rules decide, recovering no further than the cap
            target = cap;
            reason = new ThrottleReason(FormattableString.Invariant($"hard limit after a crash: level x context_k <= {capX:0.###}"),
                l.ContextSeries, CrashSignal, contextNow, contextAhead, capX);
        }
        else return HeadroomCut(group, l, vram!.Raw, contextNow, contextAhead, now, metrics, out change)
                    || LoadSized(group, l, vram!.Raw, now, metrics, out change)
                    || RaiseOvershoot(group, l, vram!.Raw, now);

        if (Math.Abs(target - group.Level) < LearnedStep) return true;
        // Cuts at once; increases are paced by the recovery interval, except one the load asks for (a queue formed).
        if (target > group.Level && !l.Load.Raised && group.LastChangeAt is { } last && now - last < _config.RecoveryInterval) return true;
        change = Apply(group, target, reason, now, metrics);
        return true;
    }

    /// <summary>Feeds the engine's own latency and queue, and what admission lets in, to the load sizing.</summary>
    private void ObserveLoad(BatchLearning l, double level, double contextK, IReadOnlyDictionary<string, MetricEstimate> metrics, DateTimeOffset at)
    {
        if (!metrics.TryGetValue(l.LatencySeries, out var latency) || latency.Stale
            || !metrics.TryGetValue(l.QueueSeries, out var queue) || queue.Stale) return;
        var admittingAll = _actions.All(a => (a.Action != ActionNames.Throttle && a.Action != ActionNames.ShedLoad) || a.Level >= 1 - Epsilon);
        l.Load.Observe(level, contextK, latency.Raw, queue.Raw, admittingAll, at);
    }

    /// <summary>
    /// While the model is not confident: a cut when the level in effect would not fit the planned context. The rules only
    /// cut past their threshold, and in a context that moves in steps (few distinct readings, so the model stays under
    /// <see cref="BatchResponseModel.MinSamples"/>) nothing else applies the planned rise: a batch raised to what fits one
    /// step ran out of memory in the next. The level is the larger of two bounds, each under <see cref="PolicyConfig.LearnedVramLimit"/>
    /// less the margin at the planned context: the line fitted so far (3 readings or more, a positive slope, a residual
    /// under <see cref="BatchResponseModel.MaxResidual"/>), and the one that holds if all the VRAM reserved grew with the
    /// level and the context (the weights do not: safe without any line). False when it does not cut.
    /// </summary>
    private bool HeadroomCut(ActionGroup group, BatchLearning l, double vram, double contextNow, double contextAhead, DateTimeOffset now,
        IReadOnlyDictionary<string, MetricEstimate> metrics, out LevelChange? change)
    {
        change = null;
        var model = l.Model;
        if (!(contextAhead > contextNow) || !(vram > 0)) return false;
        var limit = _config.LearnedVramLimit - model.Margin;
        var proportional = group.Level * limit / (vram * contextAhead / contextNow);
        var line = model.Count >= 3 && model.Slope > 0 && model.Residual <= BatchResponseModel.MaxResidual
            ? model.LargestLevelUnder(_config.LearnedVramLimit, contextAhead, model.Margin)
            : double.NegativeInfinity;
        var target = Math.Max(_config.MinLevel, Math.Max(proportional, line));
        if (group.Level <= target + LearnedStep) return false;
        var by = double.IsFinite(line) && line >= proportional
            ? FormattableString.Invariant($"the line fitted so far ({MetricNames.VramUtil} = {model.Intercept:0.###} + {model.Slope:0.###} x level x context_k, n={model.Count}, not yet confident) predicts {model.Predict(group.Level, contextAhead):0.###}")
            : FormattableString.Invariant($"{MetricNames.VramUtil} {vram:0.###} growing with level x context_k predicts {vram * contextAhead / contextNow:0.###}");
        change = Apply(group, target, new ThrottleReason(FormattableString.Invariant(
                $"headroom for a step: {by} at context_k {contextAhead:0.##} (now {contextNow:0.##} + planned rise {l.Headroom:0.##}) > {_config.LearnedVramLimit} - margin {model.Margin:0.###}: level {target:0.###}"),
            l.ContextSeries, HeadroomSignal, contextAhead, vram, limit), now, metrics);
        return true;
    }

    /// <summary>
    /// While the model is not confident and no crash's hard limit applies: the VRAM rule's forecast over its threshold right after this policy raised the
    /// level is the raise's own doing (the allocator grows to the new batch within a reading and stops there, while the
    /// Kalman trend extrapolates that growth for seconds), not evidence of a rising need: while the reading stays under the
    /// threshold and no other rule on the action is active, the level holds for <see cref="RaiseSettleTime"/> after the
    /// raise, and after it as long as the forecast is back under the threshold (the rule is only active by its hysteresis,
    /// the release being lower). True: hold (the rules do not decide now). The load's raises are bounded so that the VRAM reserved times the step stays under the
    /// rule's threshold (<see cref="LoadSized"/>); the rules halved the batch one or two readings after such a raise, then
    /// the load raised it again, three to four times in a run's first 15-20 s at full load. With the hold the cut, where the
    /// forecast is still over the threshold once the raise has settled, comes 2 s after the raise: steps family 0.849 ->
    /// 0.854 and 32 -> 30 OOMs over ten seed sets, walk-a, walk-b, surge and burst a little higher (docs/control-quality.md,
    /// session 12); holding 4 or 8 s did worse on the steps family (0.851 with 32 OOMs).
    /// </summary>
    private static bool RaiseOvershoot(ActionGroup group, BatchLearning l, double vram, DateTimeOffset now)
    {
        var rule = l.Vram;
        if (!rule.Active || !group.LastChangeRaised || group.LastChangeAt is not { } raised || vram > rule.Rule.Threshold) return false;
        // Another active rule on the action is evidence of its own: the rules decide.
        foreach (var other in group.Rules)
            if (other.Active && !ReferenceEquals(other, rule)) return false;
        return now - raised < RaiseSettleTime || rule.LastValue <= rule.Rule.Threshold;
    }

    /// <summary>How long after a raise a forecast over the VRAM rule's threshold is taken as the raise's own (<see cref="RaiseOvershoot"/>).</summary>
    private static readonly TimeSpan RaiseSettleTime = TimeSpan.FromSeconds(2);

    /// <summary>
    /// While the model is not confident (the rules decide): a cut to the level the load needs when that is lower (always
    /// safe), and back up to the level it cut from as soon as a queue says the load needs more. False when it does not decide.
    /// </summary>
    private bool LoadSized(ActionGroup group, BatchLearning l, double vram, DateTimeOffset now, IReadOnlyDictionary<string, MetricEstimate> metrics, out LevelChange? change)
    {
        change = null;
        var load = l.Load;
        double target;
        if (load.Level < group.Level - LearnedStep && !group.Rules.Any(r => r.Active))
        {
            target = Math.Max(_config.MinLevel, load.Level);
            l.LoadCutFrom = double.IsNaN(l.LoadCutFrom) ? group.Level : Math.Max(l.LoadCutFrom, group.Level);
        }
        else if (load.Raised && double.IsFinite(l.LoadCutFrom) && group.Level < l.LoadCutFrom - LearnedStep && !group.Rules.Any(r => r.Active))
        {
            // Without a confident model, one step at a time, each shown in VRAM before the next, and no larger than if all of
            // the VRAM reserved grew with the batch and the context's planned rise (the weights do not: the bound is safe):
            // reserved x step x planned context / context <= the rule's threshold, so that the rule has no cause to cut it back.
            var ahead = l.PlannedContext(l.LastContext) / l.LastContext;
            target = Math.Min(l.LoadCutFrom, Math.Min(load.Level,
                group.Level * Math.Min(BatchLoadSizing.Bump, l.Vram.Rule.Threshold / (Math.Max(vram, 1e-3) * ahead))));
            if (target < group.Level + LearnedStep) return false;
        }
        else return false;
        if (target >= l.LoadCutFrom - Epsilon) l.LoadCutFrom = double.NaN;
        if (Math.Abs(target - group.Level) < LearnedStep) return true;
        change = Apply(group, target, new ThrottleReason(l.Load.Describe(), l.QueueSeries, LoadSignal, load.Level, double.NaN, group.Level), now, metrics);
        return true;
    }

    /// <summary>
    /// A registration with no report since the last one: it crashed before it could say anything, at the level it had then
    /// (a cut since may have come too late for it). Sets the hard limit at half that state and cuts to it (null: already under).
    /// </summary>
    private LevelChange? SilentCrash(ActionGroup group, BatchLearning l, DateTimeOffset now, IReadOnlyDictionary<string, MetricEstimate> metrics)
    {
        l.CrashedSilently = false;
        var crashLevel = l.SilentCrashLevel;
        l.CrashX = Math.Min(l.CrashX, crashLevel * l.LastContext);
        l.CapX = Math.Min(l.CapX ?? double.PositiveInfinity, 0.5 * crashLevel * l.LastContext);
        l.ReturnedFromCrash = true;
        // Without a context ever reported, the limit is in level alone, and expires if none ever comes (a subsystem
        // that reports no context of its own, restarted quickly twice).
        if (!l.ContextKnown) l.SilentLimitUntil = now + SilentLimitTime;
        var cap = Math.Max(_config.MinLevel, Math.Min(1, l.CapX.Value / l.LastContext));
        if (group.Level <= cap + Epsilon) return null;
        return Apply(group, cap, new ThrottleReason(
            FormattableString.Invariant($"registered again without a report since its last registration (crashed at start): hard limit level x context_k <= {l.CapX:0.###} (half the state it was in)"),
            l.ContextSeries, CrashSignal, l.LastContext, l.LastContext, l.CapX.Value), now, metrics);
    }

    /// <summary>The reason's signal of a decision by latency admission (its text carries figures; metrics label by this).</summary>
    public const string AdmissionSignal = "latency_admission";

    /// <summary>The reason's signal of a decision by the level the load needs (<see cref="BatchLoadSizing"/>).</summary>
    public const string LoadSignal = "load";

    /// <summary>The reason's signal of a cut for the planned context rise before the model is confident.</summary>
    public const string HeadroomSignal = "headroom";

    /// <summary>The reason's signal of a decision by a crash's hard limit.</summary>
    public const string CrashSignal = "crash";

    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CrashLoopWindow = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SilentLimitTime = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RiseWindow = TimeSpan.FromSeconds(60);
    /// <summary>The half-life of the largest rise of the context remembered past <see cref="RiseWindow"/>.</summary>
    private static readonly TimeSpan RiseMemory = TimeSpan.FromSeconds(300);
    private const double LearnedStep = 0.01;
    private static readonly TimeSpan FreshReport = TimeSpan.FromMilliseconds(200);

    private LevelChange Apply(ActionGroup group, double target, ThrottleReason reason, DateTimeOffset now, IReadOnlyDictionary<string, MetricEstimate> metrics)
    {
        var previous = group.Level;
        group.Level = target;
        group.LastChangeAt = now;
        group.LastChangeRaised = target > previous;
        _arbitration?.Changed(group.Action, previous, target, now);
        return new LevelChange(group.Action, previous, target, reason, Inputs(metrics));
    }

    private ImmutableDictionary<string, double> Inputs(IReadOnlyDictionary<string, MetricEstimate> metrics)
    {
        var inputs = ImmutableDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        foreach (var rule in _rules)
            if (rule.TryRead(metrics, out var e, out var series))
                inputs[$"{series}:{Lower(rule.Rule.Signal)}"] = Signal(e!, rule.Rule.Signal);
        return inputs.ToImmutable();
    }

    /// <summary>The value of <paramref name="kind"/> in an estimate.</summary>
    public static double Signal(MetricEstimate estimate, SignalKind kind) => kind switch
    {
        SignalKind.Raw => estimate.Raw,
        SignalKind.Ema => estimate.Ema,
        SignalKind.Estimate => estimate.Estimate,
        SignalKind.Forecast => estimate.Forecast,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static string Lower(SignalKind kind) => kind switch
    {
        SignalKind.Raw => "raw",
        SignalKind.Ema => "ema",
        SignalKind.Estimate => "estimate",
        _ => "forecast",
    };

    private sealed class RuleState(PolicyRule rule, string subsystem)
    {
        public PolicyRule Rule { get; } = rule;
        // A base name reads the subsystem's own labelled series first (app metrics), then the host series.
        private readonly string? _ownSeries = rule.Metric.Contains('{')
            ? null
            : MetricNames.Labelled(rule.Metric, MetricNames.SubsystemLabel, subsystem);
        public bool Active { get; set; }
        /// <summary>The series of the subsystem's resource (<c>vram_util{gpu="0"}</c>), read before the host's; null: none.</summary>
        public string? ResourceSeries { get; set; }
        public double LastValue { get; set; } = double.NaN;
        public double LastForecast { get; set; } = double.NaN;
        public string LastSeries { get; set; } = rule.Metric;
        /// <summary>True once the rule's metric has been in a profile, fresh or stale.</summary>
        public bool Seen { get; private set; }
        // Skip reasons are built once per rule (and series), not at every evaluation.
        private string? _neverReported;
        private string? _missing;
        private string? _staleSeries;
        private string? _stale;

        public bool TryRead(IReadOnlyDictionary<string, MetricEstimate> metrics, out MetricEstimate? estimate, out string series)
        {
            if (_ownSeries is not null && metrics.TryGetValue(_ownSeries, out estimate)) series = _ownSeries;
            else if (ResourceSeries is not null && metrics.TryGetValue(ResourceSeries, out estimate)) series = ResourceSeries;
            else if (metrics.TryGetValue(Rule.Metric, out estimate)) series = Rule.Metric;
            else
            {
                series = Rule.Metric;
                return false;
            }
            Seen = true;
            return !estimate.Stale;
        }

        /// <summary>Why the rule was not evaluated, after <see cref="TryRead"/> said false.</summary>
        public string SkipReason(MetricEstimate? estimate, string series)
        {
            if (estimate is null && !Seen)
                return _neverReported ??= $"{Rule}: metric '{Rule.Metric}' never reported on this host; the rule counts as released";
            if (estimate is null)
                return _missing ??= $"{Rule}: metric '{Rule.Metric}' is missing (it was reported before); the level holds";
            if (!ReferenceEquals(series, _staleSeries))
            {
                _staleSeries = series;
                _stale = $"{Rule}: metric '{series}' is stale; the level holds";
            }
            return _stale!;
        }
    }

    /// <summary>The learned <c>reduce_batch</c> of one subsystem: its model, and what it knows of crashes.</summary>
    private sealed class BatchLearning(RuleState vram, string subsystem)
    {
        public RuleState Vram { get; } = vram;
        public string ContextSeries { get; } = MetricNames.Labelled(MetricNames.ContextK, MetricNames.SubsystemLabel, subsystem);
        public string OomSeries { get; } = MetricNames.Labelled(MetricNames.OomTotal, MetricNames.SubsystemLabel, subsystem);
        public BatchResponseModel Model { get; } = new();
        public string LatencySeries { get; } = MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, subsystem);
        public string QueueSeries { get; } = MetricNames.Labelled(MetricNames.QueueDepth, MetricNames.SubsystemLabel, subsystem);
        /// <summary>The level the load needs, from the engine's latency and queue.</summary>
        public BatchLoadSizing Load { get; set; } = null!;
        /// <summary>While the rules decide: the level a cut to what the load needs came from (NaN: none).</summary>
        public double LoadCutFrom { get; set; } = double.NaN;
        public bool ContextSeen { get; set; }
        public bool Down { get; set; }
        public bool ReturnedFromCrash { get; set; }
        public int Registrations { get; set; }
        public bool ReportedSinceRegistration { get; set; }
        public bool CrashedSilently { get; set; }
        public double LevelAtRegistration { get; set; }
        public DateTimeOffset RegisteredAt { get; set; }
        public DateTimeOffset SilentLimitUntil { get; set; }
        public double SilentCrashLevel { get; set; }
        /// <summary>False until the subsystem has reported its context: a crash before that has its state in level alone.</summary>
        public bool ContextKnown { get; set; }
        public double LastContext { get; set; } = 1;
        public double CrashLevel { get; set; }
        public double CrashContext { get; set; }
        /// <summary>The hard limit before the last crash (null: none).</summary>
        public double? CapBeforeCrash { get; set; }
        public double? LastOoms { get; set; }
        /// <summary>The context's rises between two reports over the last minute.</summary>
        public Queue<(DateTimeOffset At, double Rise)> Rises { get; } = new();
        /// <summary>The largest sudden rise of context that crashed it (across the silence): a hard limit, kept.</summary>
        public double JumpHeadroom { get; set; }
        /// <summary>
        /// The context rise planned for: <see cref="RiseFactor"/> times the largest of the rises of the last minute, the largest
        /// of its history as remembered (<see cref="Remembered"/>), and a crash's.
        /// </summary>
        public double Headroom => RiseFactor * Math.Max(Math.Max(JumpHeadroom, Remembered), Rises.Count == 0 ? 0 : Rises.Max(r => r.Rise));
        /// <summary>The largest context it has reported.</summary>
        public double MaxContext { get; set; }
        /// <summary>The smallest context it has reported (+∞ before any).</summary>
        public double MinContext { get; set; } = double.PositiveInfinity;
        /// <summary>
        /// The context planned for at <paramref name="contextNow"/>: now plus <see cref="Headroom"/>, but no further than
        /// <see cref="PastMaxShare"/> of it past the largest context it has reported; once the context has
        /// <see cref="Stepped"/>, never less than that largest context.
        /// </summary>
        public double PlannedContext(double contextNow) => Math.Max(Stepped ? MaxContext : 0,
            Math.Min(contextNow + Headroom, Math.Max(MaxContext, contextNow) + PastMaxShare * Headroom));
        /// <summary>The context's changes of <see cref="StepCountRatio"/> or more between two reports (run-time state, not persisted).</summary>
        public int Steps { get; set; }
        /// <summary>
        /// The share of <see cref="Headroom"/> planned past the largest context reported: <see cref="CeilingShare"/>, and
        /// once the context has <see cref="Stepped"/>, that share times <c>2 / (1 + changes)</c> (at most 1, at least
        /// <see cref="MinPastMaxFactor"/>): of a context that moves between levels, the largest of the levels seen is passed
        /// by the next one less often, and by less, the more levels it has been seen at (for levels drawn alike, one time in
        /// k + 1 after k levels). The floor keeps a noisy context, whose every report may count as a change, from planning
        /// nothing past its largest. With it the steps family's mean good / oracle rose 0.842 -> 0.849 over ten seed sets
        /// of every family, the same 32 OOMs, context-steps 0.910 -> 0.934, every other family unchanged
        /// (docs/control-quality.md, session 12).
        /// </summary>
        public double PastMaxShare => Stepped ? CeilingShare * Math.Clamp(2.0 / (1 + Steps), MinPastMaxFactor, 1) : CeilingShare;
        /// <summary>True once the context has stepped between two reports (see <see cref="StepRatio"/>).</summary>
        public bool Stepped { get; set; }
        /// <summary>The largest rise between two reports it has seen (as remembered when it was seen).</summary>
        public double LargestRise { get; set; }
        /// <summary>When <see cref="LargestRise"/> was seen.</summary>
        public DateTimeOffset LargestRiseAt { get; set; }
        /// <summary>The remembered rise at the last evaluation (see <see cref="RememberedRise"/>).</summary>
        public double Remembered { get; set; }
        /// <summary>The largest rise seen, halved every <see cref="RiseMemory"/> since it was seen.</summary>
        public double RememberedRise(DateTimeOffset now) =>
            LargestRise * Math.Pow(0.5, Math.Max(0, (now - LargestRiseAt).TotalSeconds) / RiseMemory.TotalSeconds);
        /// <summary>The smallest level x context_k the subsystem crashed at.</summary>
        public double CrashX { get; set; } = double.PositiveInfinity;
        /// <summary>After a crash: the largest level x context_k allowed until the model is confident.</summary>
        public double? CapX { get; set; }
        /// <summary>The level the hard limit allows at the last context seen, and no more than the load needs; null: neither bounds it.</summary>
        public double? Cap
        {
            get
            {
                double? cap = CapX is { } x ? Math.Min(1, x / LastContext) : null;
                return Load.Observed && Load.Level < 1 ? Math.Min(cap ?? 1, Load.Level) : cap;
            }
        }
    }

    /// <summary>
    /// The planned context rise per largest rise seen: the next step may be somewhat larger than any before it (steps y's 1.3k
    /// after 1.2k, z's 1.1k after 0.9k ran out of memory when planned at the rise seen).
    /// </summary>
    private const double RiseFactor = 1.25;
    /// <summary>
    /// The share of <see cref="BatchLearning.Headroom"/> planned past the largest context reported: a step from near the
    /// top of what the context has done needs less room than one from its bottom.
    /// </summary>
    private const double CeilingShare = 0.75;
    /// <summary>
    /// The ratio between two reports of the context that makes a step (a rise, or a fall below all reported before): once
    /// the context has stepped, it may step back to the largest context it has reported at any time.
    /// </summary>
    private const double StepRatio = 1.5;
    /// <summary>The relative change of the context between two reports that counts as one step (<see cref="BatchLearning.Steps"/>).</summary>
    private const double StepCountRatio = 0.2;
    /// <summary>The smallest factor of <see cref="CeilingShare"/> planned past the largest context reported (<see cref="BatchLearning.PastMaxShare"/>): a quarter, after seven changes.</summary>
    private const double MinPastMaxFactor = 0.25;

    private sealed class ActionGroup(string action, RuleState[] rules)
    {
        public BatchLearning? Learning { get; set; }
        public LatencyAdmission? Admission { get; set; }
        public bool AdmissionSeen { get; set; }
        public DateTimeOffset? LastLatencyAt { get; set; }
        public DateTimeOffset? LastEscalationAt { get; set; }
        public RuleState? LastCutRule { get; set; }
        public double LastCutValue { get; set; } = double.NaN;
        public int CutsWithoutEffect { get; set; }
        public RuleState? IneffectiveRule { get; set; }
        public string? IneffectiveReason { get; set; }
        public string Action { get; } = action;
        public RuleState[] Rules { get; } = rules;
        public double Level { get; set; } = 1;
        public DateTimeOffset? LastChangeAt { get; set; }
        /// <summary>True when the change at <see cref="LastChangeAt"/> raised the level.</summary>
        public bool LastChangeRaised { get; set; }
        public DateTimeOffset? ReleasedSince { get; set; }
    }
}
