using System.Collections.Immutable;
using Akka.Actor;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;

namespace Scarcity.Actors.FleetBench;

/// <summary>
/// <c>--hosts N</c>: this node samples N simulated hosts at the configured interval (through one
/// <see cref="FleetDriver"/>; each host has a governed subsystem that acknowledges every Throttle), so a cluster of such
/// nodes carries a fleet.
/// </summary>
internal static class SimulatedFleet
{
    /// <summary>
    /// Starts the simulated hosts once <paramref name="members"/> cluster members are up, so that the profilers and actuators
    /// of a benchmark fleet spread over every governor from the first sample instead of being rebalanced under load.
    /// </summary>
    public static void StartWhenMembersUp(ActorSystem system, int members, string prefix, int hosts, TimeSpan interval, IActorRef profilers, IActorRef region,
        IActorRef policy)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        void Check()
        {
            var up = cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up);
            if (up >= members)
            {
                Console.WriteLine($"simulated fleet: {up} members up, starting {hosts} hosts");
                Start(system, prefix, hosts, interval, profilers, region, policy);
            }
            else system.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(250), Check);
        }
        Check();
    }

    public static void Start(ActorSystem system, string prefix, int hosts, TimeSpan interval, IActorRef profilers, IActorRef region, IActorRef policy)
    {
        var start = system.Scheduler.Now;
        var names = new string[hosts];
        for (var i = 0; i < hosts; i++)
        {
            var host = names[i] = $"{prefix}-sim-{i:D3}";
            system.ActorOf(Props.Create(() => new AckingSubsystem(host, policy)), $"sim-engine-{i:D3}");
        }
        // Issue 15: the samples of one slot go batched per node that holds their hosts' shards.
        var router = system.ActorOf(SampleBatchRouter.Props(region, profilers), "sim-sample-router");
        system.ActorOf(Props.Create(() => new FleetDriver(names, start, interval, router)), "sim-fleet");
    }

    /// <summary>
    /// Samples every simulated host of this node, each once per interval, at its own phase within the interval (hosts are
    /// spread over ten slots, as independent machines would be), and sends the samples of each slot as one
    /// <see cref="SampleBatch"/> to the <see cref="SampleBatchRouter"/>, which splits it per node. One actor and one timer for the whole simulated fleet: on a real fleet every
    /// host runs its own SensorActor on its own machine, and 167 of them in one governor process would measure the
    /// simulation's overhead rather than the governor's.
    /// </summary>
    private sealed class FleetDriver : ReceiveActor, IWithTimers
    {
        private const int Slots = 10;

        private sealed class Tick : INoSerializationVerificationNeeded
        {
            public static readonly Tick Instance = new();
        }

        private readonly string[] _hosts;
        private readonly SyntheticHostSource[] _sources;
        private readonly IActorRef _profilers;
        private readonly MetricBuffer _buffer = new();
        private readonly TimeSpan _slotLength;
        private DateTimeOffset _nextSlotAt;
        private int _slot;

        public ITimerScheduler Timers { get; set; } = null!;

        public FleetDriver(string[] hosts, DateTimeOffset start, TimeSpan interval, IActorRef profilers)
        {
            _hosts = hosts;
            _sources = [.. hosts.Select((_, i) => new SyntheticHostSource(i, start))];
            _profilers = profilers;
            _slotLength = interval / Slots;
            _nextSlotAt = start;
            Receive<Tick>(_ => SampleDueSlots());
        }

        // The scheduler's timers are only as fine as its 10 ms tick, so the slots follow the clock, not the timer's count.
        protected override void PreStart() => Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromMilliseconds(10));

        private void SampleDueSlots()
        {
            var now = Context.System.Scheduler.Now;
            while (_nextSlotAt <= now)
            {
                var samples = ImmutableArray.CreateBuilder<Sample>();
                for (var i = _slot; i < _hosts.Length; i += Slots)
                {
                    _buffer.Clear();
                    _sources[i].Sample(_buffer, now);
                    samples.Add(new Sample(_hosts[i], now, [.. _buffer.Values], [.. _buffer.Stale]));
                }
                if (samples.Count > 0) _profilers.Tell(new SampleBatch(samples.ToImmutable()));
                _slot = (_slot + 1) % Slots;
                _nextSlotAt += _slotLength;
            }
        }
    }

    /// <summary>
    /// One simulated subsystem: registers as the client does (<c>GovernedSubsystemOptions.RegisterInterval</c>, 2 s: again
    /// until the governor answers, since a registration can be lost while shards start) and acks every throttle.
    /// </summary>
    private sealed class AckingSubsystem : ReceiveActor, IWithTimers
    {
        private static readonly TimeSpan RegisterInterval = TimeSpan.FromSeconds(2);

        private sealed class RegisterTick : INoSerializationVerificationNeeded
        {
            public static readonly RegisterTick Instance = new();
        }

        private readonly IActorRef _policy;
        private readonly RegisterSubsystem _register;

        public ITimerScheduler Timers { get; set; } = null!;

        public AckingSubsystem(string host, IActorRef policy)
        {
            _policy = policy;
            _register = new RegisterSubsystem($"{host}-engine", host, 1, [ActionNames.ReduceBatch], Self);
            Receive<RegisterTick>(_ => _policy.Tell(_register));
            Receive<SubsystemRegistered>(_ => Timers.Cancel(RegisterTick.Instance));
            Receive<RegistrationRejected>(r => Console.Error.WriteLine($"simulated subsystem rejected: {r.Reason}"));
            Receive<Throttle>(t => Sender.Tell(new ThrottleAck(t.Subsystem, t.Sequence, true, "applied", t.Host)));
        }

        protected override void PreStart()
        {
            _policy.Tell(_register);
            Timers.StartPeriodicTimer(RegisterTick.Instance, RegisterTick.Instance, RegisterInterval);
        }
    }
}
