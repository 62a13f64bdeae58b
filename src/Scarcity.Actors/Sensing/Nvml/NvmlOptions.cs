namespace Scarcity.Actors.Sensing.Nvml;

/// <summary>Options of the NVML GPU sensor, bound from the <c>Scarcity:Gpu</c> configuration section.</summary>
public sealed class NvmlOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "Scarcity:Gpu";

    /// <summary>The NVIDIA driver's management library, as the driver installs it.</summary>
    public const string DefaultLibraryPath = "libnvidia-ml.so.1";

    /// <summary>
    /// The NVML library to load: a file name resolved by the dynamic loader, or a path. Tests point it at a fake.
    /// </summary>
    /// <value>Defaults to <see cref="DefaultLibraryPath"/>.</value>
    public string LibraryPath { get; set; } = DefaultLibraryPath;

    /// <summary>False turns GPU sensing off: the source reports no GPU series and never loads the library.</summary>
    /// <value>Defaults to <see langword="true"/>; a host without a driver needs no change, the source logs it once.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the configuration key when an option is unusable.</summary>
    public void Validate()
    {
        const string key = SectionName + ":" + nameof(LibraryPath);
        if (string.IsNullOrWhiteSpace(LibraryPath))
            throw new ArgumentException(
                $"{key} must name the NVML library, e.g. \"{DefaultLibraryPath}\" or an absolute path; it is empty. " +
                $"To turn GPU sensing off set {SectionName}:{nameof(Enabled)} to false.", nameof(LibraryPath));
        if (LibraryPath.Contains('\0'))
            throw new ArgumentException($"{key} contains a NUL character.", nameof(LibraryPath));
        if (LibraryPath.Trim().Length != LibraryPath.Length)
            throw new ArgumentException(
                $"{key} \"{LibraryPath}\" has leading or trailing white space, which the loader would take literally.",
                nameof(LibraryPath));
    }
}
