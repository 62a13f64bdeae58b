using Akka.Actor;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// Where a message came from, as the node that received it can tell: the address of the actor system that sent it.
/// A message that came through the ClusterClient receptionist has as sender the receptionist's response tunnel on this
/// node (<c>/system/receptionist/&lt;the client's path, URI-escaped&gt;</c>); its origin is the client's address, read
/// from the tunnel's name. Without TLS on remoting an address is what the peer's association says, not a proof.
/// </summary>
public static class MessageOrigin
{
    /// <summary>The address of the actor system that sent a message with <paramref name="sender"/>.</summary>
    public static Address Of(IActorRef sender)
    {
        var path = sender.Path;
        var elements = path.Elements;
        if (elements.Count >= 3 && elements[0] == "system" && elements[1] == "receptionist" &&
            ActorPath.TryParse(Uri.UnescapeDataString(elements[2]), out var client))
            return client.Address;
        return path.Address;
    }

    /// <summary>True when <paramref name="sender"/> is <paramref name="holder"/> itself or came from its actor system (through a ClusterClient tunnel included).</summary>
    public static bool IsFrom(IActorRef sender, IActorRef holder, Address selfAddress) =>
        sender.Equals(holder) || Resolve(Of(sender), selfAddress) == Resolve(holder.Path.Address, selfAddress);

    // A local actor's path carries no host: it is this node's address.
    private static Address Resolve(Address address, Address selfAddress) => address.HasLocalScope ? selfAddress : address;
}
