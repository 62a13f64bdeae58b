using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing;

public sealed class SensorConfigSpecs
{
    private static DRGConfig Load(params (string Key, string Value)[] values) =>
        DRGConfig.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Fact]
    public void The_source_deadline_is_half_the_interval_unless_set()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(125), Load().Sensor.EffectiveSourceDeadline);
        Assert.Equal(TimeSpan.FromMilliseconds(250), Load(("Scarcity:Sensor:Interval", "00:00:00.500")).Sensor.EffectiveSourceDeadline);
        Assert.Equal(TimeSpan.FromMilliseconds(200), Load(("Scarcity:Sensor:SourceDeadline", "00:00:00.200")).Sensor.EffectiveSourceDeadline);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:00:00.250")]
    [InlineData("00:00:01")]
    public void A_source_deadline_not_shorter_than_the_interval_fails_start_up_naming_both_keys(string deadline)
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(("Scarcity:Sensor:SourceDeadline", deadline)));

        var message = Assert.Single(error.Errors, e => e.Contains("SourceDeadline"));
        Assert.Contains("Scarcity:Sensor:SourceDeadline must be positive and shorter than Scarcity:Sensor:Interval", message);
    }
}
