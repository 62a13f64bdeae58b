using Microsoft.Win32.SafeHandles;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// A kernel text file (procfs, sysfs, cgroupfs) kept open and re-read from offset 0 into a reused buffer. Keeping the
/// handle saves an open/close pair per file per sample, and one <c>pread</c> is the whole I/O of a read: the kernel
/// regenerates the text on every read at offset 0.
/// </summary>
internal sealed class ProcFile : IDisposable
{
    private readonly int _maxBytes;
    private SafeFileHandle? _handle;
    private byte[] _buffer;
    private bool _failureReported;

    /// <param name="path">The file.</param>
    /// <param name="initialBytes">Starting buffer size; it grows (rarely, and keeps its size) when the file is larger.</param>
    /// <param name="maxBytes">The most that is read: a larger file is read truncated (enough for a file whose first line is all we need).</param>
    public ProcFile(string path, int initialBytes = 4096, int maxBytes = 1 << 20)
    {
        Path = path;
        _maxBytes = maxBytes;
        _buffer = new byte[Math.Min(initialBytes, maxBytes)];
        TryOpen();
    }

    public string Path { get; }

    public bool IsOpen => _handle is not null;

    public bool TryOpen()
    {
        if (_handle is not null) return true;
        if (!File.Exists(Path)) return false; // absent is common (no PSI, a cgroup without a limit file): no exception
        try
        {
            _handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads the whole file (up to the maximum). False when the file is not open or the read fails (a removed cgroup
    /// answers ENODEV): the handle is then closed, and <paramref name="notice"/> hears about it once until a read succeeds.
    /// </summary>
    public bool TryRead(out ReadOnlySpan<byte> text, Action<string>? notice)
    {
        text = default;
        if (_handle is null)
        {
            ReportOnce(notice, "cannot be opened");
            return false;
        }
        try
        {
            while (true)
            {
                // A short read means end of file for these files, so a read is normally one syscall.
                var n = RandomAccess.Read(_handle, _buffer, 0);
                if (n < _buffer.Length || _buffer.Length >= _maxBytes)
                {
                    text = _buffer.AsSpan(0, n);
                    _failureReported = false;
                    return true;
                }
                _buffer = new byte[Math.Min(_buffer.Length * 2, _maxBytes)];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _handle.Dispose();
            _handle = null;
            ReportOnce(notice, "could not be read: " + e.Message);
            return false;
        }
    }

    private void ReportOnce(Action<string>? notice, string what)
    {
        if (_failureReported) return;
        _failureReported = true;
        notice?.Invoke($"{Path} {what}; its series are stale until it reads again");
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }
}
