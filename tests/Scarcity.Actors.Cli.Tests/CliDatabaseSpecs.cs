using System.Collections.Immutable;
using Scarcity.Actors.Cli;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary><c>subsystems</c> and <c>nodes</c> say when the database does not take the actuators' journal writes.</summary>
public sealed class CliDatabaseSpecs
{
    private static SubsystemStatus Subsystem(string name, int unjournaled = 0, string? error = null, long overflowed = 0) =>
        new(name, "gpu-a", 1, ImmutableDictionary<string, double>.Empty.Add(ActionNames.Throttle, 0.49), 4, 4, true, [], unjournaled, error, overflowed);

    private static GovernorStatus Status(params SubsystemStatus[] subsystems) =>
        new(ImmutableDictionary<string, HostProfile>.Empty, subsystems.ToImmutableDictionary(s => s.Name), 0);

    [Fact]
    public void While_journal_writes_fail_both_views_carry_one_line_naming_the_error_and_what_waits()
    {
        var status = Status(
            Subsystem("engine", unjournaled: 7, error: "Failed to connect to 10.0.0.9:5432 (since 22:43:03 UTC)"),
            Subsystem("trainer", unjournaled: 5, error: "Failed to connect to 10.0.0.9:5432 (since 22:43:04 UTC)"),
            Subsystem("indexer"));

        var subsystems = Dto.Subsystems(status);

        Assert.Equal(
            "database DOWN: journal writes of 2 of 3 subsystems fail (engine: Failed to connect to 10.0.0.9:5432 (since 22:43:03 UTC)); " +
            "12 decisions waiting to be written, 0 dropped for room; governing continues", subsystems.Database);
        Assert.Equal(subsystems.Database, Dto.Nodes(status).Database);
        var engine = subsystems.Subsystems.Single(s => s.Name == "engine");
        Assert.Equal((7, "Failed to connect to 10.0.0.9:5432 (since 22:43:03 UTC)"), (engine.Unjournaled, engine.JournalError));
    }

    [Fact]
    public void Dropped_events_stay_reported_after_the_database_is_back_and_a_healthy_journal_says_nothing()
    {
        Assert.Null(Dto.Subsystems(Status(Subsystem("engine"), Subsystem("trainer", unjournaled: 2))).Database);

        var recovered = Dto.Subsystems(Status(Subsystem("engine", overflowed: 3))).Database;

        Assert.Equal("database journal writes succeed again; 0 decisions waiting to be written, 3 dropped for room; governing continues", recovered);
    }
}
