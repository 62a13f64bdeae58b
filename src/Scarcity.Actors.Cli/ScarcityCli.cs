using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Scarcity.Actors.Contracts;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Scarcity.Actors.Cli;

/// <summary>
/// The <c>scarcity</c> command: inspects and operates a governor cluster through <c>ClusterClientReceptionist</c>.
/// <see cref="RunAsync"/> is the whole program, callable in-process with any writers.
/// </summary>
public static class ScarcityCli
{
    /// <summary>The environment variable holding the default contacts (comma-separated).</summary>
    public const string ContactVariable = "SCARCITY_CONTACT";

    /// <summary>The environment variable holding the operator token of cluster-changing commands (instead of <c>--token</c>).</summary>
    public const string TokenVariable = "SCARCITY_TOKEN";

    /// <summary>The environment variable of the CLI's TLS certificate (.pfx), when <c>--tls-certificate</c> is not given.</summary>
    public const string TlsCertificateVariable = "SCARCITY_TLS_CERTIFICATE";

    /// <summary>The environment variable of the password of the CLI's TLS certificate (kept off the command line).</summary>
    public const string TlsPasswordVariable = "SCARCITY_TLS_PASSWORD";

    /// <summary>The environment variable of the governor's CA certificate (PEM), when <c>--tls-ca</c> is not given.</summary>
    public const string TlsCaVariable = "SCARCITY_TLS_CA";

    /// <summary>How long the first contact may take before the CLI gives up on an address.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);

    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonSerializerOptions Compact = new(Indented) { WriteIndented = false };

    /// <summary>The process entry point.</summary>
    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out, Console.Error);

    /// <summary>
    /// Runs the command line <paramref name="args"/>: 0 ok, 1 error, 2 usage. A failure prints <c>scarcity: message</c> on
    /// <paramref name="stderr"/>; with <c>--json</c> it prints one <see cref="ErrorDto"/> line on <paramref name="stdout"/> instead.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var commands = new Commands(stdout);
        var parse = commands.Root.Parse(args);
        var json = commands.WantsJson(parse, args);

        async Task<int> Fail(string message, int exitCode, string? hint = null)
        {
            if (json)
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(new ErrorDto(message, exitCode), Compact));
                await stdout.FlushAsync(CancellationToken.None);
            }
            else
            {
                await stderr.WriteLineAsync($"scarcity: {message}");
                if (hint is not null) await stderr.WriteLineAsync(hint);
                await stderr.FlushAsync(CancellationToken.None);
            }
            return exitCode;
        }

        if (parse.Errors.Count > 0)
        {
            if (json) return await Fail(string.Join("; ", parse.Errors.Select(e => e.Message)), ExitCodes.Usage);
            foreach (var error in parse.Errors) await stderr.WriteLineAsync($"scarcity: {error.Message}");
            await stderr.WriteLineAsync("Try 'scarcity --help'.");
            return ExitCodes.Usage;
        }
        try
        {
            return await parse.InvokeAsync(
                new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (CliUsageException e)
        {
            return await Fail(e.Message, ExitCodes.Usage);
        }
        catch (CliException e)
        {
            return await Fail(e.Message, ExitCodes.Error);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Ok; // Ctrl+C ends watch and --tail
        }
        catch (Exception e)
        {
            // A bug or an unforeseen failure: still one line (or one JSON object), with the details on stderr.
            if (json) await stderr.WriteLineAsync(e.ToString());
            return await Fail($"unexpected {e.GetType().Name}: {e.Message}", ExitCodes.Error, json ? null : e.ToString());
        }
    }

    private sealed class Commands
    {
        private readonly TextWriter _out;
        private readonly Option<string[]> _contact = new("--contact", "-c")
        {
            Description = $"Governor node(s): akka.tcp://scarcity@host:port or host:port, comma-separated or repeated (default: ${ContactVariable})",
            Recursive = true,
        };
        private readonly Option<string> _tlsCertificate = new("--tls-certificate")
        {
            Description = $"TLS: the CLI's certificate with its key (.pfx) from the governor's CA (default: ${TlsCertificateVariable}); its password from ${TlsPasswordVariable}",
            Recursive = true,
        };
        private readonly Option<string> _tlsCa = new("--tls-ca")
        {
            Description = $"TLS: the governor's CA certificate (PEM) (default: ${TlsCaVariable}; none: the machine's trust store)",
            Recursive = true,
        };
        private readonly Option<bool> _json = new("--json") { Description = "Print the documented JSON shape instead of tables", Recursive = true };
        private readonly Option<double> _timeout = new("--timeout")
        {
            Description = "Seconds to wait for an answer once connected", Recursive = true, DefaultValueFactory = _ => 15,
        };

        public RootCommand Root { get; }

        public Commands(TextWriter stdout)
        {
            _out = stdout;
            Root = new RootCommand("Inspect and operate a Scarcity governor cluster (never joins it).") { _contact, _json, _timeout, _tlsCertificate, _tlsCa };

            var cluster = new Command("cluster", "Cluster membership and its changes");
            var show = new Command("show", "Members with address, status, roles, reachability and the leader");
            show.SetAction((p, ct) => Connected(p, ct, c => ClusterShow(c, p)));
            var leaveAddress = new Argument<string>("address") { Description = "The member's address (akka.tcp://scarcity@host:port)" };
            // Cluster-changing commands carry the operator token the nodes are configured with (Scarcity:Operations:OperatorToken).
            var token = new Option<string>("--token") { Description = $"The operator token configured on the nodes (default: ${TokenVariable})", Recursive = true };
            var operatorName = new Option<string>("--operator")
            {
                Description = "Who you are, for the nodes' log of cluster changes (default: user@machine)", Recursive = true,
            };
            OperatorCredential? Credential(ParseResult p)
            {
                var given = p.GetValue(token) ?? Environment.GetEnvironmentVariable(TokenVariable);
                return string.IsNullOrEmpty(given) ? null
                    : new OperatorCredential(p.GetValue(operatorName) ?? $"{Environment.UserName}@{Environment.MachineName}", given);
            }
            var leave = new Command("leave", "Ask a member to leave gracefully (its process then ends); needs the operator token") { leaveAddress };
            leave.SetAction((p, ct) => Connected(p, ct, c => Operation(c, p, new LeaveMember(Member(p, p.GetValue(leaveAddress)!), Credential(p)))));
            var downAddress = new Argument<string>("address") { Description = "The member's address (akka.tcp://scarcity@host:port)" };
            var down = new Command("down", "Mark a member down (for a node known to be dead); needs the operator token") { downAddress };
            down.SetAction((p, ct) => Connected(p, ct, c => Operation(c, p, new DownMember(Member(p, p.GetValue(downAddress)!), Credential(p)))));
            var downUnreachable = new Command("down-unreachable", "Mark every unreachable member down; needs the operator token");
            downUnreachable.SetAction((p, ct) => Connected(p, ct, c => Operation(c, p, new DownUnreachable(Credential(p)))));
            cluster.Options.Add(token);
            cluster.Options.Add(operatorName);
            cluster.Subcommands.Add(show);
            cluster.Subcommands.Add(leave);
            cluster.Subcommands.Add(down);
            cluster.Subcommands.Add(downUnreachable);
            Root.Subcommands.Add(cluster);

            var nodes = new Command("nodes", "Per host: pressure, key metrics now, EMA, forecast with its band, stale or not");
            nodes.SetAction((p, ct) => Connected(p, ct, c => NodesCommand(c, p)));
            Root.Subcommands.Add(nodes);

            var hostArgument = new Argument<string>("host") { Description = "The host name, as in 'scarcity nodes'" };
            var node = new Command("node", "Every series of one host, every GPU apart") { hostArgument };
            node.SetAction((p, ct) => Connected(p, ct, c => NodeCommand(c, p, p.GetValue(hostArgument)!)));
            Root.Subcommands.Add(node);

            var subsystems = new Command("subsystems", "Governed subsystems: host, priority, level per action, sequence, acked, reachable");
            subsystems.SetAction((p, ct) => Connected(p, ct, c => SubsystemsCommand(c, p)));
            Root.Subcommands.Add(subsystems);

            var policies = new Command("policies", "The effective rules per subsystem and the level settings");
            policies.SetAction((p, ct) => Connected(p, ct, c => PoliciesCommand(c, p)));
            var fileArgument = new Argument<string>("file") { Description = "A JSON file: the Policy section alone, { \"Policy\": ... }, or a whole configuration with a Scarcity section" };
            var validate = new Command("validate", "Check a policy file offline; names every error with its key, all at once (exit 1 when invalid)") { fileArgument };
            validate.SetAction(p => Validate(p, p.GetValue(fileArgument)!));
            policies.Subcommands.Add(validate);
            policies.Subcommands.Add(ReplayCommand.CreateDiff(_json, _out, Connected));
            Root.Subcommands.Add(policies);

            var since = new Option<string>("--since") { Description = "Only decisions at or after: an ISO 8601 time, or an age such as 90s, 10m, 2h, 1d" };
            var subsystem = new Option<string>("--subsystem", "-s") { Description = "Only this subsystem's decisions" };
            var limit = new Option<int>("--limit", "-n") { Description = "At most this many, the newest", DefaultValueFactory = _ => 50 };
            var tail = new Option<bool>("--tail", "-f") { Description = "Keep following new decisions (Ctrl+C ends)" };
            var count = new Option<int>("--count") { Description = "With --tail: stop after this many new decisions (0: never)" };
            var interval = new Option<double>("--interval") { Description = "Seconds between polls", DefaultValueFactory = _ => 1 };
            var actions = new Command("actions", "The decision log from the journal, with reasons") { since, subsystem, limit, tail, count, interval };
            actions.SetAction((p, ct) =>
            {
                // Values are checked before connecting, so that a bad one is a usage error even with no governor around.
                var from = ParseSince(p.GetValue(since));
                var pollEvery = Seconds(p.GetValue(interval), "--interval");
                if (p.GetValue(limit) < 1) throw new CliUsageException($"--limit must be at least 1, was {p.GetValue(limit)}");
                return Connected(p, ct, c => ActionsCommand(c, p, from, p.GetValue(subsystem), p.GetValue(limit), p.GetValue(tail),
                    p.GetValue(count), pollEvery, ct));
            });
            Root.Subcommands.Add(actions);

            var frames = new Option<int>("--count") { Description = "Stop after this many refreshes (0: never)" };
            var every = new Option<double>("--interval") { Description = "Seconds between refreshes", DefaultValueFactory = _ => 2 };
            var watch = new Command("watch", "Live view of hosts and subsystems, refreshing in place") { frames, every };
            watch.SetAction((p, ct) =>
            {
                var refreshEvery = Seconds(p.GetValue(every), "--interval");
                return Connected(p, ct, c => WatchCommand(c, p, p.GetValue(frames), refreshEvery, ct));
            });
            Root.Subcommands.Add(watch);

            var sharding = new Command("sharding", "Shard regions, shards and entities per node");
            sharding.SetAction((p, ct) => Connected(p, ct, c => ShardingCommand(c, p)));
            Root.Subcommands.Add(sharding);

            var budgets = new Command("budgets", "Fleet budgets: value against limit, hosts counted and left out, the subsystems each caps");
            budgets.SetAction((p, ct) => Connected(p, ct, c => BudgetsCommand(c, p)));
            Root.Subcommands.Add(budgets);

            Root.Subcommands.Add(SimulateCommand.Create(_json, _out));
            Root.Subcommands.Add(ReplayCommand.Create(_json, _out, Connected));
        }

        private async Task<int> Connected(ParseResult p, CancellationToken ct, Func<GovernorConnection, Task<int>> command)
        {
            var given = p.GetValue(_contact) is { Length: > 0 } c ? c : [Environment.GetEnvironmentVariable(ContactVariable) ?? ""];
            var contacts = given.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            if (contacts.Count == 0) throw new CliUsageException($"no governor to contact: give --contact host:port or set {ContactVariable}");
            var timeout = Seconds(p.GetValue(_timeout), "--timeout");
            await using var connection = await GovernorConnection.ConnectAsync(contacts, ConnectTimeout, timeout, ct, Tls(p));
            return await command(connection);
        }

        private static TimeSpan Seconds(double value, string option) =>
            value > 0 && double.IsFinite(value) ? TimeSpan.FromSeconds(value) : throw new CliUsageException($"{option} must be a positive number of seconds, was {value}");

        private string Member(ParseResult p, string address) => GovernorConnection.NormalizeContact(address, Tls(p) is not null);

        /// <summary>TLS from the flags or the environment; null when no certificate is given.</summary>
        private RemotingTlsOptions? Tls(ParseResult p)
        {
            var certificate = p.GetValue(_tlsCertificate) ?? Environment.GetEnvironmentVariable(TlsCertificateVariable);
            if (string.IsNullOrWhiteSpace(certificate)) return null;
            var ca = p.GetValue(_tlsCa) ?? Environment.GetEnvironmentVariable(TlsCaVariable);
            return new RemotingTlsOptions(certificate, Environment.GetEnvironmentVariable(TlsPasswordVariable),
                string.IsNullOrWhiteSpace(ca) ? null : ca);
        }

        internal static DateTimeOffset? ParseSince(string? text)
        {
            if (string.IsNullOrWhiteSpace(text)) return null;
            var unit = text[^1];
            if ("smhd".Contains(unit) && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0)
                return DateTimeOffset.UtcNow - unit switch
                {
                    's' => TimeSpan.FromSeconds(amount),
                    'm' => TimeSpan.FromMinutes(amount),
                    'h' => TimeSpan.FromHours(amount),
                    _ => TimeSpan.FromDays(amount),
                };
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) return at;
            throw new CliUsageException($"--since '{text}' is neither a time (2026-01-31T12:00:00Z) nor an age (90s, 10m, 2h, 1d)");
        }

        private bool Json(ParseResult p) => p.GetValue(_json);

        /// <summary>True when <c>--json</c> is given, even on a command line that does not parse.</summary>
        public bool WantsJson(ParseResult p, string[] args)
        {
            try
            {
                return p.GetValue(_json);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
            {
                return args.Contains("--json", StringComparer.Ordinal);
            }
        }

        private async Task<int> Print<T>(ParseResult p, T dto, Action<IAnsiConsole> table)
        {
            if (Json(p)) await _out.WriteLineAsync(JsonSerializer.Serialize(dto, Indented));
            else table(Console());
            await _out.FlushAsync();
            return ExitCodes.Ok;
        }

        private IAnsiConsole Console()
        {
            var terminal = ReferenceEquals(_out, System.Console.Out) && !System.Console.IsOutputRedirected;
            var console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(_out),
                Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
                ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
                Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
            });
            if (!terminal) console.Profile.Width = 200;
            return console;
        }

        private async Task<int> ClusterShow(GovernorConnection c, ParseResult p)
        {
            var state = await c.AskAsync<ClusterState>(ServicePaths.Operations, GetClusterState.Instance);
            var dto = Dto.Cluster(state);
            return await Print(p, dto, console =>
            {
                var table = new Table().AddColumns("Address", "Status", "Roles", "Reachable", "Leader");
                foreach (var m in dto.Members)
                    table.AddRow(Markup.Escape(m.Address), m.Status, string.Join(",", m.Roles), m.Reachable ? "yes" : "[red]NO[/]", m.Leader ? "*" : "");
                console.Write(table);
                console.MarkupLine($"answered by {Markup.Escape(dto.AnsweredBy)}; {dto.Unreachable.Count} unreachable");
            });
        }

        private async Task<int> Operation(GovernorConnection c, ParseResult p, object message)
        {
            var done = await c.AskAsync<OperationDone>(ServicePaths.Operations, message);
            var dto = Dto.Operation(done);
            return await Print(p, dto, console => console.WriteLine(
                $"{dto.Operation}: {(dto.Addresses.Count == 0 ? "(none)" : string.Join(", ", dto.Addresses))}: {dto.Detail}"));
        }

        private Task<GovernorStatus> Fleet(GovernorConnection c, CancellationToken ct = default) =>
            c.AskAsync<GovernorStatus>(ServicePaths.Operations, GetFleetStatus.Instance, ct);

        private static string F(double v) => double.IsFinite(v) ? v.ToString("0.###", CultureInfo.InvariantCulture) : v.ToString(CultureInfo.InvariantCulture);

        private static string Colour(string pressure) => pressure switch
        {
            "GREEN" => "[green]GREEN[/]", "YELLOW" => "[yellow]YELLOW[/]", "ORANGE" => "[darkorange]ORANGE[/]", _ => "[red]RED[/]",
        };

        private static Table MetricsTable(IEnumerable<MetricDto> metrics)
        {
            var table = new Table().AddColumns("Metric", "Now", "EMA", "Estimate", "Trend/s", "Forecast ± band", "Stale");
            foreach (var m in metrics)
                table.AddRow(Markup.Escape(m.Metric), F(m.Raw), F(m.Ema), F(m.Estimate), F(m.Trend), $"{F(m.Forecast)} ± {F(m.ForecastStdDev)}",
                    m.Stale ? "[red]STALE[/]" : "");
            return table;
        }

        private static IRenderable NodesView(IReadOnlyList<NodeDto> nodes)
        {
            var table = new Table().AddColumns("Host", "Pressure", "Metric", "Now", "EMA", "Forecast ± band", "Stale");
            foreach (var n in nodes)
            {
                if (n.Metrics.Count == 0) table.AddRow(Markup.Escape(n.Host), Colour(n.Pressure), "", "", "", "", n.Stale ? "[red]STALE[/]" : "");
                for (var i = 0; i < n.Metrics.Count; i++)
                {
                    var m = n.Metrics[i];
                    table.AddRow(i == 0 ? Markup.Escape(n.Host) : "", i == 0 ? Colour(n.Pressure) : "", Markup.Escape(m.Metric), F(m.Raw), F(m.Ema),
                        $"{F(m.Forecast)} ± {F(m.ForecastStdDev)}", m.Stale ? "[red]STALE[/]" : "");
                }
            }
            var rules = nodes.SelectMany(n => n.Rules.Select(r => $"{n.Host} {r}")).ToList();
            if (rules.Count == 0) return table;
            // A rule not evaluated is the difference between a metric this host never had and one that went stale.
            return new Rows(table, new Markup("[grey]Rules not evaluated now:[/]"),
                new Rows(rules.Select(r => new Text("  " + r))));
        }

        private static IRenderable SubsystemsView(IReadOnlyList<SubsystemDto> subsystems)
        {
            var table = new Table().AddColumns("Subsystem", "Host", "Priority", "Levels", "Last seq", "Acked", "Reachable", "Journal", "Model");
            foreach (var s in subsystems)
                table.AddRow(Markup.Escape(s.Name), Markup.Escape(s.Host), s.Priority.ToString(CultureInfo.InvariantCulture),
                    Levels(s), s.LastSequence.ToString(CultureInfo.InvariantCulture),
                    s.Acked ? "yes" : $"[yellow]no ({s.LastAckedSequence})[/]", s.Reachable ? "yes" : "[red]NO[/]",
                    s.JournalError is not null ? $"[red]DOWN, {s.Unjournaled} waiting[/]" : s.Unjournaled > 0 ? $"{s.Unjournaled} waiting" : "ok",
                    Markup.Escape(Model(s.Model)));
            return table;

            // An action the effect check holds is marked; its reason is in --json.
            static string Levels(SubsystemDto s) => string.Join(" ", s.Levels.Select(l => s.Ineffective?.ContainsKey(l.Key) == true
                ? $"{Markup.Escape(l.Key)}={F(l.Value)} [yellow](ineffective)[/]"
                : Markup.Escape($"{l.Key}={F(l.Value)}")));

            static string Model(ModelDto? m) => m is null ? "-" : string.Create(CultureInfo.InvariantCulture,
                $"{m.Action}: vram_util = {m.Intercept:0.###} + {m.Slope:0.###} x level x context_k, confidence {m.Confidence:0.##}{(m.Confident ? "" : " (not confident: rules decide)")}, n={m.Samples}, predicts {m.Prediction:0.###} at context_k {m.ContextK:0.##}");
        }

        private async Task<int> NodesCommand(GovernorConnection c, ParseResult p)
        {
            var dto = Dto.Nodes(await Fleet(c));
            return await Print(p, dto, console =>
            {
                if (dto.Nodes.Count == 0) console.WriteLine("no host has reported yet");
                else console.Write(NodesView(dto.Nodes));
                if (dto.Database is not null) console.MarkupLine($"[red]{Markup.Escape(dto.Database)}[/]");
            });
        }

        private async Task<int> NodeCommand(GovernorConnection c, ParseResult p, string host)
        {
            var status = await Fleet(c);
            if (!status.Hosts.TryGetValue(host, out var profile))
                throw new CliException($"no host '{host}' (known: {(status.Hosts.IsEmpty ? "none" : string.Join(", ", status.Hosts.Keys.Order(StringComparer.Ordinal)))})");
            var dto = Dto.NodeDetail(profile);
            return await Print(p, dto, console =>
            {
                console.MarkupLine($"{Markup.Escape(dto.Host)} {Colour(dto.Pressure)} at {dto.At:O}{(dto.Stale ? " [red]STALE[/]" : "")}");
                console.Write(MetricsTable(dto.Metrics));
                foreach (var gpu in dto.Gpus)
                {
                    console.WriteLine($"GPU {gpu.Gpu}");
                    console.Write(MetricsTable(gpu.Metrics));
                }
            });
        }

        private async Task<int> SubsystemsCommand(GovernorConnection c, ParseResult p)
        {
            var dto = Dto.Subsystems(await Fleet(c));
            return await Print(p, dto, console =>
            {
                if (dto.Subsystems.Count == 0) console.WriteLine("no subsystem is registered");
                else console.Write(SubsystemsView(dto.Subsystems));
                if (dto.Database is not null) console.MarkupLine($"[red]{Markup.Escape(dto.Database)}[/]");
            });
        }

        private async Task<int> PoliciesCommand(GovernorConnection c, ParseResult p)
        {
            var dto = Dto.Policies(await c.AskAsync<PolicySet>(ServicePaths.Operations, GetPolicies.Instance));
            return await Print(p, dto, console =>
            {
                var s = dto.Settings;
                console.WriteLine($"cooldown {F(s.CooldownSeconds)} s, recovery after {F(s.RecoveryDelaySeconds)} s by +{F(s.RecoveryStep)}, " +
                                  $"min level {F(s.MinLevel)}, max scale-up x{F(s.MaxScaleUp)}" +
                                  (s.CustomActions.Count > 0 ? $", custom actions: {string.Join(", ", s.CustomActions)}" : "") +
                                  (dto.Defaults ? " (default rules)" : ""));
                var table = new Table().AddColumns("Subsystem", "Rule", "Release", "Priority", "Cooldown");
                foreach (var (subsystem, rules) in dto.Rules)
                    foreach (var r in rules)
                        table.AddRow(Markup.Escape(subsystem), Markup.Escape(r.Display), F(r.Release), r.Priority.ToString(CultureInfo.InvariantCulture),
                            r.CooldownSeconds is { } cd ? $"{F(cd)} s" : "policy");
                console.Write(table);
            });
        }

        private async Task<int> Validate(ParseResult p, string file)
        {
            var problems = PolicyFile.Validate(file);
            var dto = new ValidationDto(file, problems.Count == 0, [.. problems.Select(e => e.ToString())],
                [.. problems.Select(e => new ProblemDto(e.Key, e.Message, e.Line))]);
            if (Json(p)) await _out.WriteLineAsync(JsonSerializer.Serialize(dto, Indented));
            else if (dto.Valid) await _out.WriteLineAsync($"{file}: valid");
            else
            {
                await _out.WriteLineAsync($"{file}: {dto.Errors.Count} error(s)");
                foreach (var e in dto.Errors) await _out.WriteLineAsync($"  - {e}");
            }
            await _out.FlushAsync();
            return dto.Valid ? ExitCodes.Ok : ExitCodes.Error;
        }

        private async Task<int> ActionsCommand(
            GovernorConnection c, ParseResult p, DateTimeOffset? since, string? subsystem, int limit, bool tail, int count, TimeSpan interval,
            CancellationToken ct)
        {
            var page = await c.AskAsync<DecisionPage>(ServicePaths.Operations, new GetDecisions(since, subsystem, limit), ct);
            var json = Json(p);
            if (!tail)
            {
                var dto = Dto.Actions(page);
                return await Print(p, dto, console =>
                {
                    if (dto.Decisions.Count == 0) console.WriteLine("no decision");
                    foreach (var d in dto.Decisions) console.WriteLine(Line(d));
                    foreach (var e in dto.Errors) console.WriteLine($"(incomplete: {e})");
                });
            }

            // Following: print what is there, then every decision not seen yet, one per line.
            var seen = new HashSet<(string, long)>();
            var newest = since;
            var printed = 0;
            async Task<bool> Emit(IEnumerable<JournaledDecision> decisions, bool counts)
            {
                foreach (var j in decisions.Where(j => seen.Add((j.PersistenceId, j.SequenceNr))))
                {
                    var d = Dto.Decision(j);
                    await _out.WriteLineAsync(json ? JsonSerializer.Serialize(d, Compact) : Line(d));
                    if (newest is null || d.At > newest) newest = d.At;
                    if (counts && count > 0 && ++printed >= count) return true;
                }
                await _out.FlushAsync(ct);
                return false;
            }
            await Emit(page.Decisions, counts: false);
            while (true)
            {
                await Task.Delay(interval, ct);
                var next = await c.AskAsync<DecisionPage>(ServicePaths.Operations, new GetDecisions(newest, subsystem, 1000), ct);
                if (await Emit(next.Decisions, counts: true))
                {
                    await _out.FlushAsync(ct);
                    return ExitCodes.Ok;
                }
            }
        }

        private static string Line(DecisionDto d) => string.Create(CultureInfo.InvariantCulture,
            $"{d.At:yyyy-MM-dd HH:mm:ss.fff} {d.Host} {d.Subsystem} #{d.Sequence} {d.Action} {F(d.PreviousLevel)} -> {F(d.Level)}" +
            $"{(d.Sent ? "" : " (not sent)")} because {d.Reason.Text}{(d.Detail.Length > 0 ? $" [{d.Detail}]" : "")}");

        private async Task<int> WatchCommand(GovernorConnection c, ParseResult p, int count, TimeSpan interval, CancellationToken ct)
        {
            var json = Json(p);
            var console = Console();
            var live = !json && console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;
            IRenderable View(WatchFrameDto f) => new Rows(
                new Markup($"[bold]scarcity watch[/] {f.At:HH:mm:ss} (every {F(interval.TotalSeconds)} s, Ctrl+C ends)"),
                f.Nodes.Count == 0 ? new Text("no host has reported yet") : NodesView(f.Nodes),
                f.Subsystems.Count == 0 ? new Text("no subsystem is registered") : SubsystemsView(f.Subsystems));

            async Task<WatchFrameDto> Next() => Dto.Frame(await Fleet(c, ct), DateTimeOffset.UtcNow);

            if (live)
            {
                var first = await Next();
                await console.Live(View(first)).StartAsync(async ctx =>
                {
                    for (var i = 1; count == 0 || i < count; i++)
                    {
                        await Task.Delay(interval, ct);
                        ctx.UpdateTarget(View(await Next()));
                        ctx.Refresh();
                    }
                });
                return ExitCodes.Ok;
            }
            for (var i = 0; count == 0 || i < count; i++)
            {
                if (i > 0) await Task.Delay(interval, ct);
                var frame = await Next();
                if (json) await _out.WriteLineAsync(JsonSerializer.Serialize(frame, Compact));
                else console.Write(View(frame));
                await _out.FlushAsync(ct);
            }
            return ExitCodes.Ok;
        }

        private async Task<int> BudgetsCommand(GovernorConnection c, ParseResult p)
        {
            var dto = Dto.Budgets(await c.AskAsync<BudgetsStatus>(ServicePaths.Operations, GetBudgets.Instance));
            return await Print(p, dto, console =>
            {
                if (dto.Budgets.Count == 0)
                {
                    console.WriteLine("no budget is configured (Scarcity:Policy:Budgets)");
                    return;
                }
                var table = new Table().AddColumns("Budget", "Value", "Limit", "State", "Hosts", "Left out", "Caps (lowest priority first)");
                foreach (var b in dto.Budgets)
                    table.AddRow(Markup.Escape($"{b.Name}\n{b.Aggregate}({b.Metric}{{{b.Selector}}})"),
                        b.Value is { } v ? $"{F(v)} {Markup.Escape(b.Unit)}" : "-", $"{F(b.Limit)} {Markup.Escape(b.Unit)}",
                        b.State == "over" ? "[red]over[/]" : b.State, b.Hosts.Count.ToString(CultureInfo.InvariantCulture),
                        Markup.Escape(string.Join("\n", b.ExcludedHosts)),
                        Markup.Escape(string.Join("\n", b.Caps.Select(cap => $"{cap.Subsystem}@{cap.Host} (priority {cap.Priority}) {cap.Action}={F(cap.Level)}"))));
                console.Write(table);
                console.MarkupLine($"owner {Markup.Escape(dto.Owner)}");
            });
        }

        private async Task<int> ShardingCommand(GovernorConnection c, ParseResult p)
        {
            var dto = Dto.Sharding(await c.AskAsync<ShardingState>(ServicePaths.Operations, GetShardingState.Instance));
            return await Print(p, dto, console =>
            {
                var table = new Table().AddColumns("Region", "Node", "Shards", "Entities", "Detail");
                foreach (var r in dto.Regions)
                    table.AddRow(r.Region, Markup.Escape(r.Node), r.ShardCount.ToString(CultureInfo.InvariantCulture), r.EntityCount.ToString(CultureInfo.InvariantCulture),
                        Markup.Escape(string.Join("; ", r.Shards.Select(s => $"{s.Shard}: {string.Join(",", s.Entities)}"))));
                console.Write(table);
            });
        }
    }
}
