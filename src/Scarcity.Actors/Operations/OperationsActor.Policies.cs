using Akka.Actor;
using Akka.Event;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;

namespace Scarcity.Actors.Operations;

// Run-time policy versions through the policy store: apply and rollback need the operator token and are journaled as
// OperatorActions like leave and down; history and the effective policy are open queries.
public sealed partial class OperationsActor
{
    private sealed record StoreAnswered(string Operation, IOperatorCommand Command, string Target, string Origin, IActorRef ReplyTo, object Answer)
        : INoSerializationVerificationNeeded;

    private void ReceivePolicyVersions()
    {
        Receive<GetPolicies>(_ =>
        {
            var current = NodePolicy.Get(Context.System).Current;
            Sender.Tell(DescribePolicy(current?.Live ?? _config.Policy) with { Version = current?.LiveVersion ?? 0 });
        });
        Receive<GetPolicyVersions>(q => AskStore(q, Sender, "policies history"));
        Receive<ApplyPolicy>(m => OperateOnStore("policies apply", m, $"policy by {m.Author}", m with { Credential = null }));
        Receive<RollbackPolicy>(m => OperateOnStore("policies rollback", m, $"version {m.Version}", m with { Credential = null }));
        Receive<StoreAnswered>(a =>
        {
            a.ReplyTo.Tell(a.Answer);
            var (allowed, detail) = a.Answer switch
            {
                PolicyApplied { Unchanged: true } p => (true, $"unchanged: version {p.Version.Version} already is this policy"),
                PolicyApplied p => (true, $"version {p.Version.Version}: {p.Version.Summary}"),
                PolicyRejected r => (false, "rejected: " + string.Join("; ", r.Errors)),
                OperationFailed f => (false, f.Reason),
                _ => (false, a.Answer.ToString() ?? ""),
            };
            AuditPolicy(a.Operation, a.Command, a.Target, a.Origin, allowed, detail);
        });
    }

    private IActorRef? PolicyStore => _registry is not null && _registry.TryGet<GovernorActors.PolicyStore>(out var store) ? store : null;

    private void AskStore(object query, IActorRef replyTo, string operation)
    {
        if (PolicyStore is not { } store)
        {
            replyTo.Tell(new OperationFailed(operation, "this node runs no policy store proxy"));
            return;
        }
        Answer(store.Ask<object>(query, _askTimeout).ContinueWith(t => t.IsCompletedSuccessfully
            ? t.Result
            : new OperationFailed(operation, $"the policy store did not answer within {_askTimeout.TotalSeconds:0} s (is a governor node up?)"),
            TaskScheduler.Default), replyTo, operation);
    }

    // Authorizes like leave/down; the store answers the CLI, and the outcome is journaled as an OperatorAction.
    private void OperateOnStore(string operation, IOperatorCommand command, string target, object forward)
    {
        var origin = MessageOrigin.Of(Sender).ToString();
        if (Authorize(operation, command, target) is { } refused)
        {
            Sender.Tell(refused);
            AuditPolicy(operation, command, target, origin, false, refused.Reason);
            return;
        }
        if (PolicyStore is not { } store)
        {
            Sender.Tell(new OperationFailed(operation, "this node runs no policy store proxy"));
            return;
        }
        var replyTo = Sender;
        store.Ask<object>(forward, _askTimeout).ContinueWith(t => new StoreAnswered(operation, command, target, origin, replyTo,
                t.IsCompletedSuccessfully
                    ? t.Result
                    : new OperationFailed(operation, $"the policy store did not answer within {_askTimeout.TotalSeconds:0} s; the version may or may not be recorded: see scarcity policies history")),
            TaskScheduler.Default).PipeTo(Self);
    }

    private void AuditPolicy(string operation, IOperatorCommand command, string target, string origin, bool allowed, string detail)
    {
        _log.Warning("{0} of {1} by {2}: {3}", operation, target, _operator, detail);
        if (!_auditEnabled) return;
        var identity = IdentityOf(command);
        if (_audit is null)
        {
            _audit = Context.ActorOf(OperatorAuditActor.Props(OperatorAuditActor.PersistenceIdFor(_cluster.SelfAddress)), "operator-audit");
            Context.Watch(_audit);
        }
        _audit.Tell(new OperatorAction(operation, target, identity, origin, allowed, detail.Length > 2000 ? detail[..2000] : detail, DateTimeOffset.UtcNow));
    }
}
