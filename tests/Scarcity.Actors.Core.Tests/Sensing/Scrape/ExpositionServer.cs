using System.Net;
using System.Text;

namespace Scarcity.Actors.Core.Tests.Sensing.Scrape;

/// <summary>
/// A real HTTP endpoint on a free loopback port serving recorded expositions, one per request in order (the last one
/// again once they run out), as an engine's /metrics would; it can go down (the port refuses), come back on the same
/// port, answer slowly, or answer something that is not an exposition.
/// </summary>
internal sealed class ExpositionServer : IDisposable
{
    private readonly string[] _bodies;
    private HttpListener? _listener;
    private int _served;

    public ExpositionServer(params string[] bodies)
    {
        _bodies = bodies;
        Port = FreePort();
        Start();
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}/metrics";
    public int Requests => Volatile.Read(ref _served);
    public TimeSpan Delay { get; set; }
    public string? Override { get; set; }

    public void Start()
    {
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        listener.Start();
        _listener = listener;
        _ = Serve(listener);
    }

    /// <summary>Closes the port: a scrape now finds the connection refused.</summary>
    public void Stop()
    {
        _listener?.Close();
        _listener = null;
    }

    public void Dispose() => Stop();

    private async Task Serve(HttpListener listener)
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception) when (!listener.IsListening)
            {
                return;
            }
            catch (Exception)
            {
                continue; // one failed accept (a client gone mid-request) never stops the endpoint
            }
            _ = Answer(context);
        }
    }

    private async Task Answer(HttpListenerContext context)
    {
        try
        {
            var n = Interlocked.Increment(ref _served) - 1;
            if (Delay > TimeSpan.Zero) await Task.Delay(Delay);
            var body = Encoding.UTF8.GetBytes(Override ?? _bodies[Math.Min(n, _bodies.Length - 1)]);
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            context.Response.ContentLength64 = body.Length;
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
        catch (Exception)
        {
            // The scraper gave up (timeout, connection reset) or the server stopped.
            try { context.Response.Abort(); }
            catch (Exception) { /* already closed */ }
        }
    }

    private static int FreePort()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
