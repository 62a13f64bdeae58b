using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

/// <summary>The learned response of VRAM to <c>reduce_batch</c>: <c>vram ≈ a + b × level × context</c>.</summary>
public sealed class BatchResponseModelSpecs
{
    [Fact]
    public void It_learns_weights_and_KV_cache_from_rising_readings_and_sets_the_largest_level_under_a_threshold()
    {
        // Arrange: the engine model's physics, 0.40 + 0.006 × 64 × level × context, with the context rising.
        var model = new BatchResponseModel();

        // Act
        for (var i = 0; i < 40; i++)
        {
            var context = 1.0 + 0.02 * i;
            model.Observe(1, context, 0.40 + 0.384 * context);
        }

        // Assert
        Assert.True(model.Confident);
        Assert.Equal(0.40, model.Intercept, 6);
        Assert.Equal(0.384, model.Slope, 6);
        Assert.Equal(0.02, model.Margin, 6);
        Assert.Equal((0.85 - 0.02 - 0.40) / (0.384 * 2.2), model.LargestLevelUnder(0.85, 2.2), 6);
    }

    [Fact]
    public void Falling_readings_are_not_fitted_the_allocator_returns_memory_slowly()
    {
        var model = new BatchResponseModel();
        model.Observe(1, 2.0, 0.9);

        model.Observe(0.5, 2.0, 0.875);

        Assert.Equal(1, model.Count);
    }

    [Fact]
    public void Without_a_spread_of_level_times_context_it_is_never_confident()
    {
        var model = new BatchResponseModel();

        for (var i = 0; i < 100; i++) model.Observe(1, 1.0, 0.784);

        Assert.False(model.Confident);
    }

    [Fact]
    public void Distrusted_it_forgets_and_the_rules_decide_again()
    {
        var model = new BatchResponseModel();
        for (var i = 0; i < 40; i++) model.Observe(1, 1.0 + 0.02 * i, 0.40 + 0.384 * (1.0 + 0.02 * i));

        model.Distrust();

        Assert.False(model.Confident);
        Assert.Equal(0, model.Count);
    }
}
