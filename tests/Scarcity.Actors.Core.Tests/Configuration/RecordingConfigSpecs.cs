using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Configuration;

/// <summary><c>Scarcity:Recording</c> binds and validates with the rest of the configuration, every problem by its key.</summary>
public sealed class RecordingConfigSpecs
{
    private static DRGConfig Bind(out IReadOnlyList<string> errors, params (string Key, string Value)[] values) =>
        DRGConfig.Bind(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build(), out errors);

    [Fact]
    public void Off_by_default_with_bounds_that_work()
    {
        var config = Bind(out var errors);

        Assert.Empty(errors);
        Assert.False(config.Recording.Enabled);
        Assert.Equal(1L << 30, config.Recording.MaxBytes);
        Assert.Equal(TimeSpan.FromDays(1), config.Recording.MaxAge);
        Assert.Equal(64L << 20, config.Recording.SegmentBytes); // a tenth of 1 GiB is over the 64 MiB cap
    }

    [Fact]
    public void A_configured_recording_binds()
    {
        var config = Bind(out var errors, ("Scarcity:Recording:Enabled", "true"), ("Scarcity:Recording:Directory", "/var/lib/scarcity/recording"),
            ("Scarcity:Recording:MaxBytes", "4294967296"), ("Scarcity:Recording:MaxAge", "2.00:00:00"), ("Scarcity:Recording:FlushInterval", "00:00:00.500"));

        Assert.Empty(errors);
        Assert.True(config.Recording.Enabled);
        Assert.Equal(4294967296L, config.Recording.MaxBytes);
        Assert.Equal(64L << 20, config.Recording.SegmentBytes); // a tenth, at most 64 MiB
        Assert.Equal(TimeSpan.FromDays(2), config.Recording.MaxAge);
    }

    [Fact]
    public void Every_bad_key_and_value_is_named_at_once()
    {
        Bind(out var errors, ("Scarcity:Recording:Enabled", "true"), ("Scarcity:Recording:Directry", "/tmp/x"), ("Scarcity:Recording:MaxBytes", "10"),
            ("Scarcity:Recording:MaxAge", "00:00:05"), ("Scarcity:Recording:FlushInterval", "soon"));

        Assert.Contains(errors, e => e.Contains("Scarcity:Recording:Directry", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Recording:MaxBytes must be at least 65536", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Recording:MaxAge must be at least 00:01:00", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Scarcity:Recording:FlushInterval", StringComparison.Ordinal));
    }
}
