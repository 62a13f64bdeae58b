using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Simulation;

namespace Scarcity.Actors.Host.Demo;

/// <summary>
/// Drives the demo engine: steps the model every 0.25 s through the demo scenario with the levels the governor sent,
/// publishes its VRAM to the simulated GPU and reports its latency. It is a governed subsystem like any other: it
/// registers, applies Throttles in sequence order and acknowledges each.
/// </summary>
internal sealed class DemoEngineActor : ReceiveActor
{
    public const string SubsystemName = "inference_engine";

    private sealed class Step : INoSerializationVerificationNeeded
    {
        public static readonly Step Instance = new();
    }

    private readonly DemoEngine _engine;
    private readonly string _host;
    private readonly IActorRef _policy;
    private readonly IActorRef _profilers;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private EngineLevels _levels = new(1, 1, 1);
    private long _lastApplied;
    private double _t;
    private ICancelable? _timer;

    public static Props Props(DemoEngine engine, string host, IActorRef policy, IActorRef profilers) =>
        Akka.Actor.Props.Create(() => new DemoEngineActor(engine, host, policy, profilers));

    public DemoEngineActor(DemoEngine engine, string host, IActorRef policy, IActorRef profilers)
    {
        _engine = engine;
        _host = host;
        _policy = policy;
        _profilers = profilers;

        Receive<SubsystemRegistered>(r =>
        {
            foreach (var (action, level) in r.Levels) Apply(action, level);
            _lastApplied = r.LastSequence;
            _log.Info("Demo engine registered; levels {0}", string.Join(", ", r.Levels.Select(l => $"{l.Key}={l.Value:0.###}")));
        });
        Receive<RegistrationRejected>(r => _log.Error("Demo engine registration rejected: {0}", r.Reason));
        Receive<Throttle>(t =>
        {
            if (t.Sequence <= _lastApplied)
            {
                Sender.Tell(new ThrottleAck(SubsystemName, t.Sequence, false, $"stale: already applied {_lastApplied}"));
                return;
            }
            _lastApplied = t.Sequence;
            Apply(t.Action, t.Level);
            Console.WriteLine($"  >> Throttle #{t.Sequence}: {t.Action} -> {t.Level:0.###} because {t.Reason}; batch now {InferenceEngineModel.BatchAt(_levels.ReduceBatch)}");
            Sender.Tell(new ThrottleAck(SubsystemName, t.Sequence, true, "applied"));
        });
        Receive<Step>(_ => Advance());
    }

    protected override void PreStart()
    {
        _policy.Tell(new RegisterSubsystem(SubsystemName, _host, 10,
            [ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad], Self));
        _timer = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(
            TimeSpan.FromSeconds(InferenceEngineModel.Dt), TimeSpan.FromSeconds(InferenceEngineModel.Dt), Self, Step.Instance, Self);
    }

    protected override void PostStop() => _timer?.Cancel();

    private void Apply(string action, double level)
    {
        _levels = action switch
        {
            ActionNames.ReduceBatch => _levels with { ReduceBatch = level },
            ActionNames.Throttle => _levels with { Throttle = level },
            ActionNames.ShedLoad => _levels with { ShedLoad = level },
            _ => _levels,
        };
    }

    private void Advance()
    {
        _engine.Model.Step(Scenario.Demo.At(_t % Scenario.Demo.Duration.TotalSeconds), _levels);
        _t += InferenceEngineModel.Dt;
        _engine.VramUtil = _engine.Model.VramUtil;
        _profilers.Tell(new ReportMetrics(SubsystemName, _host,
            ImmutableDictionary<string, double>.Empty.Add(MetricNames.LatencyMs, _engine.Model.LatencyMs),
            Context.System.Scheduler.Now, Self));
    }
}
