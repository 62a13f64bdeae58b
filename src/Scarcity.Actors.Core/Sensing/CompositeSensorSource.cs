using System.Diagnostics;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// Samples several sources (the Linux host, NVML, a subsystem's own) into one buffer, each isolated from the others.
/// Each source runs on a thread of its own; a sample starts every source that is idle, waits for them until the
/// deadline, and adds each one's readings in order. A source that throws, or that has not answered by the deadline,
/// adds its series of last time as stale, and the others report as usual: a GPU call that hangs for seconds does not
/// hold back the host's CPU, memory, disk and network readings. A hung source is reported once, is not called again
/// until its call returns, and reports again from the first sample it answers in time.
/// </summary>
/// <remarks>
/// A sample allocates nothing in steady state: the threads, their buffers and the series names they remember are
/// reused. Use the bare source where there is only one (<see cref="SensorSources.Create"/> does): it needs no isolation.
/// </remarks>
public sealed class CompositeSensorSource : ISensorSource
{
    /// <summary>How long a sample waits for its sources unless told otherwise: half the default 250 ms interval.</summary>
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromMilliseconds(125);

    // How long Dispose waits for an idle source's thread to dispose it (microseconds, unless the host is overloaded).
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(1);

    private readonly Runner[] _runners;
    private readonly ISensorSource[] _sources;
    private readonly Action<ISensorSource, Exception>? _onSourceFailed;
    private readonly Action<string>? _notice;
    private readonly TimeSpan _deadline;
    private volatile bool _disposed;

    /// <param name="sources">The sources, reported in this order; the composite owns them and disposes them.</param>
    /// <param name="onSourceFailed">
    /// Hears each failure of a source (the SensorActor logs it), and once, as a <see cref="TimeoutException"/> naming the
    /// call it is in where the source can say (<see cref="IPendingCallSource"/>), a source that has not answered by the
    /// deadline.
    /// </param>
    /// <param name="deadline">How long a sample waits for the sources; <see cref="DefaultDeadline"/> when null. Keep it
    /// under the sampling interval, so a hung source costs no sample of the others.</param>
    /// <param name="notice">Hears one line when a hung source answers again.</param>
    public CompositeSensorSource(IEnumerable<ISensorSource> sources, Action<ISensorSource, Exception>? onSourceFailed = null,
        TimeSpan? deadline = null, Action<string>? notice = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        _sources = sources.ToArray();
        if (_sources.Length == 0) throw new ArgumentException("A composite needs at least one source.", nameof(sources));
        if (Array.IndexOf(_sources, null) >= 0) throw new ArgumentException("A source is null.", nameof(sources));
        _deadline = deadline ?? DefaultDeadline;
        if (_deadline <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(deadline), _deadline, "The deadline of a sample must be positive.");
        _onSourceFailed = onSourceFailed;
        _notice = notice;
        Name = "composite(" + string.Join(",", _sources.Select(s => s.Name)) + ")";
        _runners = _sources.Select(s => new Runner(s)).ToArray();
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The sources, in reporting order.</summary>
    public IReadOnlyList<ISensorSource> Sources => _sources;

    /// <summary>How long a sample waits for the sources.</summary>
    public TimeSpan Deadline => _deadline;

    /// <inheritdoc />
    /// <remarks>
    /// Returns within the deadline (plus the time to copy the readings), however long a source takes. Once disposed
    /// (the SensorActor stops while a sample is in flight) it reports nothing.
    /// </remarks>
    public void Sample(MetricBuffer buffer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (_disposed) return;

        var started = Stopwatch.GetTimestamp();
        foreach (var runner in _runners)
        {
            // A source still in a call from an earlier sample is not called again while it is.
            runner.StartedThisSample = !runner.Busy;
            if (runner.StartedThisSample) runner.Start(now, started);
        }
        foreach (var runner in _runners) runner.WaitIdle(started, _deadline);

        foreach (var runner in _runners)
        {
            if (runner.Busy || !runner.StartedThisSample)
            {
                // Not answered by the deadline, or answered late for an earlier sample: that reading is not this one.
                runner.AddLastSeriesAsStale(buffer);
                if (runner.Busy && !runner.Hung) ReportHung(runner);
                continue;
            }
            if (runner.Error is { } error)
            {
                runner.AddLastSeriesAsStale(buffer);
                _onSourceFailed?.Invoke(runner.Source, error);
                continue;
            }
            runner.CopyTo(buffer);
            if (runner.Hung)
            {
                runner.Hung = false;
                var after = Stopwatch.GetElapsedTime(runner.HungSince, started);
                _notice?.Invoke($"Sensor source {runner.Source.Name} answers again, {after.TotalSeconds:0.0} s after its " +
                                "call hung; its series are read again.");
            }
        }
    }

    private void ReportHung(Runner runner)
    {
        runner.Hung = true;
        runner.HungSince = runner.StartedAt;
        var call = (runner.Source as IPendingCallSource)?.PendingCall;
        _onSourceFailed?.Invoke(runner.Source, new TimeoutException(
            $"{runner.Source.Name} has not answered within {_deadline.TotalMilliseconds:0} ms" +
            (call is null ? "" : $", in {call}") +
            "; its series read stale, and it is not called again until that call returns"));
    }

    /// <summary>
    /// Disposes every source on its own thread, even when one throws, and waits for it; a hung source is disposed when
    /// its call returns, never under it, and not waited for.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        var started = Stopwatch.GetTimestamp();
        foreach (var runner in _runners) runner.Stop();

        List<Exception>? errors = null;
        foreach (var runner in _runners)
        {
            if (runner.Hung || !runner.WaitStopped(started, StopWait)) continue;
            if (runner.DisposeError is { } e) (errors ??= []).Add(e);
        }
        if (errors is not null) throw new AggregateException("Disposing a sensor source failed.", errors);
    }

    /// <summary>One source on a thread of its own, sampled into its own buffer when told to.</summary>
    /// <remarks>One monitor guards the hand-offs both ways: it allocates nothing, however the threads interleave.</remarks>
    private sealed class Runner
    {
        private readonly object _gate = new();
        private readonly MetricBuffer _buffer = new();
        private string[] _lastSeries = new string[16];
        private int _lastSeriesCount;
        // Guarded by _gate.
        private DateTimeOffset _at;
        private bool _pending;
        private bool _busy;
        private bool _stop;
        private bool _stopped;

        public Runner(ISensorSource source)
        {
            Source = source;
            new Thread(Loop) { IsBackground = true, Name = "sensor " + source.Name }.Start();
        }

        public ISensorSource Source { get; }
        public bool StartedThisSample { get; set; }
        public long StartedAt { get; private set; }
        public bool Hung { get; set; }
        public long HungSince { get; set; }
        public Exception? Error { get; private set; }
        public Exception? DisposeError { get; private set; }

        /// <summary>True from <see cref="Start"/> until the source's sample returns.</summary>
        public bool Busy
        {
            get
            {
                lock (_gate) return _busy;
            }
        }

        public void Start(DateTimeOffset at, long timestamp)
        {
            lock (_gate)
            {
                Debug.Assert(!_busy, "a source is never sampled twice at once");
                _at = at;
                Error = null;
                StartedAt = timestamp;
                _busy = _pending = true;
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>Waits until the source's sample returns or <paramref name="limit"/> has passed since <paramref name="since"/>.</summary>
        public void WaitIdle(long since, TimeSpan limit)
        {
            lock (_gate)
            {
                while (_busy)
                {
                    var left = limit - Stopwatch.GetElapsedTime(since);
                    if (left <= TimeSpan.Zero) return;
                    Monitor.Wait(_gate, left);
                }
            }
        }

        public void Stop()
        {
            lock (_gate)
            {
                _stop = true;
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>True once the thread has disposed the source, waiting up to <paramref name="limit"/> since <paramref name="since"/>.</summary>
        public bool WaitStopped(long since, TimeSpan limit)
        {
            lock (_gate)
            {
                while (!_stopped)
                {
                    var left = limit - Stopwatch.GetElapsedTime(since);
                    if (left <= TimeSpan.Zero) return false;
                    Monitor.Wait(_gate, left);
                }
                return true;
            }
        }

        /// <summary>Adds the readings of the sample that just completed, and remembers their series.</summary>
        public void CopyTo(MetricBuffer buffer)
        {
            var values = _buffer.Values;
            var stale = _buffer.Stale;
            var needed = values.Length + stale.Length;
            if (_lastSeries.Length < needed) _lastSeries = new string[Math.Max(needed, _lastSeries.Length * 2)];
            var n = 0;
            foreach (var v in values)
            {
                buffer.Add(v.Metric, v.Value);
                _lastSeries[n++] = v.Metric;
            }
            foreach (var s in stale)
            {
                buffer.AddStale(s);
                _lastSeries[n++] = s;
            }
            _lastSeriesCount = n;
        }

        /// <summary>The series this source reported last time it answered, as stale: it has no reading now.</summary>
        public void AddLastSeriesAsStale(MetricBuffer buffer)
        {
            for (var i = 0; i < _lastSeriesCount; i++) buffer.AddStale(_lastSeries[i]);
        }

        private void Loop()
        {
            while (true)
            {
                DateTimeOffset at;
                lock (_gate)
                {
                    while (!_pending && !_stop) Monitor.Wait(_gate);
                    if (_stop) break;
                    _pending = false;
                    at = _at;
                }
                Exception? error = null;
                try
                {
                    _buffer.Clear();
                    Source.Sample(_buffer, at);
                }
                catch (Exception e)
                {
                    error = e;
                }
                lock (_gate)
                {
                    Error = error;
                    _busy = false;
                    Monitor.PulseAll(_gate);
                }
            }
            // Disposed here, on the thread that samples it: never while a call of the source is still running.
            Exception? disposeError = null;
            try
            {
                Source.Dispose();
            }
            catch (Exception e)
            {
                disposeError = e;
            }
            lock (_gate)
            {
                DisposeError = disposeError;
                _stopped = true;
                Monitor.PulseAll(_gate);
            }
        }
    }
}
