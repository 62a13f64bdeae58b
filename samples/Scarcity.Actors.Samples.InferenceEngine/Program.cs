using System.Diagnostics;
using System.Globalization;
using Scarcity.Actors.Client;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Simulation;

// A simulated GPU inference engine governed from another process: the one engine model (Scarcity.Actors.Simulation)
// stepped every 0.25 s through a scenario with the levels the governor sent, reporting latency_ms, queue_depth and
// vram_util. Real engines get vram_util from NVML on their host (the governor's own sensor); a simulated GPU lives only
// in this process, so the sample reports it as an app metric (vram_util{subsystem="<name>"}, which rules on vram_util
// read first).
//
// Usage: --contact akka.tcp://scarcity@127.0.0.1:4053 [--contact ...] [--name inference_engine] [--host <machine>]
//        [--scenario demo|context-surge|traffic-burst|idle] [--priority 10] [--connect-timeout 10]
// Output, one line per event (parsed by the specs): "registered ...", "applied seq=N action=A level=L ts=T",
// "level action=A level=L source=registration", "declined ...", "rejected: ...", and "t=..." every 5 s.
// Exit code 2: bad arguments. A rejected registration is printed and retried (the name may be freed when its holder dies).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var contacts = new List<string>();
string name = "inference_engine", host = Environment.MachineName, scenarioName = "demo";
var priority = 10;
var connectTimeout = TimeSpan.FromSeconds(10);
try
{
    for (var i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--contact": contacts.AddRange(Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)); break;
            case "--name": name = Next(); break;
            case "--host": host = Next(); break;
            case "--scenario": scenarioName = Next(); break;
            case "--priority": priority = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--connect-timeout": connectTimeout = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)); break;
            default: throw new ArgumentException($"unknown argument '{args[i]}'");
        }
    }
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    return Fail(2, e.Message);
}

Scenario? scenario = scenarioName switch
{
    "demo" => Scenario.Demo,
    "context-surge" => Scenario.ContextSurge,
    "traffic-burst" => Scenario.TrafficBurst,
    "idle" => null, // registers and applies levels, runs no engine, reports nothing (benchmarks, specs)
    _ => null,
};
if (scenario is null && scenarioName != "idle")
    return Fail(2, $"--scenario must be demo, context-surge, traffic-burst or idle, was '{scenarioName}'");

var options = new GovernedSubsystemOptions { Name = name, Host = host, Priority = priority, Contacts = contacts,
    ConnectTimeout = connectTimeout, ExtraHocon = "akka.loglevel = INFO" };
foreach (var action in new[] { ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad })
{
    options.On(action, (level, throttle) =>
    {
        if (!(level > 0 && level <= 1))
        {
            Console.WriteLine($"declined seq={throttle?.Sequence ?? 0} action={action} level={level}: engine levels are in (0, 1]");
            return false;
        }
        Console.WriteLine(throttle is null
            ? $"level action={action} level={level:0.####} source=registration"
            : $"applied seq={throttle.Sequence} action={action} level={level:0.####} ts={Stopwatch.GetTimestamp()} reason=\"{throttle.Reason}\"");
        return true;
    });
}

GovernedSubsystem governed;
try
{
    governed = GovernedSubsystem.Start(options);
}
catch (ArgumentException e)
{
    return Fail(2, e.Message);
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
governed.Registered += (_, r) =>
    Console.WriteLine($"registered name={name} host={host} last={r.LastSequence} levels={Levels()}");
governed.Rejected += (_, reason) => Console.WriteLine($"rejected: registration of '{name}' refused by the governor: {reason}");

Console.WriteLine($"engine {name} on {host}, scenario {scenarioName}, contacts {string.Join(", ", contacts)}");
var model = new InferenceEngineModel();
using var timer = new PeriodicTimer(TimeSpan.FromSeconds(InferenceEngineModel.Dt));
try
{
    while (await timer.WaitForNextTickAsync(stop.Token))
    {
        if (scenario is null)
        {
            model.Step(0, 0, EngineLevels.Unrestricted); // only the clock moves
            if (model.Steps % 20 == 0) Console.WriteLine($"t={model.Time:0}s registered={governed.IsRegistered} levels={Levels()}");
            continue;
        }
        var levels = new EngineLevels(
            governed.LevelOf(ActionNames.ReduceBatch), governed.LevelOf(ActionNames.Throttle), governed.LevelOf(ActionNames.ShedLoad));
        model.Step(scenario.At(model.Time % scenario.Duration.TotalSeconds), levels);
        governed.Report(new Dictionary<string, double>
        {
            [MetricNames.LatencyMs] = model.LatencyMs,
            [MetricNames.QueueDepth] = model.Queue,
            [MetricNames.VramUtil] = model.VramUtil,
        });
        if (model.Steps % 20 == 0)
            Console.WriteLine($"t={model.Time:0}s batch={model.Batch} vram={model.VramUtil:0.###} latency={model.LatencyMs:0}ms queue={model.Queue:0.#} ooms={model.Scores.Ooms} levels={Levels()}");
    }
}
catch (OperationCanceledException)
{
}

await governed.DisposeAsync();
return 0;

string Levels() => string.Join(",", new[] { ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad }
    .Select(a => $"{a}={governed.LevelOf(a):0.####}"));

static int Fail(int code, string message)
{
    Console.Error.WriteLine("error: " + message);
    return code;
}
