using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Budgets;

/// <summary>
/// On a <c>sensor</c> node: publishes this host's labels (<c>Scarcity:Sensor:Labels</c>) on
/// <see cref="BudgetTopics.HostLabels"/> at start and then every labels interval, so that the budget owner, wherever it
/// runs and whenever it moved, learns them within one interval. The samples stay as they were.
/// </summary>
public sealed class HostLabelsActor : ReceiveActor
{
    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private ICancelable? _timer;
    private readonly TimeSpan _interval;

    /// <summary>Props of the publisher of <paramref name="host"/>'s <paramref name="labels"/>, every <paramref name="interval"/>.</summary>
    public static Props Props(string host, IReadOnlyDictionary<string, string> labels, TimeSpan interval) =>
        Akka.Actor.Props.Create(() => new HostLabelsActor(host, labels, interval));

    /// <summary>Creates the publisher; see <see cref="Props"/>.</summary>
    public HostLabelsActor(string host, IReadOnlyDictionary<string, string> labels, TimeSpan interval)
    {
        _interval = interval;
        var frozen = labels.ToImmutableDictionary(StringComparer.Ordinal);
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        Receive<Tick>(_ => mediator.Tell(new Publish(BudgetTopics.HostLabels, new HostLabels(host, frozen, Context.System.Scheduler.Now))));
    }

    /// <inheritdoc />
    protected override void PreStart() =>
        _timer = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(TimeSpan.Zero, _interval, Self, Tick.Instance, Self);

    /// <inheritdoc />
    protected override void PostStop() => _timer?.Cancel();
}
