using Scarcity.Actors.Configuration;
using Scarcity.Actors.Sensing.Nvml;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Nvml;

public sealed class NvmlConfigSpecs
{
    [Fact]
    public void Defaults_load_the_drivers_library_and_are_valid()
    {
        var options = new NvmlConfig();

        Assert.Empty(options.Validate());
        Assert.Equal("libnvidia-ml.so.1", options.LibraryPath);
        Assert.True(options.Enabled);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(" libnvidia-ml.so.1")]
    [InlineData("libnvidia-ml\0.so")]
    public void An_unusable_library_path_fails_validation_naming_the_key(string path)
    {
        var options = new NvmlConfig { LibraryPath = path };

        var error = Assert.Single(options.Validate());

        Assert.StartsWith("Scarcity:Gpu:LibraryPath", error);
    }

    [Fact]
    public void The_source_validates_its_options_at_construction()
    {
        var error = Assert.Throws<DRGConfigException>(() => new NvmlSensorSource(new NvmlConfig { LibraryPath = "" }));
        Assert.StartsWith("Scarcity:Gpu:LibraryPath", Assert.Single(error.Errors));
    }

    [Fact]
    public unsafe void Native_structs_match_nvml_h()
    {
        Assert.Equal(40, sizeof(NvmlMemoryV2));
        Assert.Equal(0x0200_0028u, NvmlMemoryV2.StructVersion);
        Assert.Equal(24, sizeof(NvmlMemory));
        Assert.Equal(8, sizeof(NvmlUtilization));
        Assert.Equal(32, sizeof(NvmlEventData));
    }
}
