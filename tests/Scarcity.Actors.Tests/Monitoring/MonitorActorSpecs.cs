using System.Collections.Immutable;
using Akka.Actor;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Monitoring;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Monitoring;

/// <summary>
/// The fleet view, fed digests as the event bus delivers them: each host's newest profile as it arrived (kept in place
/// between digests), and the count of the subsystems on one host (what the registration front door's bound per host asks
/// for each registration).
/// </summary>
public sealed class MonitorActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly IActorRef _monitor;

    public MonitorActorSpecs(ITestOutputHelper output) : base(ActorSpecConfig.LocalNode, output: output) =>
        _monitor = Sys.ActorOf(MonitorActor.Props(TimeSpan.FromSeconds(10)), "monitor");

    private static SubsystemStatus Status(string name, string host) =>
        new(name, host, 1, ImmutableDictionary<string, double>.Empty, 0, 0, true, []);

    private void Digest(params SubsystemStatus[] statuses) =>
        _monitor.Tell(new SubsystemDigest("node", T0, [.. statuses], []));

    private int CountOn(string host, string except)
    {
        _monitor.Tell(new CountSubsystemsOnHost(host, except), TestActor);
        var answer = ExpectMsg<SubsystemsOnHost>(Wait);
        Assert.Equal(host, answer.Host);
        return answer.Count;
    }

    private static HostProfile Profile(string host, DateTimeOffset at, params (string Series, double Raw, bool Stale)[] series) =>
        new(host, at, PressureLevel.Yellow, ImmutableDictionary.CreateRange(StringComparer.Ordinal, series.Select(s =>
            KeyValuePair.Create(s.Series, new MetricEstimate(s.Raw, s.Raw - 0.01, s.Raw + 0.01, 0.002, s.Raw + 0.05, 0.03, at.AddMilliseconds(-s.Raw), s.Stale)))));

    private void Telemetry(params TelemetryPublished[] hosts) => _monitor.Tell(new TelemetryDigest("node", T0, [.. hosts]));

    private GovernorStatus View(IActorRef monitor)
    {
        monitor.Tell(GetGovernorStatus.Instance, TestActor);
        return ExpectMsg<GovernorStatus>(Wait);
    }

    private static string Json(object o) => System.Text.Json.JsonSerializer.Serialize(o);

    [Fact]
    public void The_view_shows_each_hosts_newest_profile_as_it_arrived_whatever_series_come_and_go()
    {
        var first = Profile("gpu-01", T0, ("vram_util", 0.5, false), ("cpu_util", 0.2, true));
        var other = Profile("gpu-02", T0, ("vram_util", 0.7, false));
        Telemetry(new TelemetryPublished(first, 3), new TelemetryPublished(other, 1));
        var view = View(_monitor);
        Assert.Equal(Json(first), Json(view.Hosts["gpu-01"]));
        Assert.Equal(Json(other), Json(view.Hosts["gpu-02"]));
        Assert.Equal(4, view.RejectedSamples);

        // The next profiles: new numbers; on gpu-01 a series gone and two new, on gpu-02 one series renamed.
        var second = Profile("gpu-01", T0.AddSeconds(1), ("vram_util", 0.6, false), ("gpu_temp_c", 71, false), ("disk_read_mb", 3, true));
        var renamed = Profile("gpu-02", T0.AddSeconds(1), ("mem_util", 0.4, false));
        Telemetry(new TelemetryPublished(second, 5), new TelemetryPublished(renamed, 1));
        view = View(_monitor);
        Assert.Equal(Json(second), Json(view.Hosts["gpu-01"]));
        Assert.Equal(Json(renamed), Json(view.Hosts["gpu-02"]));
        Assert.Equal(6, view.RejectedSamples);

        // An older profile arriving late (two nodes reporting a host after a failover) changes nothing.
        Telemetry(new TelemetryPublished(first, 9));
        view = View(_monitor);
        Assert.Equal(Json(second), Json(view.Hosts["gpu-01"]));
        Assert.Equal(6, view.RejectedSamples);
    }

    [Fact]
    public void A_host_whose_profiles_stop_arriving_shows_every_series_stale_after_the_stale_span()
    {
        var monitor = Sys.ActorOf(MonitorActor.Props(TimeSpan.FromSeconds(2)), "short-monitor");
        var profile = Profile("gpu-01", T0, ("vram_util", 0.5, false), ("cpu_util", 0.2, true));
        monitor.Tell(new TelemetryDigest("node", T0, [new TelemetryPublished(profile, 0)]));
        // Fresh first (the digest was just received), then stale once the span has passed with nothing more.
        AwaitAssert(() =>
        {
            var shown = View(monitor).Hosts["gpu-01"];
            Assert.All(shown.Metrics.Values, m => Assert.True(m.Stale));
            Assert.Equal(Json(profile with { Metrics = profile.Metrics.ToImmutableDictionary(m => m.Key, m => m.Value with { Stale = true }) }), Json(shown));
        }, Wait, TimeSpan.FromMilliseconds(100));
        // A new profile makes it fresh again.
        var next = Profile("gpu-01", T0.AddSeconds(1), ("vram_util", 0.4, false), ("cpu_util", 0.2, false));
        monitor.Tell(new TelemetryDigest("node", T0, [new TelemetryPublished(next, 0)]));
        Assert.Equal(Json(next), Json(View(monitor).Hosts["gpu-01"]));
    }

    [Fact]
    public void It_counts_the_subsystems_of_a_host_without_the_one_asking_and_each_name_once()
    {
        Digest(Status("engine-1", "gpu-01"), Status("engine-2", "gpu-01"), Status("other", "gpu-02"));
        Digest(Status("engine-1", "gpu-01")); // a newer status of a known subsystem is not a second one

        Assert.Equal(2, CountOn("gpu-01", "engine-3"));
        Assert.Equal(1, CountOn("gpu-01", "engine-2"));
        Assert.Equal(1, CountOn("gpu-02", "engine-1"));
        Assert.Equal(0, CountOn("gpu-03", "engine-1"));
    }

    [Fact]
    public void A_subsystem_that_registers_on_another_host_counts_on_its_new_host_only()
    {
        Digest(Status("engine-1", "gpu-01"), Status("engine-2", "gpu-01"));

        Digest(Status("engine-2", "gpu-02"));

        Assert.Equal(1, CountOn("gpu-01", "new"));
        Assert.Equal(1, CountOn("gpu-02", "new"));
        Digest(Status("engine-1", "gpu-02"));
        Assert.Equal(0, CountOn("gpu-01", "new"));
        Assert.Equal(2, CountOn("gpu-02", "new"));
    }

    [Fact]
    public void The_registration_front_door_rejects_a_new_name_on_a_host_at_its_bound_by_this_count()
    {
        Digest(Status("engine-1", "gpu-01"), Status("engine-2", "gpu-01"));
        var actuators = CreateTestProbe("actuators");
        var registration = Sys.ActorOf(Scarcity.Actors.Registration.RegistrationActor.Props(actuators.Ref, maxSubsystemsPerHost: 2), "registration");
        var subsystem = CreateTestProbe("subsystem");
        var register = new RegisterSubsystem("engine-3", "gpu-01", 1, [ActionNames.ReduceBatch], subsystem.Ref);

        registration.Tell(register, subsystem.Ref);

        Assert.Equal("host 'gpu-01' already has 2 registered subsystems, the most one host may have (Scarcity:Operations:MaxSubsystemsPerHost = 2)",
            subsystem.ExpectMsg<RegistrationRejected>(Wait).Reason);
        registration.Tell(register with { Name = "engine-2" }, subsystem.Ref);
        Assert.Equal("engine-2", actuators.ExpectMsg<RegisterSubsystem>(Wait).Name);
    }
}
