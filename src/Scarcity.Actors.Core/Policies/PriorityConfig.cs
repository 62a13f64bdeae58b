using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Policies;

/// <summary>
/// Priorities across the subsystems that share a host or a GPU (<c>Scarcity:Policy:Priorities</c>): under pressure the
/// lowest priority is cut first, recovery goes highest first (<see cref="PriorityArbitration"/>). A subsystem alone on its
/// resource is governed exactly as without this section.
/// </summary>
public sealed class PriorityConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Policy:Priorities";

    /// <summary>Arbitrate by priority between subsystems that share a resource. False: each is governed alone. <value>true</value></summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How long a subsystem under pressure waits for lower-priority subsystems on its resource that can still cut: it is
    /// cut anyway once the pressure has lasted this long since it began and since the newest cut of those lower ones (their
    /// cuts are not enough, or they stopped cutting). Recovery: a higher-priority subsystem below 1 that has not changed its
    /// level for <c>RecoveryDelay</c> + this long (held by a crash limit or a model, not recovering) no longer holds the
    /// recovery of those below it. Positive; set it above the cooldown of the lower ones' rules, or they never get to their
    /// floor before the higher ones are cut. <value>15 s</value>
    /// </summary>
    public TimeSpan HoldTime { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The resource of each subsystem, by subsystem name, as a <c>key=value</c> label of the host's per-device series,
    /// e.g. <c>"inference_engine": "gpu=0"</c>. Subsystems on one host with the same label share it (and not those on
    /// another GPU of the host); a subsystem not listed uses the whole host and shares with every subsystem on it.
    /// </summary>
    public Dictionary<string, string> Resources { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The resource label of <paramref name="subsystem"/>; null: the whole host.</summary>
    public string? ResourceOf(string subsystem) =>
        Resources.TryGetValue(subsystem, out var label) && !string.IsNullOrWhiteSpace(label) ? label.Trim() : null;

    /// <summary>Every problem with these settings, each naming its key under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (HoldTime <= TimeSpan.Zero) yield return $"{section}:HoldTime must be positive, was {HoldTime}";
        foreach (var (subsystem, label) in Resources)
        {
            if (string.IsNullOrWhiteSpace(subsystem)) yield return $"{section}:Resources has an empty subsystem name";
            if (!IsLabel(label))
                yield return $"{section}:Resources:{subsystem} '{label}' is not a resource label: write key=value, e.g. gpu=0";
        }
    }

    private static bool IsLabel(string? label)
    {
        if (string.IsNullOrWhiteSpace(label)) return false;
        var eq = label.IndexOf('=');
        if (eq <= 0 || eq == label.Length - 1 || label.IndexOf('=', eq + 1) >= 0) return false;
        var key = label[..eq];
        return key.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_') && !label.Any(c => c is '"' or '{' or '}' or ',' || char.IsWhiteSpace(c));
    }
}
