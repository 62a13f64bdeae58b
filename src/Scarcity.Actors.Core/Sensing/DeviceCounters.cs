using System.Text;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// Two cumulative counters per device (sectors read and written, bytes received and sent), turned into per-device deltas
/// since the previous pass and their sum over the devices that count (see <see cref="DeviceRole"/>). Deltas are per
/// device so that a device appearing, disappearing or resetting never shows as a jump in a total: a new device is seeded
/// and a device whose counter went backwards (reset, wrap, re-plug under the same name) is re-seeded; either is left out
/// of that pass. A device not seen in a pass is forgotten.
/// </summary>
/// <remarks>
/// A device is classified, and its labelled series named, once: when it is first seen. Devices that do not count are
/// tracked too (by name only: their counters are not even parsed), so they are not classified again at every pass.
/// Allocates only when a device is first seen.
/// </remarks>
internal sealed class DeviceCounters(Func<string, DeviceRole> classify, string metricA, string metricB, string labelKey)
{
    private Entry[] _entries = new Entry[8];
    private int _count;
    private int _pass;
    private int _cursor;
    private bool _anyCounted;

    /// <summary>Devices tracked (counted or not).</summary>
    public int Count => _count;

    /// <summary>True after a pass in which no device counted outright and virtual ones were counted in their place.</summary>
    public bool CountingVirtualOnly { get; private set; }

    /// <summary>Starts a pass over one reading of the file.</summary>
    public void Begin()
    {
        _pass++;
        _cursor = 0;
    }

    /// <summary>
    /// The index of device <paramref name="name"/>, seen in this pass; a device seen for the first time is classified
    /// (the only allocation). Call <see cref="Update"/> with its counters unless it is <see cref="IsIgnored"/>.
    /// </summary>
    public int Track(ReadOnlySpan<byte> name)
    {
        var i = Find(name);
        if (i < 0) i = Add(name);
        _entries[i].Pass = _pass;
        _entries[i].HasDelta = false;
        return i;
    }

    /// <summary>True when device <paramref name="index"/> never enters a total: its counters need not even be parsed.</summary>
    public bool IsIgnored(int index) => _entries[index].Role == DeviceRole.Ignored;

    /// <summary>Records the counters of device <paramref name="index"/>; the first reading only seeds them.</summary>
    public void Update(int index, ulong a, ulong b)
    {
        ref var e = ref _entries[index];
        e.HasDelta = e.Seeded && a >= e.A && b >= e.B;
        e.DeltaA = e.HasDelta ? a - e.A : 0;
        e.DeltaB = e.HasDelta ? b - e.B : 0;
        e.A = a;
        e.B = b;
        e.Seeded = true;
    }

    /// <summary>
    /// Ends the pass: the summed deltas of the devices that count. False when none of them had a previous reading to
    /// compare with; where no device counts at all (a host with only bridges and veths), a total of 0 from the second pass.
    /// </summary>
    public bool End(out ulong deltaA, out ulong deltaB)
    {
        var kept = 0;
        _anyCounted = false;
        for (var i = 0; i < _count; i++)
        {
            if (_entries[i].Pass != _pass) continue; // gone: forgotten, the others keep their order (the file's)
            _entries[kept++] = _entries[i];
            _anyCounted |= _entries[kept - 1].Role == DeviceRole.Counted;
        }
        Array.Clear(_entries, kept, _count - kept);
        _count = kept;

        deltaA = deltaB = 0;
        var anyIncluded = false;
        var includedDelta = false;
        CountingVirtualOnly = false;
        for (var i = 0; i < _count; i++)
        {
            ref var e = ref _entries[i];
            if (!Includes(e.Role)) continue;
            anyIncluded = true;
            CountingVirtualOnly |= e.Role == DeviceRole.CountedWhenAlone;
            if (!e.HasDelta) continue;
            includedDelta = true;
            deltaA += e.DeltaA;
            deltaB += e.DeltaB;
        }
        return includedDelta || (!anyIncluded && _pass > 1);
    }

    /// <summary>The deltas of device <paramref name="index"/> in the last pass, when it counts and had a previous reading.</summary>
    public bool TryGetDevice(int index, out string seriesA, out string seriesB, out ulong deltaA, out ulong deltaB)
    {
        ref var e = ref _entries[index];
        seriesA = e.SeriesA;
        seriesB = e.SeriesB;
        deltaA = e.DeltaA;
        deltaB = e.DeltaB;
        return e.HasDelta && Includes(e.Role);
    }

    /// <summary>The name of device <paramref name="index"/>.</summary>
    public string NameOf(int index) => _entries[index].Text;

    private bool Includes(DeviceRole role) => role == DeviceRole.Counted || (role == DeviceRole.CountedWhenAlone && !_anyCounted);

    /// <summary>The entry of <paramref name="name"/>, looked for from where the last one was found: the file lists devices in a stable order.</summary>
    private int Find(ReadOnlySpan<byte> name)
    {
        for (var k = 0; k < _count; k++)
        {
            var i = _cursor + k < _count ? _cursor + k : _cursor + k - _count;
            if (!name.SequenceEqual(_entries[i].Name)) continue;
            _cursor = i + 1 < _count ? i + 1 : 0;
            return i;
        }
        return -1;
    }

    private int Add(ReadOnlySpan<byte> name)
    {
        var text = Encoding.Latin1.GetString(name);
        var role = classify(text);
        if (_count == _entries.Length) Array.Resize(ref _entries, _entries.Length * 2);
        _entries[_count] = new Entry
        {
            Name = name.ToArray(),
            Text = text,
            Role = role,
            SeriesA = MetricNames.Labelled(metricA, labelKey, text),
            SeriesB = MetricNames.Labelled(metricB, labelKey, text),
        };
        return _count++;
    }

    private struct Entry
    {
        public byte[] Name;
        public string Text;
        public DeviceRole Role;
        public string SeriesA;
        public string SeriesB;
        public ulong A;
        public ulong B;
        public ulong DeltaA;
        public ulong DeltaB;
        public bool HasDelta;
        public bool Seeded;
        public int Pass;
    }
}
