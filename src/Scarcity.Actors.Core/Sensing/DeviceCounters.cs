using System.Diagnostics;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// Two cumulative counters per device (sectors read and written, bytes received and sent), turned into the sum of the
/// per-device deltas since the previous pass. Deltas are per device so that a device appearing, disappearing or
/// resetting never shows as a jump in a total: a new device is seeded and a device whose counter went backwards (reset,
/// wrap, re-plug under the same name) is re-seeded; either is left out of that pass's sum. A device not seen in a pass
/// is forgotten. Allocates only when a device is first seen.
/// </summary>
internal sealed class DeviceCounters
{
    private Entry[] _entries = new Entry[8];
    private int _count;
    private int _pass;
    private ulong _deltaA;
    private ulong _deltaB;
    private int _contributors;

    /// <summary>Starts a pass over one reading of the file.</summary>
    public void Begin()
    {
        _pass++;
        _deltaA = 0;
        _deltaB = 0;
        _contributors = 0;
    }

    /// <summary>Records one device's counters.</summary>
    public void Observe(ReadOnlySpan<byte> name, ulong a, ulong b)
    {
        for (var i = 0; i < _count; i++)
        {
            ref var e = ref _entries[i];
            if (!name.SequenceEqual(e.Name)) continue;
            if (a >= e.A && b >= e.B)
            {
                _deltaA += a - e.A;
                _deltaB += b - e.B;
                _contributors++;
            }
            e.A = a;
            e.B = b;
            e.Pass = _pass;
            return;
        }
        if (_count == _entries.Length) Array.Resize(ref _entries, _entries.Length * 2);
        _entries[_count++] = new Entry { Name = name.ToArray(), A = a, B = b, Pass = _pass };
    }

    /// <summary>Ends the pass: the summed deltas, or false when no device had a previous reading to compare with.</summary>
    public bool End(out ulong deltaA, out ulong deltaB)
    {
        for (var i = _count - 1; i >= 0; i--)
        {
            if (_entries[i].Pass == _pass) continue;
            _entries[i] = _entries[--_count];
            _entries[_count] = default;
        }
        Debug.Assert(_count == 0 || _entries[_count - 1].Name is not null);
        deltaA = _deltaA;
        deltaB = _deltaB;
        return _contributors > 0;
    }

    private struct Entry
    {
        public byte[] Name;
        public ulong A;
        public ulong B;
        public int Pass;
    }
}
