using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.TestKit;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Profiling;

/// <summary>
/// One <see cref="ProfilerActor"/> created directly (probes as the actuator region and the telemetry digest, the in-memory
/// journal): app metrics (<see cref="ReportMetrics"/>) count only from the actor that holds the subsystem, as its actuator
/// named it in <see cref="AttachSubsystem.Holder"/>. The profiler's other duties are in <see cref="ProfilerActorSpecs"/>.
/// </summary>
public sealed class ProfilerReportSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Host = "gpu-01";
    private const string Latency = "latency_ms{subsystem=\"engine\"}";

    private static readonly Config Hocon = ActorSpecConfig.LocalNode;

    private readonly TestProbe _actuators;
    private readonly TestProbe _digest;
    private readonly TestProbe _holder;
    private readonly TestProbe _impostor;

    public ProfilerReportSpecs(ITestOutputHelper output) : base(Hocon, "profiler-report-specs", output)
    {
        _actuators = CreateTestProbe("actuators");
        _digest = CreateTestProbe("digest");
        _holder = CreateTestProbe("holder");
        _impostor = CreateTestProbe("impostor");
    }

    private int _started;

    // An hour's interval: nothing turns stale and nothing is published but by a sample, so each spec decides when. Every
    // start gets its own actor name: the guardian frees a stopped child's name only when it handles the termination, which
    // can come after ExpectTerminated; recovery goes by the persistence id, the host's.
    private IActorRef Profiler(int snapshotEverySamples = 40) =>
        Sys.ActorOf(ProfilerActor.Props(Host, new ProfilerConfig { SnapshotEverySamples = snapshotEverySamples }, TimeSpan.FromHours(1),
            _actuators.Ref, _digest.Ref), $"profiler-{Host}-{++_started}");

    private AttachSubsystem Attach(TestProbe holder, string subsystem = "engine") =>
        new(Host, subsystem, ProfilerActor.HolderPathOf(holder.Ref, Sys));

    private static ReportMetrics Report(IActorRef? reporter, double latency, double seconds, string subsystem = "engine") =>
        new(subsystem, Host, ImmutableDictionary<string, double>.Empty.Add(MetricNames.LatencyMs, latency).Add(MetricNames.QueueDepth, 3),
            T0.AddSeconds(seconds), reporter);

    private TelemetryPublished Publish(IActorRef profiler, double seconds)
    {
        profiler.Tell(new Sample(Host, T0.AddSeconds(seconds), [new MetricValue(MetricNames.VramUtil, 0.5)], []));
        return _digest.FishForMessage<TelemetryPublished>(t => t.Profile.At == T0.AddSeconds(seconds), Wait);
    }

    [Fact]
    public void A_rejected_duplicates_reports_do_not_move_the_holders_metrics_and_count_as_rejected_readings()
    {
        var profiler = Profiler();
        profiler.Tell(Attach(_holder));
        profiler.Tell(Report(_holder.Ref, 100, 0.1));

        profiler.Tell(Report(_impostor.Ref, 900, 0.2));
        profiler.Tell(Report(_impostor.Ref, 950, 0.3));
        var telemetry = Publish(profiler, 1);

        Assert.Equal(100, telemetry.Profile.Metrics[Latency].Raw);
        Assert.Equal(100, telemetry.Profile.Metrics[Latency].Ema);
        Assert.Equal(T0.AddSeconds(0.1), telemetry.Profile.Metrics[Latency].UpdatedAt);
        Assert.Equal(4, telemetry.RejectedValues); // two reports of two values
        Assert.Equal(1 + 2, telemetry.ValuesProfiled); // the sample's reading and the holder's two
    }

    [Fact]
    public void A_report_that_does_not_name_its_reporter_or_whose_subsystem_has_no_holder_here_is_not_profiled()
    {
        var profiler = Profiler();
        profiler.Tell(Attach(_holder));

        profiler.Tell(Report(null, 900, 0.1));                       // a client older than the Reporter field
        profiler.Tell(Report(_holder.Ref, 900, 0.2, "unregistered")); // no actor holds that name on this host
        var telemetry = Publish(profiler, 1);

        Assert.DoesNotContain(telemetry.Profile.Metrics.Keys, k => k.Contains("subsystem=", StringComparison.Ordinal));
        Assert.Equal(4, telemetry.RejectedValues);
    }

    [Fact]
    public void A_refused_reporter_is_logged_once_not_per_report()
    {
        var profiler = Profiler();
        profiler.Tell(Attach(_holder));

        EventFilter.Warning(contains: "are not profiled").Expect(1, Wait, () =>
        {
            for (var i = 0; i < 5; i++) profiler.Tell(Report(_impostor.Ref, 900, i));
            Publish(profiler, 10);
        });
    }

    [Fact]
    public void When_the_actuator_names_a_new_holder_its_reports_count_and_the_former_holders_no_longer()
    {
        var profiler = Profiler();
        profiler.Tell(Attach(_holder));
        profiler.Tell(Report(_holder.Ref, 100, 0.1));
        Publish(profiler, 1);

        profiler.Tell(Attach(_impostor)); // the holder died; the other process registered and its actuator accepted it
        profiler.Tell(Report(_holder.Ref, 100, 1.5));
        profiler.Tell(Report(_impostor.Ref, 300, 1.6));
        var telemetry = Publish(profiler, 2);

        Assert.Equal(300, telemetry.Profile.Metrics[Latency].Raw);
        Assert.Equal(2, telemetry.RejectedValues);
    }

    [Fact]
    public void An_attach_without_a_holder_from_an_older_actuator_keeps_the_known_holder()
    {
        var profiler = Profiler();
        profiler.Tell(Attach(_holder));

        profiler.Tell(new AttachSubsystem(Host, "engine"));
        profiler.Tell(Report(_holder.Ref, 100, 0.1));
        var telemetry = Publish(profiler, 1);

        Assert.Equal(100, telemetry.Profile.Metrics[Latency].Raw);
        Assert.Equal(0, telemetry.RejectedValues);
    }

    [Theory]
    [InlineData(false)] // the AttachSubsystem event replayed from the journal
    [InlineData(true)]  // the holder taken from a snapshot (events before it are not replayed)
    public async Task The_holder_survives_a_restart_of_the_profiler(bool snapshot)
    {
        var first = Profiler(snapshotEverySamples: snapshot ? 1 : 1000);
        first.Tell(Attach(_holder));
        Publish(first, 1);
        if (snapshot)
            await AwaitAssertAsync(async () =>
            {
                var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
                var loaded = await store.Ask<LoadSnapshotResult>(
                    new LoadSnapshot(ProfilerActor.PersistenceIdFor(Host), SnapshotSelectionCriteria.Latest, long.MaxValue), Wait);
                var saved = Assert.IsType<ProfilerSnapshot>(loaded.Snapshot?.Snapshot);
                Assert.Equal(ProfilerActor.HolderPathOf(_holder.Ref, Sys), saved.Holders?["engine"]);
            }, Wait);

        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, Wait);
        var second = Profiler();
        second.Tell(Report(_impostor.Ref, 900, 1.5));
        second.Tell(Report(_holder.Ref, 100, 1.6));
        var telemetry = Publish(second, 2);

        Assert.Equal(100, telemetry.Profile.Metrics[Latency].Raw);
        Assert.Equal(2, telemetry.RejectedValues);
        _actuators.FishForMessage<EvaluateProfile>(e => e.Subsystem == "engine" && e.Profile.At == T0.AddSeconds(2), Wait);
    }
}
