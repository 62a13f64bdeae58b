using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Journaling;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Actuation;

// Issue 15: the actuator is an entity of its host's shard (a|host|subsystem), next to the host's profiler. Its
// persistence id stays actuator-<subsystem>, so when a subsystem registers on another host, two entities (one per host)
// share one persistence id. They never write at the same time:
// - the actuator on the old host decides on the new registration; when it accepts, it writes it to its journal, detaches
//   the subsystem from the old host's profiler, stops once the write is confirmed and only then passes the registration
//   on to the actuator on the new host (from PostStop);
// - an actuator whose journal names another host than its own (started by a profile or an ack still addressed to the
//   old host, or by a lagging directory) refuses to govern: it writes nothing, passes what it gets on to the host its
//   journal names and passivates.
public sealed partial class ActuatorActor
{
    private const int MaxHandOverHops = 3;

    // The host of this entity (from its entity id); null when it runs outside the host region (specs, tools).
    private readonly string? _entityHost;
    private RegisterSubsystem? _movingTo;
    private IActorRef _movingSender = ActorRefs.Nobody;
    private long _moveJournalSequenceNr;
    private readonly List<(object Message, IActorRef Sender)> _heldWhileMoving = [];

    private void PlacementCommands() =>
        Command<HandOverSubsystem>(handOver => Register(handOver.Register));

    // Where it runs in the host region: the directory learns the subsystem's host (on a registration and on a resume).
    private void RecordPlacement()
    {
        if (_entityHost is null || _registration is null) return;
        SubsystemDirectory.Record(Context.System, _subsystem, _registration.Host);
    }

    /// <summary>True (and it now refuses to govern) when the journal names another host than this entity's.</summary>
    private bool RefusedAsMoved()
    {
        if (_entityHost is null || _registration is null || _registration.Host == _entityHost) return false;
        var recordedHost = _registration.Host;
        _log.Info("Actuator of {0} on host '{1}': the subsystem is registered on '{2}'; this one passes its messages on and stops",
            _subsystem, _entityHost, recordedHost);
        if (_entityHost.Length > 0) _profilers.Tell(new DetachSubsystem(_entityHost, _subsystem));
        Context.Parent.Tell(new Passivate(StopWhenWritten.Instance));
        Become(() =>
        {
            Command<RegisterSubsystem>(r => _profilers.Tell(new HandOverSubsystem(recordedHost, r, 1), Sender));
            Command<HandOverSubsystem>(h => PassOn(h with { Host = recordedHost }));
            Command<ThrottleAck>(a => _profilers.Forward(a with { Host = recordedHost }));
            Command<GetSubsystemStatus>(q => _profilers.Forward(q with { Host = recordedHost }));
            Command<ApplyBudgetCap>(c => _profilers.Forward(c with { Host = recordedHost }));
            Command<StopWhenWritten>(_ => Context.Stop(Self));
            CommandAny(_ => { }); // profiles and peers of the old host, the writer's state: nothing to govern here
        });
        return true;
    }

    private void PassOn(HandOverSubsystem handOver)
    {
        if (handOver.Hops >= MaxHandOverHops)
        {
            _log.Warning("Dropped the registration of {0} on '{1}' after {2} hand-overs (the subsystem directory lags); the subsystem registers again",
                _subsystem, handOver.Register.Host, handOver.Hops);
            return;
        }
        _profilers.Tell(handOver with { Hops = handOver.Hops + 1 }, Sender);
    }

    /// <summary>
    /// True when <paramref name="register"/> (accepted) moves the subsystem to another host than this entity's: the
    /// registration is written here, and passed on to the new host's actuator once written and this one has stopped.
    /// </summary>
    private bool MovesAway(RegisterSubsystem? previous, RegisterSubsystem register)
    {
        if (_entityHost is null || register.Host == _entityHost) return false;
        _log.Info("Subsystem {0} moves from host '{1}' to '{2}': its actuator hands over once its journal has the registration",
            _subsystem, _entityHost, register.Host);
        if (previous is not null) Context.Unwatch(previous.Ref);
        if (_entityHost.Length > 0) _profilers.Tell(new DetachSubsystem(_entityHost, _subsystem));
        _moveJournalSequenceNr = WriteToJournal(register);
        _movingTo = register;
        _movingSender = Sender;
        _retryTimer?.Cancel();
        Become(() =>
        {
            Command<JournalWriter.Written>(w =>
            {
                if (w.UpTo >= _moveJournalSequenceNr) Context.Parent.Tell(new Passivate(StopWhenWritten.Instance));
            });
            Command<JournalWriter.WriterState>(state =>
            {
                // The database is down: stop anyway; the next actuator finds the older registration and hands over again.
                if (state.Error is not null) Context.Parent.Tell(new Passivate(StopWhenWritten.Instance));
            });
            Command<StopWhenWritten>(_ => Context.Stop(Self));
            Command<RegisterSubsystem>(r => _heldWhileMoving.Add((r, Sender)));
            Command<HandOverSubsystem>(h => _heldWhileMoving.Add((h.Register, Sender)));
            Command<ThrottleAck>(a => _heldWhileMoving.Add((a with { Host = register.Host }, Sender)));
            Command<GetSubsystemStatus>(q => _heldWhileMoving.Add((q with { Host = register.Host }, Sender)));
            Command<ApplyBudgetCap>(c => _heldWhileMoving.Add((c with { Host = register.Host }, Sender)));
            CommandAny(_ => { });
        });
        return true;
    }

    // From PostStop: the registration that moved the subsystem, and what came meanwhile, go to the new host's actuator.
    private void ForwardMoved()
    {
        if (_movingTo is null) return;
        _profilers.Tell(_movingTo, _movingSender);
        foreach (var (message, sender) in _heldWhileMoving) _profilers.Tell(message, sender);
        _heldWhileMoving.Clear();
    }
}
