using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Contracts.Tests;

/// <summary>The recording's messages cross nodes (the CLI pages through every node's recording): each round-trips by its manifest.</summary>
public sealed class RecordingMessagesSpecs() : Akka.TestKit.Xunit2.TestKit(ScarcitySerialization.Config)
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 1, 0, 0, TimeSpan.Zero);

    public static IEnumerable<object[]> Messages()
    {
        var sample = TelemetryRecord.Of(new Sample("gpu-01", At, [new(MetricNames.VramUtil, 0.91), new("vram_util{gpu=\"1\"}", 0.4)], ["psi_io"]));
        var report = TelemetryRecord.Of(new ReportMetrics("engine", "gpu-01", ImmutableDictionary<string, double>.Empty.Add("latency_ms", 512).Add("context_k", 8), At));
        var registration = TelemetryRecord.Of(new RegisterSubsystem("engine", "gpu-01", 2, ["reduce_batch", "throttle"], ActorRefs.Nobody, 250), At);
        object[] all =
        [
            sample, report, registration, TelemetryRecord.EvaluatedAt("gpu-01", At),
            new GetRecording(At, At.AddHours(1), "gpu-01", "3:4096:17", 2000, "akka.tcp://scarcity@127.0.0.1:4053"),
            new GetRecording(At, At.AddHours(1), null, null, 10),
            new RecordingPage("akka.tcp://scarcity@127.0.0.1:4053", [sample, report, registration], "3:4096:18", true),
            new RecordingPage("akka.tcp://scarcity@127.0.0.1:4054", [], null, false),
        ];
        return all.Select(m => new[] { m });
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Round_trips_by_its_manifest(object message)
    {
        var (_, back) = ManifestRoundTrip.Of(Sys, message);

        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(JsonSerializer.Serialize(message, message.GetType()), JsonSerializer.Serialize(back, back.GetType()));
    }
}
