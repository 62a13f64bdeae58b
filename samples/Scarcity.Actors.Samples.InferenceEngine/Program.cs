using System.Globalization;
using Scarcity.Actors.Samples.SimulatedEngine;

// A simulated GPU inference engine governed from another process (SimulatedInferenceEngine: the engine model stepped
// every 0.25 s, its levels from the governor through GovernedSubsystem; latency_ms, queue_depth, context_k, oom_total and
// vram_util reported, nothing while it restarts after an OOM, when its registration drops).
// The governor's --demo runs the same engine in its own process.
//
// Usage: --contact akka.tcp://scarcity@127.0.0.1:4053 [--contact ...] [--name inference_engine] [--host <machine>]
//        [--scenario demo|context-surge|traffic-burst|idle] [--priority 10] [--connect-timeout 10]
//        [--tls-certificate client.pfx --tls-ca ca.pem] (the password from SCARCITY_TLS_PASSWORD)
// Output, one line per event (parsed by the specs): see SimulatedInferenceEngine.
// Exit code 2: bad arguments. A rejected registration is printed and retried (the name may be freed when its holder dies).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var options = new SimulatedEngineOptions { ExtraHocon = "akka.loglevel = INFO" };
try
{
    for (var i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--contact":
                foreach (var contact in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    options.Contacts.Add(contact);
                break;
            case "--name": options.Name = Next(); break;
            case "--host": options.Host = Next(); break;
            case "--scenario": options.Scenario = Next(); break;
            case "--priority": options.Priority = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--tls-certificate":
                options.Tls = new Scarcity.Actors.Contracts.RemotingTlsOptions(Next(), Environment.GetEnvironmentVariable("SCARCITY_TLS_PASSWORD"),
                    options.Tls?.CaCertificatePath);
                break;
            case "--tls-ca":
                var ca = Next();
                options.Tls = options.Tls is null
                    ? throw new ArgumentException("--tls-ca needs --tls-certificate before it")
                    : options.Tls with { CaCertificatePath = ca };
                break;
            case "--connect-timeout": options.ConnectTimeout = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)); break;
            default: throw new ArgumentException($"unknown argument '{args[i]}'");
        }
    }
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    return Fail(2, e.Message);
}

// Not disposed: ProcessExit may still cancel it after Main has returned.
var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

SimulatedInferenceEngine engine;
try
{
    engine = SimulatedInferenceEngine.Start(options);
}
catch (ArgumentException e)
{
    return Fail(2, e.Message);
}

await Task.WhenAny(engine.Completion, Task.Delay(Timeout.Infinite, stop.Token));
await engine.DisposeAsync();
return 0;

static int Fail(int code, string message)
{
    Console.Error.WriteLine("error: " + message);
    return code;
}
