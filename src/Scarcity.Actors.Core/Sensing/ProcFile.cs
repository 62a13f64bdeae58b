using Microsoft.Win32.SafeHandles;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// A kernel text file (procfs, sysfs, cgroupfs) kept open and re-read from offset 0 into a reused buffer. Keeping the
/// handle saves an open/close pair per file per sample, and one <c>pread</c> is the whole I/O of a read: the kernel
/// regenerates the text on every read at offset 0.
/// </summary>
/// <remarks>
/// A read that fails closes the handle. What happens next depends on why: an error that says the kernel does not
/// support the file (<c>EOPNOTSUPP</c>: PSI on a kernel booted without <c>psi=1</c>; <c>ENOSYS</c>) is a capability of
/// this host, so the file is never reopened (<see cref="IsUnsupported"/>); any other error (<c>EIO</c>, <c>ENODEV</c> from
/// a removed cgroup, a file that went away) is a failure, retried by <see cref="Retry"/> on a <see cref="RetryBackoff"/>
/// that doubles per failed attempt and starts again when a read succeeds.
/// </remarks>
internal sealed class ProcFile : IDisposable
{
    private const int EOPNOTSUPP = 95; // also ENOTSUP on Linux
    private const int ENOSYS = 38;

    private readonly int _maxBytes;
    private SafeFileHandle? _handle;
    private byte[] _buffer;
    private bool _failureReported;
    private RetryBackoff _backoff;
    private bool _readFailed;
    private DateTimeOffset _openedAt; // when Retry last opened the file; a read that fails after that failed by then

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

    /// <summary>True once a read has succeeded: a failure after that is a series going stale, not a missing capability.</summary>
    public bool HasRead { get; private set; }

    /// <summary>True once a read failed with an error meaning the kernel does not support this file; it is not reopened.</summary>
    public bool IsUnsupported { get; private set; }

    /// <summary>Why the last open or read failed (the system's message), or null.</summary>
    public string? LastError { get; private set; }

    /// <summary>Opens the file if it is not open; false when it is absent, cannot be opened, or is unsupported.</summary>
    public bool TryOpen()
    {
        if (_handle is not null) return true;
        if (IsUnsupported) return false;
        if (!File.Exists(Path))
        {
            // Absent is common (no PSI, a cgroup without a limit file): no exception.
            LastError = "absent";
            return false;
        }
        try
        {
            _handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LastError = e.Message;
            return false;
        }
    }

    /// <summary>
    /// Called once per refresh, at the sample time <paramref name="now"/>: reopens a file that is closed after a failure
    /// or was absent, unless it is unsupported or still backing off (<paramref name="first"/> after the first failure,
    /// doubling up to <paramref name="max"/>). Returns true when the file is open afterwards; the next read decides
    /// whether it works.
    /// </summary>
    public bool Retry(DateTimeOffset now, TimeSpan first, TimeSpan max)
    {
        if (_handle is not null) return true;
        if (IsUnsupported) return false;
        if (_readFailed)
        {
            _readFailed = false;
            _backoff.Failed(_openedAt, first, max);
        }
        if (!_backoff.IsDue(now)) return false;
        if (TryOpen())
        {
            _openedAt = now;
            return true;
        }
        _backoff.Failed(now, first, max);
        return false;
    }

    /// <summary>
    /// Reads the whole file (up to the maximum). False when the file is not open or the read fails: the handle is then
    /// closed, and <paramref name="notice"/> hears about it once until a read succeeds.
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
                    _readFailed = false;
                    _backoff.Succeeded();
                    HasRead = true;
                    return true;
                }
                _buffer = new byte[Math.Min(_buffer.Length * 2, _maxBytes)];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _handle.Dispose();
            _handle = null;
            LastError = e.Message;
            // On Unix an IOException's HResult is the errno of the failed call.
            if (IsUnsupportedErrno(e.HResult)) IsUnsupported = true;
            else _readFailed = true; // counted by the next Retry, which has the time
            ReportOnce(notice, "could not be read: " + e.Message);
            return false;
        }
    }

    /// <summary>True for the errors by which the kernel says it does not support a file at all, rather than that a read failed.</summary>
    public static bool IsUnsupportedErrno(int errno) => errno is EOPNOTSUPP or ENOSYS;

    private void ReportOnce(Action<string>? notice, string what)
    {
        if (_failureReported || notice is null) return;
        _failureReported = true;
        notice(IsUnsupported
            ? $"{Path} {what}: the kernel does not support it; its series are not reported"
            : $"{Path} {what}; its series are stale until it reads again (retried with a backoff)");
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }
}
