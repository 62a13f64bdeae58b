using System.CommandLine;
using System.Globalization;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Spectre.Console;

namespace Scarcity.Actors.Cli;

public static partial class ScarcityCli
{
    /// <summary>
    /// <c>policies apply &lt;file&gt;</c>, <c>policies history</c>, <c>policies rollback &lt;version&gt;</c>: policy versions at run
    /// time, recorded by the governors' policy store. A file is checked here first, exactly as <c>policies validate</c> does; an
    /// invalid one is never sent.
    /// </summary>
    private static class PolicyVersionCommands
    {
        public static void Add(Command policies, Commands commands)
        {
            var token = new Option<string>("--token") { Description = $"The operator token configured on the nodes (default: ${TokenVariable})", Recursive = true };
            var author = new Option<string>("--author")
            {
                Description = "Who applies it, recorded with the version and in the nodes' log of operator commands (default: user@machine)",
                Recursive = true,
            };
            policies.Options.Add(token);
            policies.Options.Add(author);
            string Author(ParseResult p) => p.GetValue(author) is { Length: > 0 } a ? a : $"{Environment.UserName}@{Environment.MachineName}";
            OperatorCredential? Credential(ParseResult p)
            {
                var given = p.GetValue(token) ?? Environment.GetEnvironmentVariable(TokenVariable);
                return string.IsNullOrEmpty(given) ? null : new OperatorCredential(Author(p), given);
            }

            var file = new Argument<string>("file") { Description = "A policy file, in any shape 'policies validate' reads; only its Policy section is applied" };
            var apply = new Command("apply", "Validate a policy file as start-up does, then record it as a new version that every governor node uses within seconds; needs the operator token") { file };
            apply.SetAction(async (p, ct) =>
            {
                var path = p.GetValue(file)!;
                var policy = PolicyFile.Load(path, out var problems);
                if (policy is null) return await commands.Validate(p, path); // nothing is sent: the errors, key first, exit 1
                var json = PolicyDocument.ToJson(policy);
                return await commands.Connected(p, ct, c => Applied(commands, p, c, new ApplyPolicy(json, Author(p), Credential(p)), ct));
            });

            var version = new Argument<int>("version") { Description = "The version to return to, as 'policies history' lists it" };
            var rollback = new Command("rollback", "Record a new version equal to an old one; needs the operator token") { version };
            rollback.SetAction((p, ct) =>
            {
                if (p.GetValue(version) < 1) throw new CliUsageException($"version must be at least 1, was {p.GetValue(version)}");
                return commands.Connected(p, ct, c => Applied(commands, p, c, new RollbackPolicy(p.GetValue(version), Author(p), Credential(p)), ct));
            });

            var history = new Command("history", "Every recorded policy version: number, time, author, dry-run, what changed");
            history.SetAction((p, ct) => commands.Connected(p, ct, async c =>
            {
                var versions = await c.AskAsync<PolicyVersions>(ServicePaths.Operations, new GetPolicyVersions(), ct);
                var dto = new PolicyHistoryDto(versions.Current, [.. versions.Versions.Select(Version)]);
                return await commands.Print(p, dto, console =>
                {
                    var table = new Table().AddColumns("Version", "At (UTC)", "Author", "Dry-run", "Changes");
                    foreach (var v in dto.Versions)
                        table.AddRow(v.Version.ToString(CultureInfo.InvariantCulture) + (v.Version == dto.Current ? " *" : ""),
                            v.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), Markup.Escape(v.Author),
                            v.DryRun ? "yes" : "", Markup.Escape(v.Summary));
                    console.Write(table);
                });
            }));

            policies.Subcommands.Add(apply);
            policies.Subcommands.Add(history);
            policies.Subcommands.Add(rollback);
        }

        private static PolicyVersionDto Version(PolicyVersion v) =>
            new(v.Version, v.At, v.Author, v.DryRun, v.RolledBackFrom, v.Summary, v.Diff.IsDefault ? [] : [.. v.Diff], v.Policy);

        private static async Task<int> Applied(Commands commands, ParseResult p, GovernorConnection c, object command, CancellationToken ct)
        {
            var answer = await c.AskAsync<IScarcityMessage>(ServicePaths.Operations, command, ct);
            switch (answer)
            {
                case PolicyApplied applied:
                    var dto = new PolicyAppliedDto(applied.Unchanged, Version(applied.Version));
                    return await commands.Print(p, dto, console =>
                    {
                        var v = dto.Version;
                        if (dto.Unchanged)
                        {
                            console.WriteLine($"unchanged: version {v.Version} already is this policy; nothing recorded");
                            return;
                        }
                        console.WriteLine($"recorded version {v.Version}{(v.DryRun ? " (dry-run)" : "")} by {v.Author}" +
                                          (v.RolledBackFrom is { } from ? $", equal to version {from}" : "") + "; every governor node uses it within seconds");
                        foreach (var line in v.Diff) console.WriteLine("  " + line);
                    });
                case PolicyRejected rejected:
                    throw new CliException($"the governor refused the policy, nothing changed: {string.Join("; ", rejected.Errors)}");
                case OperationFailed failed:
                    throw new CliException($"{failed.Operation} failed: {failed.Reason}");
                default:
                    throw new CliException($"unexpected answer: {answer.GetType().Name}");
            }
        }
    }
}
