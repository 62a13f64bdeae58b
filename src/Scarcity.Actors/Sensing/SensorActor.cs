using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Metrics;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// Samples one host's <see cref="ISensorSource"/> every interval, on the thread pool so a slow read never blocks an
/// actor thread, and sends each <see cref="Sample"/> to the profiler. A tick that finds the previous read still running
/// is skipped and counted, never queued. A trace source is replayed at its own timestamps.
/// </summary>
public sealed class SensorActor : ReceiveActor
{
    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private sealed record Sampled(Sample? Sample, Exception? Error) : INoSerializationVerificationNeeded;

    private readonly string _host;
    private readonly ISensorSource _source;
    private readonly TimeSpan _interval;
    private readonly IActorRef _profiler;
    private readonly MetricBuffer _buffer = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _inFlight;
    private long _skipped;
    private string? _lastError;
    private DateTimeOffset _start;
    private ICancelable? _timer;
    private Task? _read;

    /// <summary>Props of the sensor of <paramref name="host"/>.</summary>
    public static Props Props(string host, ISensorSource source, TimeSpan interval, IActorRef profiler) =>
        Akka.Actor.Props.Create(() => new SensorActor(host, source, interval, profiler));

    /// <summary>Creates the sensor.</summary>
    public SensorActor(string host, ISensorSource source, TimeSpan interval, IActorRef profiler)
    {
        _host = host;
        _source = source;
        _interval = interval;
        _profiler = profiler;

        Receive<Tick>(_ => SampleNow());
        Receive<Sampled>(OnSampled);
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _start = Context.System.Scheduler.Now;
        if (_source is IClockedSensorSource) ScheduleNextReplay();
        else _timer = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(TimeSpan.Zero, _interval, Self, Tick.Instance, Self);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _timer?.Cancel();
        // A read still running on the thread pool owns the source until it returns: disposing it under the read would
        // break the one-caller-at-a-time contract (NVML's Dispose unloads the native library the read is calling into).
        if (_read is { IsCompleted: false } read)
        {
            var source = _source;
            var log = _log;
            read.ContinueWith(_ => DisposeSource(source, log), TaskScheduler.Default);
        }
        else DisposeSource(_source, _log);
    }

    private static void DisposeSource(ISensorSource source, ILoggingAdapter log)
    {
        try
        {
            source.Dispose();
        }
        catch (Exception e)
        {
            log.Error(e, "Sensor source {0} failed to dispose", source.Name);
        }
    }

    private void ScheduleNextReplay()
    {
        var clocked = (IClockedSensorSource)_source;
        if (!clocked.HasMore)
        {
            _log.Info("Sensor {0}: trace {1} replayed to its end", _host, _source.Name);
            return;
        }
        var due = _start + clocked.NextOffset - Context.System.Scheduler.Now;
        _timer = Context.System.Scheduler.ScheduleTellOnceCancelable(due < TimeSpan.Zero ? TimeSpan.Zero : due, Self, Tick.Instance, Self);
    }

    private void SampleNow()
    {
        if (_inFlight)
        {
            _skipped++;
            GovernorMetrics.Get(Context.System).SamplingSkipped.Inc();
            if (_skipped == 1 || _skipped % 100 == 0)
                _log.Warning("Sensor {0}: source {1} is slower than the {2} ms interval; {3} ticks skipped so far",
                    _host, _source.Name, _interval.TotalMilliseconds, _skipped);
            return;
        }
        _inFlight = true;
        var at = _source is IClockedSensorSource clocked ? _start + clocked.NextOffset : Context.System.Scheduler.Now;
        var buffer = _buffer;
        var source = _source;
        var host = _host;
        var metrics = GovernorMetrics.Get(Context.System);
        var read = Task.Run(() =>
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                buffer.Clear();
                source.Sample(buffer, at);
                var sample = new Sample(host, at, [.. buffer.Values], [.. buffer.Stale]);
                metrics.RecordSample(System.Diagnostics.Stopwatch.GetElapsedTime(started), failed: false);
                return new Sampled(sample, null);
            }
            catch (Exception e)
            {
                metrics.RecordSample(System.Diagnostics.Stopwatch.GetElapsedTime(started), failed: true);
                return new Sampled(null, e);
            }
        });
        _read = read;
        read.PipeTo(Self);
    }

    private void OnSampled(Sampled sampled)
    {
        _inFlight = false;
        if (sampled.Sample is not null)
        {
            _lastError = null;
            _profiler.Tell(sampled.Sample);
        }
        else if (sampled.Error?.Message != _lastError)
        {
            _lastError = sampled.Error?.Message;
            _log.Error(sampled.Error, "Sensor {0}: source {1} failed; retrying every interval", _host, _source.Name);
        }
        if (_source is IClockedSensorSource) ScheduleNextReplay();
    }
}
