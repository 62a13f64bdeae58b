namespace Scarcity.Actors.Configuration;

/// <summary>
/// The one shape of every configuration class of the governor: <see cref="Validate"/> lists every problem, each naming
/// its configuration key (<c>Scarcity:Sensor:Interval must be positive, was 00:00:00</c>), and never throws; callers
/// that must not go on with a bad configuration call <see cref="ConfigValidation.EnsureValid{T}"/>.
/// </summary>
public interface IValidatedConfig
{
    /// <summary>Every problem, each naming its key under <paramref name="section"/>; empty when the configuration is usable.</summary>
    /// <param name="section">The configuration section the keys are reported under, e.g. <c>Scarcity:Profiler</c>.</param>
    IEnumerable<string> Validate(string section);
}

/// <summary>Turns the problems of an <see cref="IValidatedConfig"/> into one <see cref="DRGConfigException"/>.</summary>
public static class ConfigValidation
{
    /// <summary>Returns <paramref name="config"/> when it is usable; otherwise throws listing every problem.</summary>
    /// <exception cref="DRGConfigException">At least one problem; <see cref="DRGConfigException.Errors"/> has them all.</exception>
    public static T EnsureValid<T>(this T config, string section) where T : IValidatedConfig
    {
        ArgumentNullException.ThrowIfNull(config);
        var errors = config.Validate(section).ToList();
        if (errors.Count > 0) throw new DRGConfigException(errors);
        return config;
    }
}

/// <summary>A configuration that cannot run; <see cref="Exception.Message"/> lists every problem, one a line.</summary>
/// <param name="errors">The problems, each naming its key.</param>
public sealed class DRGConfigException(IReadOnlyList<string> errors)
    : ArgumentException("Invalid Scarcity configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    /// <summary>The problems, each naming its key.</summary>
    public IReadOnlyList<string> Errors { get; } = errors;
}
