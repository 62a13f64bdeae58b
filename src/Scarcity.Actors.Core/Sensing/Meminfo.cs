namespace Scarcity.Actors.Sensing;

/// <summary>
/// The <c>/proc/meminfo</c> fields the Linux source needs, parsed field by field: each is found, missing (this kernel
/// does not have it: <c>MemAvailable</c> before 3.14, <c>SReclaimable</c> before 2.6.19, a compatibility layer that
/// writes only some lines) or garbled. One instance is reused for every sample.
/// </summary>
internal sealed class Meminfo
{
    public const int MemTotal = 0;
    public const int MemFree = 1;
    public const int MemAvailable = 2;
    public const int Buffers = 3;
    public const int Cached = 4;
    public const int SReclaimable = 5;
    public const int SwapTotal = 6;
    public const int SwapFree = 7;
    private const int FieldCount = 8;

    private readonly ulong[] _kb = new ulong[FieldCount];
    private int _found;
    private int _garbled;

    /// <summary>The name of field <paramref name="field"/>, as meminfo writes it.</summary>
    public static string Name(int field) => field switch
    {
        MemTotal => "MemTotal",
        MemFree => "MemFree",
        MemAvailable => "MemAvailable",
        Buffers => "Buffers",
        Cached => "Cached",
        SReclaimable => "SReclaimable",
        SwapTotal => "SwapTotal",
        SwapFree => "SwapFree",
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
    };

    /// <summary>
    /// Parses one reading. False when it cannot be trusted as a whole: no field found at all, a field whose value is not a
    /// number (a torn or foreign file) or a MemTotal of 0; every memory series is then stale for this sample.
    /// </summary>
    public bool Parse(ReadOnlySpan<byte> text)
    {
        _found = _garbled = 0;
        var pos = 0;
        const int all = (1 << FieldCount) - 1;
        while ((_found | _garbled) != all && ProcText.NextLine(text, ref pos, out var line))
        {
            var colon = line.IndexOf((byte)':');
            if (colon < 0) continue;
            var field = Field(line[..colon]);
            if (field < 0) continue;
            var p = colon + 1;
            if (ProcText.TryNextUInt64(line, ref p, out _kb[field])) _found |= 1 << field;
            else _garbled |= 1 << field;
        }
        return _found != 0 && _garbled == 0 && !(Has(MemTotal) && _kb[MemTotal] == 0);
    }

    /// <summary>True when the last reading has the field.</summary>
    public bool Has(int field) => (_found & (1 << field)) != 0;

    /// <summary>The field's value in bytes (0 when missing).</summary>
    public long Bytes(int field) => Has(field) ? (long)_kb[field] * 1024 : 0;

    private static int Field(ReadOnlySpan<byte> key) => key switch
    {
        _ when key.SequenceEqual("MemTotal"u8) => MemTotal,
        _ when key.SequenceEqual("MemFree"u8) => MemFree,
        _ when key.SequenceEqual("MemAvailable"u8) => MemAvailable,
        _ when key.SequenceEqual("Buffers"u8) => Buffers,
        _ when key.SequenceEqual("Cached"u8) => Cached,
        _ when key.SequenceEqual("SReclaimable"u8) => SReclaimable,
        _ when key.SequenceEqual("SwapTotal"u8) => SwapTotal,
        _ when key.SequenceEqual("SwapFree"u8) => SwapFree,
        _ => -1,
    };
}
