using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary>
/// A 3-node cluster whose governor nodes record telemetry (real segment files), governing one subsystem under
/// <see cref="LivePolicy"/> through a VRAM surge of 40 s of sample time; the specs replay it with the CLI.
/// </summary>
public sealed class RecordedClusterFixture : IAsyncLifetime
{
    public const string Host = "gpu-r";
    public const string Subsystem = "replay_engine";

    /// <summary>The live policy: vram_util raw above 0.85 halves the batch, every second while it stays; recovery after 2 s.</summary>
    public const string LivePolicy = """
        { "Policy": { "Cooldown": "00:00:01", "RecoveryDelay": "00:00:02", "RecoveryInterval": "00:00:01", "IneffectiveAfterCuts": 0,
          "LearnBatchResponse": false, "LatencyAdmission": false,
          "Policies": { "*": [ { "Metric": "vram_util", "Threshold": 0.85, "Release": 0.8, "Action": "reduce_batch", "Factor": 0.5, "Signal": "Raw" } ] } } }
        """;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), $"scarcity-replay-{Guid.NewGuid():N}");
    public CliCluster Cluster { get; private set; } = null!;
    public string LiveFile => Path.Combine(Directory, "live.json");
    public string LowerFile => Path.Combine(Directory, "lower.json");
    public DateTimeOffset Base { get; private set; }
    public string From => Base.AddSeconds(-30).ToString("O", CultureInfo.InvariantCulture);
    public string To => Base.AddMinutes(2).ToString("O", CultureInfo.InvariantCulture);
    public JsonElement LiveDecisions { get; private set; }

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        await File.WriteAllTextAsync(LiveFile, LivePolicy);
        await File.WriteAllTextAsync(LowerFile, LivePolicy.Replace("\"Threshold\": 0.85, \"Release\": 0.8", "\"Threshold\": 0.7, \"Release\": 0.65", StringComparison.Ordinal));
        var live = PolicyFile.LoadConfig(LiveFile, "--config");
        Cluster = await CliCluster.StartAsync(c =>
        {
            c.Policy = live.Policy;
            c.Recording.Enabled = true;
            c.Recording.Directory = Path.Combine(Directory, "recording-" + c.Host);
            c.Recording.FlushInterval = TimeSpan.FromMilliseconds(100);
        });

        var governor = Cluster.Nodes[1];
        var registered = new TaskCompletionSource<SubsystemRegistered>();
        var engine = governor.System.ActorOf(Props.Create(() => new RegisteredEngine(registered)));
        governor.Policy.Tell(new RegisterSubsystem(Subsystem, Host, 1, [ActionNames.ReduceBatch], engine), engine);
        await registered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(2)); // the actuator's attach reaches the host's profiler before the first sample

        Base = DateTimeOffset.UtcNow;
        for (var i = 0; i < 160; i++)
        {
            var vram = i < 20 ? 0.5 : i < 80 ? 0.5 + (i - 20) * 0.0075 : i < 120 ? 0.95 : 0.3;
            governor.Profilers.Tell(new Sample(Host, Base.AddSeconds(i * 0.25), [new(MetricNames.VramUtil, vram), new(MetricNames.CpuUtil, 0.2)], []));
        }

        // The journal has them all once the count stops changing.
        var last = -1;
        var stableFor = 0;
        for (var attempt = 0; attempt < 60 && stableFor < 3; attempt++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var run = await CliRun.Of("actions", "--json", "--subsystem", Subsystem, "--limit", "1000", "--contact", Cluster.Nodes[0].Address);
            var count = run.ExitCode == 0 ? run.Json.GetProperty("decisions").GetArrayLength() : -1;
            stableFor = count > 0 && count == last ? stableFor + 1 : 0;
            last = count;
            if (count > 0) LiveDecisions = run.Json.GetProperty("decisions").Clone();
        }
        Assert.True(stableFor >= 3, $"the live decisions never settled (last count {last})");
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>An engine that says when it is registered and acknowledges every Throttle.</summary>
internal sealed class RegisteredEngine : ReceiveActor
{
    public RegisteredEngine(TaskCompletionSource<SubsystemRegistered> registered)
    {
        Receive<SubsystemRegistered>(r => registered.TrySetResult(r));
        Receive<Throttle>(t => Sender.Tell(new ThrottleAck(t.Subsystem, t.Sequence, true, "applied")));
    }
}

/// <summary><c>scarcity replay</c> and <c>scarcity policies diff --live</c> against recordings of a real cluster.</summary>
public sealed class CliReplaySpecs(RecordedClusterFixture fixture) : IClassFixture<RecordedClusterFixture>
{
    private string Contact => fixture.Cluster.Nodes[0].Address;

    private static async Task<CliRun> Ok(params string[] args)
    {
        var run = await CliRun.Of(args);
        Assert.True(run.ExitCode == 0, run.ToString());
        return run;
    }

    private static JsonElement Comparison(CliRun run) =>
        run.Json.GetProperty("subsystems").EnumerateArray().Single(s => s.GetProperty("subsystem").GetString() == RecordedClusterFixture.Subsystem);

    [Fact]
    public async Task Replaying_the_recording_with_the_live_policy_takes_the_decisions_the_actors_took()
    {
        var run = await Ok("replay", "--json", "--from", fixture.From, "--to", fixture.To, "--host", RecordedClusterFixture.Host,
            "--config", fixture.LiveFile, "--contact", Contact);

        var comparison = Comparison(run);
        var live = comparison.GetProperty("live").GetInt32();
        Assert.True(live >= 3, run.Out); // cuts while VRAM is high, then recovery steps
        Assert.Equal(fixture.LiveDecisions.GetArrayLength(), live);
        Assert.Equal(live, comparison.GetProperty("candidate").GetInt32());
        Assert.Equal(live, comparison.GetProperty("same").GetInt32());
        Assert.Empty(comparison.GetProperty("firstDifferences").EnumerateArray());
        Assert.Equal(2, run.Json.GetProperty("source").GetArrayLength()); // both governor nodes record
    }

    [Fact]
    public async Task A_candidate_with_a_lower_threshold_decides_earlier_than_the_live_policy_did()
    {
        var run = await Ok("replay", "--json", "--from", fixture.From, "--to", fixture.To, "--host", RecordedClusterFixture.Host,
            "--config", fixture.LowerFile, "--contact", Contact);

        DateTimeOffset First(string side) => run.Json.GetProperty(side).EnumerateArray()
            .Where(d => d.GetProperty("subsystem").GetString() == RecordedClusterFixture.Subsystem).Select(d => d.GetProperty("at").GetDateTimeOffset()).Min();
        Assert.True(First("candidate") < First("live").AddSeconds(-3), run.Out); // 0.7 is crossed 20 samples before 0.85
        Assert.True(Comparison(run).GetProperty("firstDifferences").GetArrayLength() > 0);
    }

    [Fact]
    public async Task Policies_diff_live_shows_both_sides_per_subsystem_with_counts_and_the_first_differences()
    {
        var run = await Ok("policies", "diff", "--live", fixture.LowerFile, "--from", fixture.From, "--to", fixture.To, "--host", RecordedClusterFixture.Host,
            "--contact", Contact);

        Assert.Contains($"policies diff --live {fixture.LowerFile}", run.Out);
        Assert.Matches($@"{RecordedClusterFixture.Subsystem}: live {fixture.LiveDecisions.GetArrayLength()} decision\(s\), candidate \d+, \d+ the same; first differences:", run.Out);
        Assert.Matches(@"#1\s+live \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+reduce_batch 1 -> 0\.5\s+\| candidate \d{4}-", run.Out);
    }

    [Fact]
    public async Task Replay_plot_writes_a_png_of_the_series_and_both_levels()
    {
        var png = Path.Combine(fixture.Directory, "replay.png");

        var run = await Ok("replay", "--from", fixture.From, "--to", fixture.To, "--host", RecordedClusterFixture.Host, "--config", fixture.LowerFile,
            "--plot", png, "--contact", Contact);

        Assert.Contains($"plot: {png}", run.Out);
        var bytes = await File.ReadAllBytesAsync(png);
        Assert.True(bytes.Length > 10_000, $"{bytes.Length} bytes");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
    }

    [Fact]
    public async Task Replay_of_a_window_with_nothing_recorded_says_so()
    {
        var run = await Ok("replay", "--from", "2001-01-01T00:00:00Z", "--to", "2001-01-01T01:00:00Z", "--contact", Contact);

        Assert.Contains("0 records", run.Out);
        Assert.Contains("no subsystem decided anything in the window", run.Out);
    }
}

/// <summary>What <c>replay</c> checks before it connects, and a trace replayed offline.</summary>
public sealed class CliReplayOfflineSpecs : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"scarcity-replay-offline-{Guid.NewGuid():N}");

    public CliReplayOfflineSpecs() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Trace(string name) => Path.Combine(RepoRoot(), "tests", "traces", name);

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Scarcity.Actors.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("no Scarcity.Actors.sln above the test binaries");
    }

    [Theory]
    [InlineData("--from", "yesterday", "--from 'yesterday' is neither an ISO 8601 time")]
    [InlineData("--to", "-1q", "--to '-1q' is neither an ISO 8601 time")]
    [InlineData("--to", "-2h", "--to (")]
    public async Task A_bad_from_or_to_is_a_usage_error_naming_the_option(string option, string value, string message)
    {
        var run = await CliRun.Of("replay", "--from", option == "--from" ? value : "-1h", "--to", option == "--to" ? value : "now", "--contact", "127.0.0.1:1");

        Assert.Equal(ExitCodes.Usage, run.ExitCode);
        Assert.Contains(message, run.Err);
        if (message == "--to (") Assert.Contains("must be after --from", run.Err);
    }

    [Fact]
    public async Task A_bad_config_names_the_file_and_every_bad_key_before_connecting()
    {
        var file = Path.Combine(_dir, "bad.json");
        await File.WriteAllTextAsync(file, """{ "Policy": { "Cooldown": "-00:00:01", "Policies": { "*": [ { "Metric": "vram_utl", "Threshold": 0.85, "Action": "reduce_batch", "Factor": 0.5 } ] } } }""");

        var run = await CliRun.Of("replay", "--config", file, "--contact", "127.0.0.1:1");
        var missing = await CliRun.Of("replay", "--config", Path.Combine(_dir, "none.json"), "--contact", "127.0.0.1:1");

        Assert.Equal(ExitCodes.Error, run.ExitCode);
        Assert.Contains($"--config {file}: invalid policy", run.Err);
        Assert.Contains("Scarcity:Policy:Cooldown", run.Err);
        Assert.Contains("Scarcity:Policy:Policies:*:0:Metric", run.Err);
        Assert.Equal(ExitCodes.Usage, missing.ExitCode);
        Assert.Contains("--config: cannot read", missing.Err);
        Assert.Contains("no such file", missing.Err);
    }

    [Fact]
    public async Task A_trace_replays_offline_prints_the_decisions_and_plots_them()
    {
        var png = Path.Combine(_dir, "trace.png");

        var run = await CliRun.Of("replay", "--trace", Trace("vram-step.csv"), "--plot", png);
        var json = await CliRun.Of("replay", "--json", "--trace", Trace("vram-step.csv"));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("reduce_batch 1 -> 0.5", run.Out);
        Assert.Contains("trace_engine: candidate", run.Out);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], (await File.ReadAllBytesAsync(png))[..4]);
        var first = json.Json.GetProperty("candidate")[0];
        Assert.Equal("reduce_batch", first.GetProperty("action").GetString());
        Assert.Equal(0.5, first.GetProperty("level").GetDouble());
    }

    [Fact]
    public async Task A_trace_with_from_or_to_is_a_usage_error()
    {
        var run = await CliRun.Of("replay", "--trace", Trace("vram-step.csv"), "--from", "-1h");

        Assert.Equal(ExitCodes.Usage, run.ExitCode);
        Assert.Contains("a --trace is replayed whole", run.Err);
    }
}
