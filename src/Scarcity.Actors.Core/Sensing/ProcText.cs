using System.Buffers.Text;

namespace Scarcity.Actors.Sensing;

/// <summary>Allocation-free scanning of kernel text: lines, whitespace-separated tokens, integers, decimals.</summary>
internal static class ProcText
{
    /// <summary>The line starting at <paramref name="pos"/> (without its newline); moves past it. False at the end.</summary>
    public static bool NextLine(ReadOnlySpan<byte> text, ref int pos, out ReadOnlySpan<byte> line)
    {
        if (pos >= text.Length)
        {
            line = default;
            return false;
        }
        var rest = text[pos..];
        var end = rest.IndexOf((byte)'\n');
        if (end < 0)
        {
            line = rest;
            pos = text.Length;
        }
        else
        {
            line = rest[..end];
            pos += end + 1;
        }
        return true;
    }

    /// <summary>The next token separated by blanks (newlines too, for one-line files read whole); empty at the end.</summary>
    public static ReadOnlySpan<byte> NextToken(ReadOnlySpan<byte> line, ref int pos)
    {
        while (pos < line.Length && IsBlank(line[pos])) pos++;
        var start = pos;
        while (pos < line.Length && !IsBlank(line[pos])) pos++;
        return line[start..pos];
    }

    /// <summary>Parses the next token as an unsigned integer.</summary>
    public static bool TryNextUInt64(ReadOnlySpan<byte> line, ref int pos, out ulong value) =>
        TryParseUInt64(NextToken(line, ref pos), out value);

    /// <summary>Skips <paramref name="count"/> tokens.</summary>
    public static void SkipTokens(ReadOnlySpan<byte> line, ref int pos, int count)
    {
        for (var i = 0; i < count; i++) NextToken(line, ref pos);
    }

    public static bool TryParseUInt64(ReadOnlySpan<byte> token, out ulong value) =>
        Utf8Parser.TryParse(token, out value, out var consumed) && consumed == token.Length && token.Length > 0;

    public static bool TryParseInt64(ReadOnlySpan<byte> token, out long value) =>
        Utf8Parser.TryParse(token, out value, out var consumed) && consumed == token.Length && token.Length > 0;

    public static bool TryParseDouble(ReadOnlySpan<byte> token, out double value) =>
        Utf8Parser.TryParse(token, out value, out var consumed) && consumed == token.Length && token.Length > 0;

    /// <summary>The file's content without surrounding whitespace (a one-value cgroup file such as <c>memory.max</c>).</summary>
    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> text) => text.Trim(" \t\r\n"u8);

    /// <summary>The value of the <c>key value</c> line for <paramref name="key"/> (cgroup <c>cpu.stat</c>).</summary>
    public static bool TryFindKeyed(ReadOnlySpan<byte> text, ReadOnlySpan<byte> key, out ulong value)
    {
        var pos = 0;
        while (NextLine(text, ref pos, out var line))
        {
            var p = 0;
            if (NextToken(line, ref p).SequenceEqual(key)) return TryNextUInt64(line, ref p, out value);
        }
        value = 0;
        return false;
    }

    private static bool IsBlank(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';
}
