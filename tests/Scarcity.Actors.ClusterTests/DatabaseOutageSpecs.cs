using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Scarcity.Actors.ClusterTests.Harness;
using Scarcity.Actors.Contracts;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// Issue 17, item 1: a governor process on a PostgreSQL of this spec's own, three subsystems (in this test process,
/// through ClusterClient) whose hosts run hot, so that every 2 s each needs a Throttle. PostgreSQL is stopped
/// (<c>pg_ctl stop -m fast</c>) for 25 s and started again. Throughout, Throttles keep arriving with increasing sequences
/// and are acked; <c>/readyz</c> and the status the CLI reads say the database is down; the node logs a bounded number
/// of lines; a subsystem that registers during the outage is governed once the database is back. Afterwards the journal,
/// read straight from PostgreSQL, holds each subsystem's decisions once, in order, with every sequence it received.
/// </summary>
public sealed partial class DatabaseOutageSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const int Subsystems = 3;
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(25);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly ITestOutputHelper _output;

    public DatabaseOutageSpecs(ITestOutputHelper output) : base(GovernorProbe.Hocon, "outage-probe", output) => _output = output;

    [Fact]
    public async Task Governing_survives_a_PostgreSQL_outage_and_the_journal_gets_every_decision_once_in_order_afterwards()
    {
        using var postgres = new OwnPostgres();
        var port = RepoPaths.FreePort();
        var metricsPort = RepoPaths.FreePort();
        var clock = Stopwatch.StartNew();
        await using var node = NodeProcess.Start(new NodeOptions("outage-node", "gpu-outage-1", port, [], postgres.ConnectionString,
            Roles: ["governor"], MetricsPort: metricsPort, StableAfterSeconds: 5,
            // The same hot host drives every Throttle: without the effect check, which would hold after two cuts.
            ExtraArgs: ["--Scarcity:Policy:Cooldown=00:00:02", "--Scarcity:Policy:MinLevel=0.0001", "--Scarcity:Persistence:WriteRetryMax=00:00:02",
                "--Scarcity:Policy:IneffectiveAfterCuts=0"]));
        var probe = new GovernorProbe(Sys);
        using var feeding = new CancellationTokenSource();
        void Log(string what) => _output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  {what}");
        try
        {
            await probe.AwaitStatusAsync(port, _ => true, TimeSpan.FromSeconds(120), "the node's monitor");
            Log("node up");

            var throttles = Enumerable.Range(0, Subsystems + 1).Select(_ => new ConcurrentQueue<(DateTimeOffset At, Throttle Throttle)>()).ToArray();
            Task Register(int i)
            {
                var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var queue = throttles[i];
                var subsystem = Sys.ActorOf(AckingSubsystem<(DateTimeOffset At, Throttle Throttle)>.Props(queue, registered, (t, _) => (DateTimeOffset.UtcNow, t)), $"outage-y{i}");
                var register = new RegisterSubsystem($"ct-db-{i}", $"ct-db-host-{i}", 1,
                    [ActionNames.Throttle, ActionNames.ReduceBatch, ActionNames.ShedLoad], subsystem);
                // Registers again every 2 s until answered, as the clients do (RegisterInterval): during an outage the
                // actuator's start needs a remembered-entity write, and a shard whose write fails restarts without it.
                _ = Task.Run(async () =>
                {
                    do probe.Send(port, ServicePaths.Policy, register, subsystem);
                    while (await Task.WhenAny(registered.Task, Task.Delay(TimeSpan.FromSeconds(2))) != registered.Task);
                });
                return registered.Task;
            }
            for (var i = 0; i < Subsystems; i++) await Register(i).WaitAsync(TimeSpan.FromSeconds(60));

            // Every host at cpu_util 0.95: the default rule throttles x0.7 per cooldown (2 s here), down to 0.0001.
            var feeder = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
                while (await timer.WaitForNextTickAsync(feeding.Token))
                    for (var i = 0; i <= Subsystems; i++)
                        probe.Send(port, ServicePaths.Profilers, new Sample($"ct-db-host-{i}", DateTimeOffset.UtcNow,
                            [new MetricValue(MetricNames.CpuUtil, 0.95)], []));
            });
            await AwaitAsync(() => throttles.Take(Subsystems).All(q => q.Count >= 2), TimeSpan.FromSeconds(60), "two Throttles for every subsystem");
            await AwaitReadyAsync(metricsPort, HttpStatusCode.OK, TimeSpan.FromSeconds(60));
            Log("governing, ready; stopping PostgreSQL");

            var linesBefore = node.Lines.Count;
            postgres.Stop();
            var stoppedAt = DateTimeOffset.UtcNow;
            Log("PostgreSQL stopped");

            // During the outage: readiness and the status (what `scarcity subsystems` prints) say so; a newcomer registers.
            var (notReady, readyBody) = await AwaitReadyAsync(metricsPort, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(20));
            Log($"/readyz {(int)notReady}: {readyBody}");
            Assert.Contains("unreachable", readyBody, StringComparison.OrdinalIgnoreCase);
            var down = await probe.AwaitStatusAsync(port, s => s.Subsystems.Values.Any(x => x.JournalError is not null),
                TimeSpan.FromSeconds(20), "a subsystem whose journal writes fail");
            var failing = down.Subsystems.Values.First(x => x.JournalError is not null);
            Log($"status: {failing.Name} journal error '{failing.JournalError}', {failing.Unjournaled} waiting");
            var newcomer = Register(Subsystems);
            var remaining = Outage - (DateTimeOffset.UtcNow - stoppedAt);
            if (remaining > TimeSpan.Zero) await Task.Delay(remaining); // the outage itself: the load goes on meanwhile

            // Warnings and errors only: the status lines every 2 s and the decisions (information) are the normal output.
            var outageLines = node.Lines.Skip(linesBefore).Where(l => LogProblem().IsMatch(l)).ToList();
            postgres.Start();
            var restartedAt = DateTimeOffset.UtcNow;
            Log($"PostgreSQL started again after {(restartedAt - stoppedAt).TotalSeconds:0.0} s; the node logged {outageLines.Count} warnings and errors meanwhile");
            foreach (var line in outageLines.Take(60)) _output.WriteLine("    | " + (line.Length > 300 ? line[..300] + "..." : line));

            // Throttles kept coming during the outage, in sequence, each acked (the recorder acks every one).
            for (var i = 0; i < Subsystems; i++)
            {
                var during = throttles[i].Where(t => t.At > stoppedAt.AddSeconds(2) && t.At < restartedAt).Select(t => t.Throttle.Sequence).ToList();
                Log($"ct-db-{i}: {during.Count} Throttles during the outage, seq {string.Join(",", during)}");
                Assert.True(during.Count >= 3, $"ct-db-{i} got {during.Count} Throttles during a {Outage.TotalSeconds:0} s outage");
                Assert.Equal(during.Order(), during);
            }
            Assert.True(outageLines.Count <= 40, $"{outageLines.Count} warnings and errors during the outage");

            // Back: the buffered decisions are written, readiness returns, the newcomer is governed.
            await probe.AwaitStatusAsync(port,
                s => Enumerable.Range(0, Subsystems).All(i => s.Subsystems.TryGetValue($"ct-db-{i}", out var x) && x.JournalError is null && x.Unjournaled == 0),
                TimeSpan.FromSeconds(120), "every journal written after the outage");
            Log($"journals written {(DateTimeOffset.UtcNow - restartedAt).TotalSeconds:0.0} s after the restart");
            await AwaitReadyAsync(metricsPort, HttpStatusCode.OK, TimeSpan.FromSeconds(60));
            Log($"ready again {(DateTimeOffset.UtcNow - restartedAt).TotalSeconds:0.0} s after the restart");
            await newcomer.WaitAsync(TimeSpan.FromSeconds(60));
            await AwaitAsync(() => !throttles[Subsystems].IsEmpty, TimeSpan.FromSeconds(60), "a Throttle for the subsystem that registered during the outage");
            Log($"the newcomer is registered and governed {(DateTimeOffset.UtcNow - restartedAt).TotalSeconds:0.0} s after the restart");
            feeding.Cancel();
            await feeder.ContinueWith(_ => { });
            await probe.AwaitStatusAsync(port, s => s.Subsystems.Values.All(x => x.Unjournaled == 0), TimeSpan.FromSeconds(60), "the last writes");

            var metrics = await Http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics");
            var overflow = metrics.Split('\n').Where(l => l.StartsWith("scarcity_journal_overflow_total{", StringComparison.Ordinal)).ToList();
            Assert.All(overflow, l => Assert.EndsWith(" 0", l.Trim()));

            // The journal, straight from PostgreSQL: each subsystem's decisions once, in order, every received sequence there.
            var serializer = new ScarcitySerializer((ExtendedActorSystem)Sys);
            for (var i = 0; i <= Subsystems; i++)
            {
                var rows = postgres.Query(
                        $"SELECT sequence_number, encode(message, 'hex') FROM journal WHERE persistence_id = 'actuator-ct-db-{i}' AND manifest = 'decision.v1' ORDER BY ordering")
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(r => r.Split('|'))
                    .Select(c => (SequenceNr: long.Parse(c[0], System.Globalization.CultureInfo.InvariantCulture),
                        Decision: (Decision)serializer.FromBinary(Convert.FromHexString(c[1]), "decision.v1")))
                    .ToList();
                var journalSequenceNrs = rows.Select(r => r.SequenceNr).ToList();
                var sequences = rows.Select(r => r.Decision.Sequence).ToList();
                var received = throttles[i].Select(t => t.Throttle.Sequence).Distinct().Order().ToList();
                Log($"actuator-ct-db-{i}: {rows.Count} decisions in the journal (seq {sequences.FirstOrDefault()}..{sequences.LastOrDefault()}), {received.Count} received");
                Assert.Equal(journalSequenceNrs.Order(), journalSequenceNrs);          // journal order is decision order
                Assert.Equal(journalSequenceNrs.Distinct().Count(), journalSequenceNrs.Count);
                Assert.Equal(Enumerable.Range(1, sequences.Count).Select(s => (long)s), sequences); // none twice, none lost
                Assert.Subset(sequences.ToHashSet(), received.ToHashSet());
            }
        }
        catch
        {
            _output.WriteLine(node.Tail(80));
            throw;
        }
        finally
        {
            feeding.Cancel();
        }
    }

    private static async Task<(HttpStatusCode Status, string Body)> AwaitReadyAsync(int port, HttpStatusCode expected, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var last = "no answer";
        while (true)
        {
            try
            {
                using var response = await Http.GetAsync($"http://127.0.0.1:{port}/readyz");
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == expected) return (response.StatusCode, body);
                last = $"{(int)response.StatusCode}: {body}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"/readyz not {(int)expected} within {within.TotalSeconds:0} s; last {last}");
            await Task.Delay(500);
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\d\d:\d\d:\d\d (warn|fail|crit):|^\[(WARNING|ERROR)\]")]
    private static partial System.Text.RegularExpressions.Regex LogProblem();

    private static async Task AwaitAsync(Func<bool> condition, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not within {within.TotalSeconds:0} s");
            await Task.Delay(200);
        }
    }
}
