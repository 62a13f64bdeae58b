using System.Net.Http.Headers;

namespace Scarcity.Actors.Sensing.Scrape;

/// <summary>
/// Reads subsystems' series from their Prometheus endpoints (<see cref="ScrapeConfig"/>): each target is scraped every
/// <see cref="ScrapeTarget.Interval"/> over HTTP, on the thread pool, and <see cref="Sample"/> only hands out the newest
/// readings, so it never waits on the network and never holds back the host's other sources. The readings of a scrape
/// are repeated in every sample until the next one, and turn stale (never zero) when the endpoint fails (refused, an
/// HTTP error, no answer within <see cref="ScrapeTarget.Timeout"/>, not an exposition) or its last good scrape is too old.
/// A failing endpoint is retried after <see cref="ScrapeTarget.Interval"/>, doubling up to
/// <see cref="ScrapeTarget.MaxBackoff"/>; each distinct error is logged once, and so is its recovery.
/// </summary>
public sealed class ScrapeSensorSource : ISensorSource
{
    /// <summary>The largest exposition read (vLLM's is about 60 kB with one model); a larger one fails the scrape.</summary>
    public const long MaxResponseBytes = 16 * 1024 * 1024;

    /// <summary>An endpoint that keeps failing the same way is logged again this often: 5 minutes.</summary>
    public static readonly TimeSpan DefaultRemindEvery = TimeSpan.FromMinutes(5);

    private readonly Target[] _targets;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Action<string> _notice;
    private readonly Action<string> _warning;
    private readonly Action<ScrapeTarget, string>? _onError;
    private readonly TimeSpan _remindEvery;
    private readonly TimeSpan _sampleInterval;

    /// <param name="targets">The targets (validated: <see cref="ScrapeTarget.Validate"/>); at least one.</param>
    /// <param name="sampleInterval">The sensor's interval: a scrape's readings stay fresh for two of the longer of it and the target's interval, plus the timeout.</param>
    /// <param name="notice">Hears one line when an endpoint answers again.</param>
    /// <param name="warning">Hears one line per distinct failure of an endpoint, and per mapping that finds nothing to read.</param>
    /// <param name="onError">Hears every failed scrape (the shell counts them in <c>scarcity_scrape_errors_total</c>), with its reason.</param>
    /// <param name="remindEvery">How often an endpoint that keeps failing the same way is logged again; <see cref="DefaultRemindEvery"/> when null.</param>
    public ScrapeSensorSource(IReadOnlyList<ScrapeTarget> targets, TimeSpan sampleInterval, Action<string> notice, Action<string> warning,
        Action<ScrapeTarget, string>? onError = null, TimeSpan? remindEvery = null)
    {
        _remindEvery = remindEvery ?? DefaultRemindEvery;
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Count == 0) throw new ArgumentException("A scrape source needs at least one target.", nameof(targets));
        var problems = targets.SelectMany((t, i) => t.Validate($"targets[{i}]")).ToList();
        if (problems.Count > 0) throw new ArgumentException("Invalid scrape targets: " + string.Join("; ", problems), nameof(targets));
        _targets = targets.Select(t => new Target(t)).ToArray();
        _sampleInterval = sampleInterval;
        _notice = notice;
        _warning = warning;
        _onError = onError;
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false })
        {
            MaxResponseContentBufferSize = MaxResponseBytes,
            Timeout = Timeout.InfiniteTimeSpan, // each scrape has its own
        };
        // The text format; an endpoint that also speaks OpenMetrics or protobuf serves this one when asked for it.
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("text/plain") { Parameters = { new NameValueHeaderValue("version", "0.0.4") } });
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("scarcity-governor", "1"));
        Name = "scrape(" + string.Join(",", targets.Select(t => t.Subsystem)) + ")";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    /// <remarks>Never blocks: it collects finished scrapes, starts due ones on the thread pool, and adds what is known.</remarks>
    public void Sample(MetricBuffer buffer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        foreach (var t in _targets)
        {
            if (t.InFlight is { IsCompleted: true } done)
            {
                t.InFlight = null;
                Complete(t, done.IsCompletedSuccessfully ? done.Result : Result.Failed(done.Exception?.GetBaseException().Message ?? "cancelled"));
            }
            // A clock stepped back (before the last scrape started) makes the next scrape due at once, not after the step.
            var due = now >= t.NextDue || now < t.StartedAt;
            if (t.InFlight is null && due && t.Backoff.IsDue(now) && !_disposed.IsCancellationRequested)
            {
                t.StartedAt = now;
                t.NextDue = now + t.Config.Interval;
                t.InFlight = Task.Run(() => Scrape(t), CancellationToken.None);
            }
            var maxAge = (t.Config.Interval > _sampleInterval ? t.Config.Interval : _sampleInterval) * 2 + t.Config.Timeout;
            var fresh = !t.Failing && t.LastGoodAt is { } good && now - good <= maxAge;
            for (var i = 0; i < t.Mappings.Length; i++)
            {
                if (fresh && t.Values[i] is { } value) buffer.Add(t.Mappings[i].Series, value);
                else buffer.AddStale(t.Mappings[i].Series);
            }
        }
    }

    private async Task<Result> Scrape(Target t)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
        timeout.CancelAfter(t.Config.Timeout);
        try
        {
            using var response = await _http.GetAsync(t.Uri, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                return Result.Failed($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            return Result.Read(ExpositionParser.Parse(text));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !_disposed.IsCancellationRequested)
        {
            return Result.Failed($"no answer within {t.Config.Timeout.TotalMilliseconds:0} ms");
        }
        catch (HttpRequestException e)
        {
            return Result.Failed(e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal)
                ? $"{e.Message} ({inner.Message})" : e.Message);
        }
        catch (ExpositionFormatException e)
        {
            return Result.Failed("not a Prometheus text exposition: " + e.Message);
        }
    }

    private void Complete(Target t, Result result)
    {
        var url = t.Config.Url;
        if (result.Error is { } error)
        {
            t.Failing = true;
            t.Backoff.Failed(t.StartedAt, t.Config.Interval, t.Config.MaxBackoff);
            _onError?.Invoke(t.Config, error);
            if (error != t.LastError)
            {
                t.LastError = error;
                t.LastLoggedAt = t.StartedAt;
                _warning($"Scrape of {url} (subsystem {t.Config.Subsystem}) failed: {error}; its series " +
                         $"({string.Join(", ", t.Mappings.Select(m => m.Series))}) are stale; retrying with backoff up to {t.Config.MaxBackoff}");
            }
            else if (t.StartedAt - t.LastLoggedAt >= _remindEvery)
            {
                t.LastLoggedAt = t.StartedAt;
                _warning($"Scrape of {url} (subsystem {t.Config.Subsystem}) still fails ({t.Backoff.Failures} scrapes in a row): {error}; its series are stale");
            }
            return;
        }
        if (t.Failing)
            _notice($"Scrape of {url} (subsystem {t.Config.Subsystem}) answers again after {t.Backoff.Failures} failed scrapes; its series are read again");
        t.Failing = false;
        t.LastError = null;
        t.Backoff.Succeeded();
        t.LastGoodAt = t.StartedAt;
        for (var i = 0; i < t.Mappings.Length; i++)
        {
            t.Values[i] = t.Mappings[i].Read(result.Exposition!, t.StartedAt, out var problem);
            if (problem is not null && problem != t.Problems[i])
                _warning($"Scrape of {url}: {t.Mappings[i].Series} has no reading ({problem}); it stays stale until the target exposes it");
            t.Problems[i] = problem;
        }
    }

    /// <summary>Cancels the scrapes in flight and releases the HTTP client.</summary>
    public void Dispose()
    {
        if (_disposed.IsCancellationRequested) return;
        _disposed.Cancel();
        _http.Dispose();
    }

    private sealed record Result(Exposition? Exposition, string? Error)
    {
        public static Result Read(Exposition exposition) => new(exposition, null);
        public static Result Failed(string error) => new(null, error);
    }

    private sealed class Target(ScrapeTarget config)
    {
        public ScrapeTarget Config { get; } = config;
        public Uri Uri { get; } = new(config.Url);
        public ScrapeMapping[] Mappings { get; } = config.Metrics.Select(m => new ScrapeMapping(m, config.Subsystem)).ToArray();
        public double?[] Values { get; } = new double?[config.Metrics.Count];
        public string?[] Problems { get; } = new string?[config.Metrics.Count];
        public RetryBackoff Backoff;
        public DateTimeOffset NextDue { get; set; } = DateTimeOffset.MinValue;
        public DateTimeOffset StartedAt { get; set; }
        public DateTimeOffset? LastGoodAt { get; set; }
        public Task<Result>? InFlight { get; set; }
        public bool Failing { get; set; }
        public string? LastError { get; set; }
        public DateTimeOffset LastLoggedAt { get; set; }
    }
}
