namespace Scarcity.Actors.Sensing;

/// <summary>
/// Something that reads metrics of one host: /proc and cgroups, NVML, a recorded trace. A source is called from one
/// thread at a time, never from an actor's thread when it may block (the SensorActor samples on the thread pool).
/// </summary>
public interface ISensorSource : IDisposable
{
    /// <summary>A short name for logs, e.g. <c>linux</c>, <c>nvml</c>, <c>trace:vram-step.csv</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Reads every series this source provides into <paramref name="buffer"/>. A series the source cannot read this time
    /// is reported with <see cref="MetricBuffer.AddStale"/>, never as zero. Must not throw for a transient failure;
    /// throwing marks the whole source failed for this sample (the SensorActor logs it and retries next interval).
    /// </summary>
    /// <param name="buffer">Cleared by the caller; the source appends.</param>
    /// <param name="now">The sampling instant (from the governor's clock); rates are computed against it.</param>
    void Sample(MetricBuffer buffer, DateTimeOffset now);
}

/// <summary>A source that can tell the time of its own readings (a trace replay): the SensorActor uses it instead of the clock.</summary>
public interface IClockedSensorSource : ISensorSource
{
    /// <summary>False once the source has nothing more to replay.</summary>
    bool HasMore { get; }

    /// <summary>The time of the next reading, relative to the start of the replay.</summary>
    TimeSpan NextOffset { get; }
}

/// <summary>
/// A source that can name the call it is in, so that a report of a hung source says which call hangs (NVML: the
/// function and the GPU).
/// </summary>
public interface IPendingCallSource : ISensorSource
{
    /// <summary>
    /// The call in progress, e.g. <c>nvmlDeviceGetUtilizationRates on GPU 0</c>; null between samples. Read from another
    /// thread than the one sampling, without locking: it is a hint for a log line.
    /// </summary>
    string? PendingCall { get; }
}
