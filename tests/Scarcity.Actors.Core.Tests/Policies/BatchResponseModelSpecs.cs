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
        Assert.Equal((0.85 - 0.02 - 0.40) / (0.384 * 2.2), model.LargestLevelUnder(0.85, 2.2, model.Margin), 6);
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
    public void A_reading_right_after_a_level_change_is_not_fitted_but_the_next_is_compared_with_it()
    {
        // A raise to 0.918, cut at once (not settled: not fitted), then the allocator releasing towards the smaller batch:
        // 0.843 is above the last fitted reading (0.832) but below the one before it, so still falling, not the batch's own.
        var model = new BatchResponseModel();
        model.Observe(0.475, 2.4, 0.832);
        model.Observe(0.575, 2.4, 0.918, fit: false);

        model.Observe(0.287, 2.4, 0.843);

        Assert.Equal(1, model.Count);
        model.Observe(0.287, 2.4, 0.659);
        model.Observe(0.287, 2.4, 0.659);
        Assert.Equal(2, model.Count); // still falling, then no longer: the release's end is the smaller batch's own reading
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

    [Fact]
    public void Confidence_rises_with_readings_that_agree_with_the_line()
    {
        var model = new BatchResponseModel();
        var confidence = new List<double>();

        for (var i = 0; i < 30; i++)
        {
            var context = 1.0 + 0.02 * i;
            // A little scatter, as a real allocator has.
            model.Observe(1, context, 0.40 + 0.384 * context + (i % 2 == 0 ? 0.004 : -0.004));
            confidence.Add(model.Confidence);
        }

        Assert.True(confidence[4] < confidence[^1], $"confidence {confidence[4]:0.###} after 5 readings, {confidence[^1]:0.###} after 30");
        Assert.DoesNotContain(confidence.Take(BatchResponseModel.MinSamples - 1), c => c >= 1);
        Assert.True(model.Confident);
        Assert.InRange(model.Confidence, BatchResponseModel.MinConfidence, 1);
    }

    [Fact]
    public void Readings_that_scatter_widely_keep_it_from_being_confident()
    {
        var model = new BatchResponseModel();
        var random = new Random(3);

        for (var i = 0; i < 120; i++)
        {
            var context = 1.0 + 0.01 * i;
            model.Observe(1, context, 0.40 + 0.384 * context + 0.2 * (random.NextDouble() - 0.5) + 0.2);
        }

        Assert.False(model.Confident);
        Assert.True(model.Residual > BatchResponseModel.MaxResidual, $"residual {model.Residual:0.###}");
    }

    [Fact]
    public void Each_distrust_is_counted_and_a_snapshot_restores_the_fit()
    {
        var model = new BatchResponseModel();
        for (var i = 0; i < 40; i++) model.Observe(1, 1.0 + 0.02 * i, 0.40 + 0.384 * (1.0 + 0.02 * i));
        var saved = model.Snapshot();
        var restored = new BatchResponseModel();

        restored.Restore(saved);
        model.Distrust();

        Assert.True(restored.Confident);
        Assert.Equal(saved.Intercept, restored.Intercept, 9);
        Assert.Equal(saved.Slope, restored.Slope, 9);
        Assert.Equal(1, model.Distrusted);
        Assert.Equal(0, restored.Distrusted);
    }
}
