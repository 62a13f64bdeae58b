using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Policies;

/// <summary>
/// A policy as text: the <c>Scarcity:Policy</c> section in a canonical JSON form (every setting, every rule, nulls left out)
/// that the policy store journals, every governor node binds with the start-up validation (<see cref="DRGConfig.Bind"/>),
/// and <see cref="Diff"/> compares.
/// </summary>
public static class PolicyDocument
{
    private static readonly JsonSerializerOptions Canonical = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Computed properties (a budget's Display, a rule's EffectiveRelease) are no configuration keys.
        IgnoreReadOnlyProperties = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The canonical JSON of <paramref name="policy"/> (the section's own keys, in the class's property order; subsystems in ordinal order).</summary>
    public static string ToJson(PolicyConfig policy)
    {
        // Subsystems in ordinal order, whatever order the file had: one policy, one text.
        var node = JsonSerializer.SerializeToNode(policy, Canonical)!.AsObject();
        if (node[nameof(PolicyConfig.Policies)] is JsonObject rules)
        {
            var sorted = new JsonObject();
            foreach (var (subsystem, list) in rules.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList())
            {
                rules.Remove(subsystem);
                sorted[subsystem] = list;
            }
            node[nameof(PolicyConfig.Policies)] = sorted;
        }
        return node.ToJsonString();
    }

    /// <summary>
    /// Binds <paramref name="json"/> (the <c>Scarcity:Policy</c> section as a JSON object) exactly as the governor binds its
    /// configuration at start-up: unknown keys, wrong types and every validation rule are reported, each naming its key
    /// (<c>Scarcity:Policy:Policies:*:0:Threshold ...</c>).
    /// </summary>
    /// <returns>The policy, or null when <paramref name="errors"/> is not empty.</returns>
    public static PolicyConfig? Bind(string json, out IReadOnlyList<string> errors)
    {
        List<KeyValuePair<string, string?>> entries;
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors = [$"{PolicyConfig.Section} must be a JSON object, was {document.RootElement.ValueKind.ToString().ToLowerInvariant()}"];
                return null;
            }
            entries = [];
            Flatten(document.RootElement, PolicyConfig.Section, entries);
        }
        catch (JsonException e)
        {
            errors = [$"{PolicyConfig.Section} is not valid JSON: {e.Message}"];
            return null;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(entries).Build();
        var config = DRGConfig.Bind(configuration, out errors);
        return errors.Count == 0 ? config.Policy : null;
    }

    /// <summary>
    /// What changed from <paramref name="before"/> to <paramref name="after"/>, one line each: settings by key
    /// (<c>Cooldown: 00:00:05 -> 00:00:03</c>), rules by subsystem as removed (<c>- engine: ...</c>) or added
    /// (<c>+ engine: ...</c>); a rule with any field changed is one removal and one addition. Empty: the same policy.
    /// No configured rule means the default rules on <c>*</c>.
    /// </summary>
    public static ImmutableArray<string> Diff(PolicyConfig before, PolicyConfig after)
    {
        var lines = ImmutableArray.CreateBuilder<string>();
        var a = Settings(before);
        var b = Settings(after);
        foreach (var key in a.Keys.Union(b.Keys).Order(StringComparer.Ordinal))
        {
            a.TryGetValue(key, out var was);
            b.TryGetValue(key, out var now);
            if (was == now) continue;
            lines.Add(was is null ? $"{key}: (unset) -> {now}" : now is null ? $"{key}: {was} -> (unset)" : $"{key}: {was} -> {now}");
        }
        var rulesBefore = Rules(before);
        var rulesAfter = Rules(after);
        foreach (var subsystem in rulesBefore.Keys.Union(rulesAfter.Keys).Order(StringComparer.Ordinal))
        {
            var was = rulesBefore.GetValueOrDefault(subsystem) ?? [];
            var now = rulesAfter.GetValueOrDefault(subsystem) ?? [];
            foreach (var rule in Except(was, now)) lines.Add($"- {subsystem}: {rule}");
            foreach (var rule in Except(now, was)) lines.Add($"+ {subsystem}: {rule}");
        }
        return lines.ToImmutable();
    }

    /// <summary>A rule with every field that matters to it: <c>vram_util forecast &gt; 0.85 -&gt; reduce_batch x0.5, release 0.8, priority 1</c>.</summary>
    public static string Describe(PolicyRule rule) => string.Create(CultureInfo.InvariantCulture,
        $"{rule}, release {rule.EffectiveRelease}, priority {rule.Priority}{(rule.Cooldown is { } c ? $", cooldown {c}" : "")}");

    private static List<string> Except(List<string> from, List<string> remove)
    {
        var left = from.ToList();
        foreach (var r in remove) left.Remove(r);
        return left;
    }

    private static Dictionary<string, List<string>> Rules(PolicyConfig policy) =>
        policy.Policies.Count == 0
            ? new Dictionary<string, List<string>>(StringComparer.Ordinal) { ["*"] = [.. PolicyRule.Defaults.Select(Describe)] }
            : policy.Policies.ToDictionary(kv => kv.Key, kv => kv.Value.Select(Describe).ToList(), StringComparer.Ordinal);

    private static Dictionary<string, string?> Settings(PolicyConfig policy)
    {
        using var document = JsonDocument.Parse(ToJson(policy));
        var entries = new List<KeyValuePair<string, string?>>();
        foreach (var property in document.RootElement.EnumerateObject())
            if (property.Name != nameof(PolicyConfig.Policies))
                if (property.Value.ValueKind == JsonValueKind.Array)
                    entries.Add(new(property.Name, "[" + string.Join(", ", property.Value.EnumerateArray().Select(e => e.ToString())) + "]"));
                else Flatten(property.Value, property.Name, entries);
        return entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
    }

    // The key/value pairs Microsoft.Extensions.Configuration's JSON provider makes of a document.
    private static void Flatten(JsonElement element, string key, List<KeyValuePair<string, string?>> entries)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject()) Flatten(property.Value, $"{key}:{property.Name}", entries);
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray()) Flatten(item, $"{key}:{i++}", entries);
                break;
            case JsonValueKind.String:
                entries.Add(new(key, element.GetString()));
                break;
            case JsonValueKind.Null:
                entries.Add(new(key, null));
                break;
            default:
                entries.Add(new(key, element.GetRawText()));
                break;
        }
    }
}
