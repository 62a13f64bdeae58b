using System.Collections.Immutable;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// A registration of a subsystem on a new host, sent to its actuator on the host it was registered on before
/// (<paramref name="Host"/>, from the subsystem directory): that actuator decides on the registration as ever, and when it
/// accepts, writes it to its journal, stops once written and only then passes it on to the actuator on the new host, so
/// one persistence id never has two live writers.
/// </summary>
/// <param name="Host">The host the subsystem was registered on (the actuator that holds its state).</param>
/// <param name="Register">The new registration.</param>
/// <param name="Hops">How many actuators have passed it on; one more than 3 is dropped (a directory that lags twice).</param>
public sealed record HandOverSubsystem(string Host, RegisterSubsystem Register, int Hops = 0) : IScarcityMessage;

/// <summary>
/// The samples of one sensor tick for hosts whose profilers live on one node, sent to that node's <c>/user/profilers</c>
/// (issue 15: a sensor node that drives many hosts sends one message per destination node per tick, not one per host).
/// The receiving node hands each sample to its host's profiler; a sample whose profiler has moved meanwhile takes one
/// more hop, none is dropped.
/// </summary>
/// <param name="Samples">The samples, at most one per host.</param>
public sealed record SampleBatch(ImmutableArray<Sample> Samples) : IScarcityMessage;

/// <summary>
/// A marker the sensor node's <c>SampleBatchRouter</c> sends down the path a host's samples took so far, before it sends
/// them another way (the host's shard was learnt on, or moved to, another node): the profiler entity of
/// <paramref name="Host"/> answers it with <see cref="SamplePathProbeAck"/> to its sender, and since each path keeps its
/// order, by then every sample sent before it on that path has reached the profiler. Until the answer comes the router
/// holds the host's samples, so none on the new path overtakes one still on the old (the profiler rejects a reading
/// older than the last). Sent once per host and path change, not per sample: JSON, no binary form.
/// </summary>
/// <param name="Host">The host whose profiler answers.</param>
/// <param name="Id">The router's number for this probe; the answer carries it back.</param>
public sealed record SamplePathProbe(string Host, long Id) : IScarcityMessage, IWithHost;

/// <summary>A profiler's answer to <see cref="SamplePathProbe"/>: every sample sent before the probe on its path is through.</summary>
/// <param name="Host">The host of the profiler that answered.</param>
/// <param name="Id">The probe's number.</param>
public sealed record SamplePathProbeAck(string Host, long Id) : IScarcityMessage;
