using System.Collections.Frozen;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// Names of the metrics the governor knows, as the old Python loop named them. Utilisations are
/// fractions in [0, 1]; rates are per second. A per-device or per-subsystem series carries a
/// Prometheus-style label, e.g. <c>vram_util{gpu="3"}</c>; the unlabelled series of a per-GPU
/// metric is the worst GPU.
/// </summary>
public static class MetricNames
{
    /// <summary>CPU utilisation of the host (or the container's CPU quota), 0..1.</summary>
    public const string CpuUtil = "cpu_util";
    /// <summary>Memory utilisation of the host (or the container's memory limit), 0..1.</summary>
    public const string MemUtil = "mem_util";
    /// <summary>Memory available, in GiB.</summary>
    public const string MemAvailableGb = "mem_available_gb";
    /// <summary>Swap utilisation, 0..1.</summary>
    public const string SwapUtil = "swap_util";
    /// <summary>GPU compute utilisation, 0..1.</summary>
    public const string GpuUtil = "gpu_util";
    /// <summary>GPU memory-controller utilisation, 0..1.</summary>
    public const string GpuMemUtil = "gpu_mem_util";
    /// <summary>VRAM in use as a fraction of the device's total, 0..1.</summary>
    public const string VramUtil = "vram_util";
    /// <summary>Disk read rate in MB/s (from counter deltas).</summary>
    public const string DiskReadMb = "disk_read_mb";
    /// <summary>Disk write rate in MB/s (from counter deltas).</summary>
    public const string DiskWriteMb = "disk_write_mb";
    /// <summary>Network send rate in MB/s (from counter deltas).</summary>
    public const string NetSentMb = "net_sent_mb";
    /// <summary>Network receive rate in MB/s (from counter deltas).</summary>
    public const string NetRecvMb = "net_recv_mb";
    /// <summary>Latency reported by a subsystem, in milliseconds.</summary>
    public const string LatencyMs = "latency_ms";
    /// <summary>Queue depth reported by a subsystem.</summary>
    public const string QueueDepth = "queue_depth";
    /// <summary>Mean context length of the requests a subsystem serves, thousands of tokens, reported by the subsystem.</summary>
    public const string ContextK = "context_k";
    /// <summary>Out-of-memory crashes a subsystem has had so far (a counter), reported by the subsystem.</summary>
    public const string OomTotal = "oom_total";
    /// <summary>
    /// The fraction of a subsystem's KV cache in use, 0..1, as an inference engine exposes it (vLLM's
    /// <c>vllm:gpu_cache_usage_perc</c>, read by the scrape source).
    /// </summary>
    public const string KvCacheUtil = "kv_cache_util";
    /// <summary>Tokens per second reported by a subsystem.</summary>
    public const string TokensPerSecond = "tokens_per_s";
    /// <summary>CPU pressure stall ("some" avg10) as a fraction, 0..1.</summary>
    public const string PsiCpu = "psi_cpu";
    /// <summary>Memory pressure stall ("some" avg10) as a fraction, 0..1.</summary>
    public const string PsiMem = "psi_mem";
    /// <summary>I/O pressure stall ("some" avg10) as a fraction, 0..1.</summary>
    public const string PsiIo = "psi_io";
    /// <summary>GPU power draw as a fraction of the enforced power limit.</summary>
    public const string GpuPowerUtil = "gpu_power_util";
    /// <summary>
    /// GPU power draw in watts (NVML's power usage). Per GPU <c>gpu_power_w{gpu="0"}</c>; unlike the other per-GPU
    /// metrics the unlabelled host series is the sum over the host's GPUs (the host's GPU power), what a rack's power
    /// budget adds up.
    /// </summary>
    public const string GpuPowerW = "gpu_power_w";
    /// <summary>GPU temperature in degrees Celsius.</summary>
    public const string GpuTempC = "gpu_temp_c";
    /// <summary>
    /// 1 while the GPU's clocks are held down by power or thermal protection (software power cap, hardware slowdown,
    /// thermal slowdown, power brake), else 0; idle and operator clock settings do not count.
    /// </summary>
    public const string GpuThrottled = "gpu_throttled";
    /// <summary>Bit mask of the GPU's current clock-event (throttle) reasons, as NVML reports it.</summary>
    public const string GpuThrottleReasons = "gpu_throttle_reasons";
    /// <summary>
    /// Count of critical XID errors of the GPU itself (hardware, driver, bus) seen since the governor started; never
    /// resets. XIDs that a user's CUDA program causes are counted apart, in <see cref="GpuXidAppErrors"/>.
    /// </summary>
    public const string GpuXidErrors = "gpu_xid_errors";
    /// <summary>
    /// Count of XID errors caused by a user's program (a bad kernel, an illegal address, a killed context), per GPU and
    /// XID, e.g. <c>gpu_xid_app_errors{gpu="0",xid="13"}</c>, since the governor started; never resets. A series appears
    /// with its first event.
    /// </summary>
    public const string GpuXidAppErrors = "gpu_xid_app_errors";

    /// <summary>Label key of a per-GPU series.</summary>
    public const string GpuLabel = "gpu";
    /// <summary>Label key of the XID code of a <see cref="GpuXidAppErrors"/> series.</summary>
    public const string XidLabel = "xid";
    /// <summary>Label key of a per-subsystem series.</summary>
    public const string SubsystemLabel = "subsystem";
    /// <summary>Label key of a per-network-interface series, e.g. <c>net_recv_mb{interface="eth0"}</c>.</summary>
    public const string InterfaceLabel = "interface";
    /// <summary>Label key of a per-disk series, e.g. <c>disk_read_mb{disk="nvme0n1"}</c>.</summary>
    public const string DiskLabel = "disk";

    /// <summary>Every metric base name the governor accepts in a rule.</summary>
    public static readonly FrozenSet<string> Known = new[]
    {
        CpuUtil, MemUtil, MemAvailableGb, SwapUtil, GpuUtil, GpuMemUtil, VramUtil, DiskReadMb, DiskWriteMb,
        NetSentMb, NetRecvMb, LatencyMs, QueueDepth, ContextK, OomTotal, KvCacheUtil, TokensPerSecond, PsiCpu, PsiMem, PsiIo,
        GpuPowerUtil, GpuPowerW, GpuTempC, GpuThrottled, GpuThrottleReasons, GpuXidErrors, GpuXidAppErrors,
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Metrics that are fractions 0..1 and so count towards the host pressure level.</summary>
    public static readonly FrozenSet<string> Utilisations = new[]
    {
        CpuUtil, MemUtil, SwapUtil, GpuUtil, VramUtil,
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// Metrics that are fractions in [0, 1]: the <see cref="Utilisations"/>, the PSI stalls and the GPU's other fractions
    /// (<c>gpu_mem_util</c>, <c>gpu_power_util</c>). A rule's threshold on one of them is range-checked, so a threshold
    /// written in percent fails at start-up.
    /// </summary>
    public static readonly FrozenSet<string> Fractions = Utilisations
        .Concat([GpuMemUtil, GpuPowerUtil, PsiCpu, PsiMem, PsiIo, KvCacheUtil])
        .ToFrozenSet(StringComparer.Ordinal);

    /// <summary>True when <paramref name="series"/> (labelled or not: <c>vram_util{gpu="0"}</c>) is one of the <see cref="Fractions"/>.</summary>
    public static bool IsFraction(string series) => Fractions.Contains(BaseName(series));

    /// <summary>Builds a labelled series name: <c>Labelled("vram_util", "gpu", "3")</c> is <c>vram_util{gpu="3"}</c>.</summary>
    public static string Labelled(string metric, string labelKey, string labelValue) =>
        $"{metric}{{{labelKey}=\"{labelValue}\"}}";

    /// <summary>A series name with two labels: <c>gpu_xid_app_errors{gpu="0",xid="13"}</c>.</summary>
    public static string Labelled(string metric, string labelKey, string labelValue, string labelKey2, string labelValue2) =>
        $"{metric}{{{labelKey}=\"{labelValue}\",{labelKey2}=\"{labelValue2}\"}}";

    /// <summary>The base name of a series: <c>vram_util{gpu="3"}</c> gives <c>vram_util</c>.</summary>
    public static string BaseName(string series)
    {
        var brace = series.IndexOf('{');
        return brace < 0 ? series : series[..brace];
    }

    /// <summary>The value of one label of a series, or null when the series does not carry it.</summary>
    public static string? Label(string series, string labelKey)
    {
        var key = labelKey + "=\"";
        var start = series.IndexOf(key, StringComparison.Ordinal);
        if (start < 0) return null;
        start += key.Length;
        var end = series.IndexOf('"', start);
        return end < 0 ? null : series[start..end];
    }
}

/// <summary>Action names of the default rules. Any other name passes through to subsystems that declare it.</summary>
public static class ActionNames
{
    /// <summary>Reduce the batch size (level is the fraction of the maximum batch).</summary>
    public const string ReduceBatch = "reduce_batch";
    /// <summary>Throttle admission (level is the fraction of arrivals admitted).</summary>
    public const string Throttle = "throttle";
    /// <summary>Shed low-priority load (level is the fraction of low-priority load kept).</summary>
    public const string ShedLoad = "shed_load";
    /// <summary>Ask for more capacity (level above 1 is a capacity multiplier).</summary>
    public const string ScaleUp = "scale_up";

    /// <summary>The actions every governor understands without a declaration.</summary>
    public static readonly FrozenSet<string> BuiltIn =
        new[] { ReduceBatch, Throttle, ShedLoad, ScaleUp }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>True when <paramref name="name"/> is usable as an action name: lower-case letters, digits and underscores.</summary>
    public static bool IsValid(string? name) =>
        !string.IsNullOrEmpty(name) && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_');
}

/// <summary>What a subsystem may be called: the rule the registration, the gateway and the CLI share.</summary>
public static class SubsystemNames
{
    /// <summary>The longest subsystem name, in characters.</summary>
    public const int MaxLength = 64;

    /// <summary>The rule in words, for error messages.</summary>
    public const string Rule = "1 to 64 characters: lower-case letters, digits, '_', '-' and '.'";

    /// <summary>True when <paramref name="name"/> is usable as a subsystem name: <see cref="Rule"/>.</summary>
    public static bool IsValid(string? name) =>
        name is { Length: > 0 and <= MaxLength } && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-' or '.');
}

/// <summary>Distributed pub-sub topics of the governor's event bus.</summary>
public static class Topics
{
    /// <summary>Every sample summary (<see cref="TelemetryPublished"/>).</summary>
    public const string Telemetry = "drg.telemetry";
    /// <summary>
    /// Each governor node's newest profiles of the hosts it profiles, once per view interval (<see cref="TelemetryDigest"/>):
    /// what every node's fleet view follows, so a fleet of hundreds of hosts costs a few messages a second per node
    /// instead of one per sample.
    /// </summary>
    public const string TelemetryDigest = "drg.telemetry.digest";
    /// <summary>
    /// Each governor node's subsystem events (<see cref="SubsystemDigest"/>: changed statuses and decisions), batched per
    /// node and linger: what every node's fleet view and decision log and the budget owner follow.
    /// </summary>
    public const string SubsystemDigest = "drg.subsystems.digest";
    /// <summary>Host staleness changes (<see cref="NodeStale"/>).</summary>
    public const string NodeStale = "drg.node.stale";
    /// <summary>Every decision, whatever its action (<see cref="Decision"/>): what decision logs follow.</summary>
    public const string Decisions = "drg.decisions";
    /// <summary>A subsystem's state whenever it changes (<see cref="SubsystemStatus"/>): what every node's view follows.</summary>
    public const string Subsystems = "drg.subsystems";
    /// <summary>The topic of decisions for one action: <c>drg.signal.reduce_batch</c>.</summary>
    public static string Signal(string action) => "drg.signal." + action;
}
