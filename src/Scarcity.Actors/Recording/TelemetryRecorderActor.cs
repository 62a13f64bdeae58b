using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Prometheus;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Metrics;
using Scarcity.Actors.Replay;

namespace Scarcity.Actors.Recording;

/// <summary>
/// This node's telemetry recorder (<c>/user/telemetry-recorder</c>, on governor nodes; a ClusterClient service). The
/// profilers of the hosts on this node tell it each <see cref="Sample"/> and accepted <see cref="ReportMetrics"/> as
/// they are (the record is built here, off their path), the actuators each registration they accept; it buffers them
/// and writes one frame per <see cref="RecordingConfig.FlushInterval"/> through the core's
/// <see cref="TelemetryRecordingWriter"/>. A write that fails (a full disk, a directory gone) is logged once per distinct
/// error per minute and counted, and its records dropped; profiling never waits for it. It answers
/// <see cref="GetRecording"/> with a bounded page of this node's recording, or of another member's when asked for it.
/// </summary>
public sealed class TelemetryRecorderActor : ReceiveActor
{
    private sealed class Flush : INoSerializationVerificationNeeded
    {
        public static readonly Flush Instance = new();
    }

    /// <summary>Records buffered before a write is forced ahead of the timer.</summary>
    public const int FlushAtRecords = 4096;

    /// <summary>The most records one <see cref="GetRecording"/> page carries.</summary>
    public const int MaxPageRecords = 5000;

    private readonly RecordingConfig _config;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<TelemetryRecord> _buffer = [];
    private readonly Journaling.LogRateLimiter _errorLog = new(TimeSpan.FromMinutes(1));
    private readonly ActorSystem _system = Context.System;
    private readonly Counter _recorded;
    private readonly Counter _dropped;
    private readonly Counter _errors;
    private TelemetryRecordingWriter? _writer;
    private bool _failing;
    private ICancelable? _timer;

    /// <summary>Props of the recorder; with <see cref="RecordingConfig.Enabled"/> false it only answers queries (with an empty page).</summary>
    public static Props Props(RecordingConfig config) => Akka.Actor.Props.Create(() => new TelemetryRecorderActor(config));

    /// <summary>Creates the recorder.</summary>
    public TelemetryRecorderActor(RecordingConfig config)
    {
        _config = config;
        var metrics = Prometheus.Metrics.WithCustomRegistry(GovernorMetrics.Get(Context.System).Registry);
        _recorded = metrics.CreateCounter("scarcity_recording_records_total", "Telemetry records written to this node's recording (Scarcity:Recording).");
        _dropped = metrics.CreateCounter("scarcity_recording_records_dropped_total", "Telemetry records not recorded because their write failed.");
        _errors = metrics.CreateCounter("scarcity_recording_write_errors_total", "Writes of this node's recording that failed (a full disk, a directory gone).");

        Receive<Sample>(s => Add(TelemetryRecord.Of(s)));
        Receive<ReportMetrics>(r => Add(TelemetryRecord.Of(r)));
        Receive<TelemetryRecord>(Add);
        Receive<Flush>(_ => Write());
        Receive<GetRecording>(Query);
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (_config.Enabled)
            _timer = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(_config.FlushInterval, _config.FlushInterval, Self, Flush.Instance, Self);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _timer?.Cancel();
        if (_config.Enabled) Write();
        _writer?.Dispose();
    }

    private void Add(TelemetryRecord record)
    {
        if (!_config.Enabled) return;
        _buffer.Add(record);
        if (_buffer.Count >= FlushAtRecords) Write();
    }

    private void Write()
    {
        if (_buffer.Count == 0) return;
        try
        {
            _writer ??= new TelemetryRecordingWriter(_config);
            _writer.Append(_buffer);
            _recorded.Inc(_buffer.Count);
            if (_failing) _log.Info("Telemetry recording in {0} writes again", _config.Directory);
            _failing = false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _failing = true;
            _errors.Inc();
            _dropped.Inc(_buffer.Count);
            if (_errorLog.ShouldLog(e.GetType().Name + e.Message, DateTimeOffset.UtcNow, out var suppressed))
                _log.Warning("Telemetry recording: cannot write to {0} ({1}: {2}); {3} records dropped, profiling goes on{4}",
                    _config.Directory, e.GetType().Name, e.Message, _buffer.Count, suppressed > 0 ? $" ({suppressed} more failures like it)" : "");
        }
        finally
        {
            _buffer.Clear();
        }
    }

    private void Query(GetRecording query)
    {
        var self = ((ExtendedActorSystem)_system).Provider.DefaultAddress;
        var replyTo = Sender;
        if (query.Node is { } node && !string.Equals(node.TrimEnd('/'), self.ToString(), StringComparison.Ordinal))
        {
            Address address;
            try
            {
                address = Address.Parse(node);
            }
            catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
            {
                replyTo.Tell(new OperationFailed("recording", $"'{node}' is not a member address"));
                return;
            }
            _system.ActorSelection(new RootActorPath(address) / "user" / "telemetry-recorder")
                .Ask<object>(query with { Node = null }, TimeSpan.FromSeconds(10))
                .ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : new OperationFailed("recording", $"{node}: {t.Exception?.GetBaseException().Message ?? "cancelled"}"),
                    TaskScheduler.Default)
                .PipeTo(replyTo);
            return;
        }
        if (!_config.Enabled)
        {
            replyTo.Tell(new RecordingPage(self.ToString(), [], null, false));
            return;
        }
        Write(); // what is buffered is part of the answer
        var directory = _config.Directory;
        Task.Run(() =>
        {
            try
            {
                var read = TelemetryRecordingReader.Read(directory, query.From, query.To, query.Host, query.Cursor, Math.Clamp(query.MaxRecords, 1, MaxPageRecords));
                return (object)new RecordingPage(self.ToString(), [.. read.Records], read.NextCursor, true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidDataException)
            {
                return new OperationFailed("recording", $"{self}: {e.Message}");
            }
        }).PipeTo(replyTo);
    }
}

/// <summary>
/// Where the profilers and actuators of this node find the recorder: <see cref="Recorder"/> is null while recording is
/// off, so their hook (<c>_recorder?.Tell(sample)</c>) makes no call and allocates nothing.
/// </summary>
public sealed class TelemetryRecording : IExtension
{
    /// <summary>This node's recorder when <c>Scarcity:Recording:Enabled</c>; null otherwise.</summary>
    public IActorRef? Recorder { get; internal set; }

    /// <summary>The extension of <paramref name="system"/>.</summary>
    public static TelemetryRecording Get(ActorSystem system) => system.WithExtension<TelemetryRecording, TelemetryRecordingProvider>();

    /// <summary>This node's recorder, or null when recording is off.</summary>
    public static IActorRef? RecorderOf(ActorSystem system) => Get(system).Recorder;
}

/// <summary>Creates <see cref="TelemetryRecording"/>.</summary>
public sealed class TelemetryRecordingProvider : ExtensionIdProvider<TelemetryRecording>
{
    /// <inheritdoc />
    public override TelemetryRecording CreateExtension(ExtendedActorSystem system) => new();
}
