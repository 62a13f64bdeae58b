using System.Collections.Concurrent;
using Akka.Actor;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.ClusterTests.Harness;

/// <summary>
/// A governed subsystem of a spec, outside the cluster: completes <c>registered</c> when the governor answers its
/// registration (fails it with the reason of a rejection), records every Throttle as the spec wants it
/// (<c>record</c> gets the Throttle and the actuator that sent it) and acknowledges it as applied.
/// </summary>
internal sealed class AckingSubsystem<T> : ReceiveActor
{
    public AckingSubsystem(ConcurrentQueue<T> throttles, TaskCompletionSource registered, Func<Throttle, IActorRef, T> record)
    {
        Receive<SubsystemRegistered>(_ => registered.TrySetResult());
        Receive<RegistrationRejected>(r => registered.TrySetException(new InvalidOperationException(r.Reason)));
        Receive<Throttle>(t =>
        {
            throttles.Enqueue(record(t, Sender));
            Sender.Tell(new ThrottleAck(t.Subsystem, t.Sequence, true, "applied"));
        });
    }

    /// <summary>The props of a subsystem that records into <paramref name="throttles"/>.</summary>
    public static Props Props(ConcurrentQueue<T> throttles, TaskCompletionSource registered, Func<Throttle, IActorRef, T> record) =>
        Akka.Actor.Props.Create(() => new AckingSubsystem<T>(throttles, registered, record));
}
