using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Monitoring;
using Scarcity.Actors.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Monitoring;

/// <summary>
/// The decision log alone under TestKit on a one-node cluster (it follows <c>drg.decisions</c> through
/// DistributedPubSub): it keeps the newest decisions by decision time, answers queries oldest first, newest N, per
/// subsystem, and folds in the batches recovering actuators publish without counting a decision twice.
/// </summary>
public sealed class DecisionLogActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly Config SpecConfig = ActorSpecConfig.LocalNodeVerifyingSerialization;

    public DecisionLogActorSpecs(ITestOutputHelper output) : base(SpecConfig, output: output)
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        AwaitCondition(() => cluster.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(20));
    }

    private static Decision D(string subsystem, long sequence, double seconds, string action = ActionNames.ReduceBatch) =>
        new(subsystem, "gpu-01", action, 1.0, 0.5, sequence,
            new ThrottleReason("vram_util > 0.85 -> reduce_batch x0.5", MetricNames.VramUtil, "raw", 0.9, 0.9, 0.85),
            T0.AddSeconds(seconds), ImmutableDictionary<string, double>.Empty.Add(MetricNames.VramUtil, 0.9), true, "");

    private IEnumerable<(string Subsystem, long Sequence)> Query(IActorRef log, int count, string? subsystem = null)
    {
        log.Tell(new GetRecentDecisions(count, subsystem), TestActor);
        return ExpectMsg<RecentDecisions>(Wait).Decisions.Select(d => (d.Subsystem, d.Sequence)).ToList();
    }

    [Fact]
    public void It_keeps_the_newest_capacity_decisions_and_answers_the_newest_count_oldest_first()
    {
        var log = Sys.ActorOf(DecisionLogActor.Props(capacity: 3));
        for (var i = 1; i <= 5; i++) log.Tell(D("engine", i, i));

        Assert.Equal([("engine", 3L), ("engine", 4L), ("engine", 5L)], Query(log, 10));
        Assert.Equal([("engine", 4L), ("engine", 5L)], Query(log, 2));
        Assert.Empty(Query(log, 0));
        Assert.Empty(Query(log, -1));

        log.Tell(D("engine", 6, 6));
        Assert.Equal([("engine", 4L), ("engine", 5L), ("engine", 6L)], Query(log, 10));
    }

    [Fact]
    public void A_subsystem_filter_returns_that_subsystems_newest_decisions_even_when_others_are_newer()
    {
        var log = Sys.ActorOf(DecisionLogActor.Props(capacity: 10));
        log.Tell(D("engine-a", 1, 1));
        log.Tell(D("engine-b", 1, 2));
        log.Tell(D("engine-a", 2, 3));
        log.Tell(D("engine-b", 2, 4));
        log.Tell(D("engine-a", 3, 5));
        log.Tell(D("engine-b", 3, 6));

        Assert.Equal([("engine-a", 2L), ("engine-a", 3L)], Query(log, 2, "engine-a"));
        Assert.Equal([("engine-b", 2L), ("engine-a", 3L), ("engine-b", 3L)], Query(log, 3));
        Assert.Empty(Query(log, 10, "engine-c"));
    }

    [Fact]
    public async Task Decisions_in_a_nodes_subsystem_digest_reach_it_without_anyone_sending_them_to_it()
    {
        var log = Sys.ActorOf(DecisionLogActor.Props(capacity: 10));
        Assert.Empty(Query(log, 10)); // answered: its PreStart, which subscribes it, has run
        // The mediator handles subscriptions in order: once this probe's is acknowledged, the log's is in place too.
        var mediator = DistributedPubSub.Get(Sys).Mediator;
        var witness = CreateTestProbe();
        mediator.Tell(new Subscribe(Topics.SubsystemDigest, witness.Ref), witness.Ref);
        witness.ExpectMsg<SubscribeAck>(Wait);

        var status = new SubsystemStatus("engine", "gpu-01", 0, ImmutableDictionary<string, double>.Empty, 8, 7, true, []);
        mediator.Tell(new Publish(Topics.SubsystemDigest, new SubsystemDigest("node-a", T0, [status], [D("engine", 7, 7), D("engine", 8, 8)])));
        witness.ExpectMsg<SubsystemDigest>(Wait);

        await AwaitAssertAsync(async () =>
        {
            var recent = await log.Ask<RecentDecisions>(new GetRecentDecisions(10), Wait);
            Assert.Equal([("engine", 7L), ("engine", 8L)], recent.Decisions.Select(d => (d.Subsystem, d.Sequence)));
        }, Wait);
        var kept = (await log.Ask<RecentDecisions>(new GetRecentDecisions(2), Wait)).Decisions.First();
        Assert.Equal(T0.AddSeconds(7), kept.At);
        Assert.Equal(0.9, kept.Inputs[MetricNames.VramUtil]);
    }

    [Fact]
    public void A_recovered_batch_is_folded_in_by_decision_time_without_counting_a_decision_twice()
    {
        var log = Sys.ActorOf(DecisionLogActor.Props(capacity: 10));
        log.Tell(D("engine", 2, 2));
        log.Tell(D("engine", 3, 3));

        // An actuator that restarts publishes what it replays from its journal, live decisions included.
        var replayed = new RecentDecisions([D("engine", 1, 1), D("engine", 2, 2), D("engine", 3, 3)]);
        log.Tell(replayed);
        log.Tell(replayed); // and again after a second failover
        log.Tell(D("engine", 3, 3)); // a live copy arriving late over pub-sub

        Assert.Equal([("engine", 1L), ("engine", 2L), ("engine", 3L)], Query(log, 10));
        // Not a duplicate: same sequence, another action or another time (a decision that was not sent has sequence 0).
        log.Tell(D("engine", 3, 3, ActionNames.Throttle));
        log.Tell(D("engine", 0, 4));
        log.Tell(D("engine", 0, 5));
        Assert.Equal(6, Query(log, 10).Count());
    }

    [Fact]
    public void A_recovered_batch_of_older_decisions_does_not_push_newer_ones_out_of_a_full_log()
    {
        var log = Sys.ActorOf(DecisionLogActor.Props(capacity: 3));
        log.Tell(D("engine-b", 4, 4));
        log.Tell(D("engine-b", 5, 5));
        log.Tell(D("engine-b", 6, 6));

        log.Tell(new RecentDecisions([D("engine-a", 1, 1), D("engine-a", 2, 2), D("engine-a", 3, 3)]));
        Assert.Equal([("engine-b", 4L), ("engine-b", 5L), ("engine-b", 6L)], Query(log, 10));

        // A recovered decision newer than some kept ones takes its place in time order and evicts the oldest.
        log.Tell(new RecentDecisions([D("engine-a", 9, 5.5)]));
        Assert.Equal([("engine-b", 5L), ("engine-a", 9L), ("engine-b", 6L)], Query(log, 10));
        // An evicted decision delivered again is still older than everything kept.
        log.Tell(new RecentDecisions([D("engine-b", 4, 4)]));
        Assert.Equal([("engine-b", 5L), ("engine-a", 9L), ("engine-b", 6L)], Query(log, 10));
    }
}
