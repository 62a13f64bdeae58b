using System.Collections.Immutable;
using Akka.Event;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;

namespace Scarcity.Actors.Actuation;

// Policy versions applied at run time, and dry-run: the actuator switches between two evaluations (it is one actor, so
// two versions never decide for its subsystem at once); levels carry over; a dry-run policy keeps levels of its own.
public sealed partial class ActuatorActor
{
    private ActivePolicy _active = null!;
    private SubsystemPolicy? _dryPolicy;
    private int _dryVersion;

    // The node's current version when the holder has adopted one, else the configuration file's policy (version 0).
    private SubsystemPolicy InitialPolicy(string subsystem, PolicyConfig file)
    {
        _active = NodePolicy.Get(Context.System).Current ?? new ActivePolicy(0, file);
        var live = new SubsystemPolicy(subsystem, _active.LiveRulesFor(subsystem), _active.Live);
        if (_active.DryFor(subsystem) is { } dry)
        {
            _dryPolicy = new SubsystemPolicy(subsystem, dry.Rules, dry.Config);
            _dryVersion = dry.Version;
        }
        return live;
    }

    private void AdoptPolicy(ActivePolicy next)
    {
        if (next.LiveVersion == _active.LiveVersion && next.CandidateVersion == _active.CandidateVersion) return;
        var previous = _active;
        _active = next;
        var objective = _registration?.LatencyObjectiveMs;
        if (next.LiveVersion != previous.LiveVersion)
        {
            var arbitration = _policy.Arbitration;
            _policy = _policy.WithRules(next.LiveRulesFor(_subsystem), next.Live, Now,
                $"policy v{next.LiveVersion}: no live rule on this action any more (released)", out var released);
            Arbitrate(next.Live, arbitration); // the new version's priority settings, the peers known so far
            _policy.SetLatencyObjective(objective);
            if (_registration is not null)
                foreach (var change in released) Act(Decided(change, _host, Now));
        }
        var dry = next.DryFor(_subsystem);
        if (dry is null) _dryPolicy = null;
        else
        {
            var start = _dryPolicy is null;
            _dryPolicy = _dryPolicy is null
                ? new SubsystemPolicy(_subsystem, dry.Rules, dry.Config, objective)
                : _dryPolicy.WithRules(dry.Rules, dry.Config, Now, $"dry-run policy v{dry.Version}: no rule on this action", out _);
            // A dry run that starts now starts from the live levels: what the candidate would do from here.
            if (start)
                foreach (var action in _policy.Actions) _dryPolicy.Restore(action, _policy.GetState(action));
            _dryVersion = dry.Version;
        }
        _log.Info($"Actuator of {_subsystem} runs policy version {next.LiveVersion}{(dry is null ? "" : $", dry-run version {dry.Version} beside it")}; levels {string.Join(", ", _policy.Levels.Select(l => $"{l.Key}={l.Value:0.###}"))}");
        PublishStatus();
    }

    // The dry-run policy decides on the same profile: journaled and published marked dry, never sent, live levels untouched.
    private void EvaluateDry(HostProfile profile)
    {
        if (_dryPolicy is null || _registration is null) return;
        foreach (var change in _dryPolicy.Evaluate(profile.Metrics, profile.At))
        {
            var decision = new Decision(_subsystem, profile.Host, change.Action, change.PreviousLevel, change.Level, 0, change.Reason, profile.At,
                change.Inputs, false, $"dry-run (policy v{_dryVersion}): not sent", Dry: true);
            WriteToJournal(decision);
            Act(decision);
        }
    }

    private SubsystemStatus WithPolicyVersions(SubsystemStatus status) => status with
    {
        PolicyVersion = _active.LiveVersion,
        DryLevels = _dryPolicy?.Levels,
        DryPolicyVersion = _dryPolicy is null ? null : _dryVersion,
    };
}
