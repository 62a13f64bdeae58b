using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Operations;

/// <summary>
/// Writes every cluster-changing operator command a node received (<see cref="OperatorAction"/>, allowed or refused) to
/// the journal, under one persistence id per node (<see cref="PersistenceIdFor"/>), so who did what survives the logs.
/// A child of the <see cref="OperationsActor"/>; a journal failure stops it (Akka.Persistence does), the command is
/// still logged, and the next command starts a new writer.
/// </summary>
public sealed class OperatorAuditActor : ReceivePersistentActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <summary>Props for a writer of <paramref name="persistenceId"/>.</summary>
    public static Props Props(string persistenceId) => Akka.Actor.Props.Create(() => new OperatorAuditActor(persistenceId));

    /// <summary>The persistence id of the operator commands received by the node at <paramref name="node"/>: <c>operator-audit-HOST-PORT</c>.</summary>
    public static string PersistenceIdFor(Address node) => $"operator-audit-{node.Host}-{node.Port}";

    /// <inheritdoc />
    public override string PersistenceId { get; }

    /// <summary>Creates the writer; see <see cref="Props"/>.</summary>
    public OperatorAuditActor(string persistenceId)
    {
        PersistenceId = persistenceId;
        Recover<OperatorAction>(_ => { }); // nothing to rebuild: the journal is the record
        Command<OperatorAction>(action => Persist(action, _ => { }));
    }

    /// <inheritdoc />
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Warning("Operator command {0} could not be written to the journal ({1}); it is in this log only", @event, cause.Message);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }
}
