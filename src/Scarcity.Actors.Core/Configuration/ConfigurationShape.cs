using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Scarcity.Actors.Configuration;

/// <summary>
/// Checks a configuration section against the type it binds to, before binding, and lists every problem at once: an
/// unknown key (a typo), a value that does not convert to its property's type, a section where a value belongs or the
/// reverse, a required value that is missing. The binder of Microsoft.Extensions.Configuration stops at the first of these
/// (with <c>ErrorOnUnknownConfiguration</c>) or silently skips them (without it); this walk finds them all, then hands
/// the binder a configuration it can bind, so that the bound object's <see cref="IValidatedConfig.Validate"/> can report
/// the bad values in the same run.
/// </summary>
public static class ConfigurationShape
{
    /// <summary>Checks <paramref name="section"/> (and everything under it) against <paramref name="type"/>.</summary>
    public static ShapeCheck Check(IConfigurationSection section, Type type)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(type);
        var walk = new Walk();
        walk.Visit(section, type, section.Path);
        return new ShapeCheck(section, walk);
    }

    internal sealed class Walk
    {
        public List<string> Errors { get; } = [];
        public HashSet<string> Removed { get; } = new(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, string> Neutral { get; } = new(StringComparer.OrdinalIgnoreCase);

        public void Visit(IConfigurationSection section, Type type, string path)
        {
            var children = section.GetChildren().ToList();
            var value = section.Value;
            var t = Nullable.GetUnderlyingType(type) ?? type;

            if (IsValue(t))
            {
                if (children.Count > 0) Replace(path, type, $"{path} takes a value ({Describe(t)}), not a section");
                else if (value is not null && !Converts(value, type))
                    Replace(path, type, value.Length == 0 ? $"{path} is empty; it takes {Describe(t)}" : $"{path} '{value}' is not {Describe(t)}");
                return;
            }

            if (children.Count == 0 && !string.IsNullOrEmpty(value))
            {
                Replace(path, type, $"{path} takes {Shape(t)}, not the value '{value}'");
                return;
            }

            if (DictionaryValueType(t) is { } valueType)
            {
                foreach (var child in children) Visit(child, valueType, child.Path);
                return;
            }

            if (ElementType(t) is { } elementType)
            {
                foreach (var child in children)
                {
                    if (int.TryParse(child.Key, out var index) && index >= 0) Visit(child, elementType, child.Path);
                    else Remove(child.Path, $"{child.Path}: {path} is a list (a JSON array), '{child.Key}' is not an index");
                }
                return;
            }

            var members = Members(t);
            foreach (var child in children)
            {
                if (members.TryGetValue(child.Key, out var member)) Visit(child, member, child.Path);
                else Remove(child.Path, $"{child.Path} is not a known key{Suggest(child.Key, members.Keys)}");
            }
            foreach (var (name, parameterType) in RequiredParameters(t))
            {
                var child = children.FirstOrDefault(c => string.Equals(c.Key, name, StringComparison.OrdinalIgnoreCase));
                var childPath = child?.Path ?? $"{path}:{name}";
                if (child is null || (child.Value is null && !child.GetChildren().Any()))
                    Replace(childPath, parameterType, $"{childPath} is missing");
                else if (Removed.Contains(childPath) && !Neutral.ContainsKey(childPath))
                    AddNeutral(childPath, parameterType);
            }
        }

        private void Remove(string path, string error)
        {
            Errors.Add(error);
            Removed.Add(path);
        }

        /// <summary>Removes the key and puts a neutral value in its place, so that what holds it (a rule) still binds.</summary>
        private void Replace(string path, Type type, string error)
        {
            Remove(path, error);
            AddNeutral(path, type);
        }

        private void AddNeutral(string path, Type type)
        {
            var t = Nullable.GetUnderlyingType(type) ?? type;
            if (IsValue(t))
            {
                Neutral[path] = t == typeof(string) ? "" :
                    t.IsEnum ? Enum.GetNames(t).FirstOrDefault() ?? "" :
                    TypeDescriptor.GetConverter(t).ConvertToInvariantString(Activator.CreateInstance(t)) ?? "";
                return;
            }
            foreach (var (name, parameterType) in RequiredParameters(t)) AddNeutral($"{path}:{name}", parameterType);
        }
    }

    private static bool IsValue(Type t) =>
        t == typeof(string) || (!typeof(Delegate).IsAssignableFrom(t) && TypeDescriptor.GetConverter(t).CanConvertFrom(typeof(string)));

    private static bool Converts(string value, Type type)
    {
        var t = Nullable.GetUnderlyingType(type);
        if (t is not null && value.Length == 0) return true; // the binder reads an empty value as null
        t ??= type;
        if (t == typeof(string)) return true;
        try
        {
            var converted = TypeDescriptor.GetConverter(t).ConvertFromInvariantString(value);
            return !t.IsEnum || (converted is not null && Enum.IsDefined(t, converted));
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException)
        {
            return false;
        }
    }

    private static string Describe(Type t) =>
        t == typeof(double) || t == typeof(float) || t == typeof(decimal) ? "a number" :
        t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) || t == typeof(uint) || t == typeof(ulong) ? "a whole number" :
        t == typeof(bool) ? "true or false" :
        t == typeof(TimeSpan) ? "a duration, hh:mm:ss[.fff] such as 00:00:05" :
        t.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(t))}" :
        t == typeof(string) ? "a text" : $"a {t.Name}";

    private static string Shape(Type t) =>
        DictionaryValueType(t) is not null ? "a section of named entries (a JSON object)" :
        ElementType(t) is not null ? "a list (a JSON array)" : "a section (a JSON object)";

    private static Type? DictionaryValueType(Type t) =>
        Generic(t, typeof(IDictionary<,>)) is { } d && d.GetGenericArguments()[0] == typeof(string) ? d.GetGenericArguments()[1] :
        Generic(t, typeof(IReadOnlyDictionary<,>)) is { } r && r.GetGenericArguments()[0] == typeof(string) ? r.GetGenericArguments()[1] : null;

    private static Type? ElementType(Type t) =>
        t.IsArray ? t.GetElementType() : t == typeof(string) ? null : Generic(t, typeof(IEnumerable<>))?.GetGenericArguments()[0];

    private static Type? Generic(Type t, Type definition) =>
        t.IsGenericType && t.GetGenericTypeDefinition() == definition
            ? t
            : t.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == definition);

    /// <summary>The keys the binder fills: settable public properties, read-only ones it binds into, constructor parameters.</summary>
    private static Dictionary<string, Type> Members(Type t)
    {
        var members = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || p.GetMethod is not { IsPublic: true } || typeof(Delegate).IsAssignableFrom(p.PropertyType)) continue;
            var settable = p.SetMethod is { IsPublic: true };
            if (!settable && IsValue(Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType)) continue; // computed: nothing to set
            members.TryAdd(p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? p.Name, p.PropertyType);
        }
        foreach (var (name, type) in ConstructorParameters(t)) members.TryAdd(name, type);
        return members;
    }

    /// <summary>The constructor the binder calls when it creates <paramref name="t"/>: its only public one, unless there is a parameterless one.</summary>
    private static IEnumerable<(string Name, Type Type, bool Required)> ConstructorParametersWithDefaults(Type t)
    {
        if (t.IsValueType || t.IsAbstract || t.IsInterface) yield break;
        var constructors = t.GetConstructors(BindingFlags.Public | BindingFlags.Instance);
        if (constructors.Length != 1 || constructors[0].GetParameters().Length == 0) yield break;
        foreach (var p in constructors[0].GetParameters())
            if (p.Name is { } name) yield return (name, p.ParameterType, !p.HasDefaultValue);
    }

    private static IEnumerable<(string Name, Type Type)> ConstructorParameters(Type t) =>
        ConstructorParametersWithDefaults(t).Select(p => (p.Name, p.Type));

    private static IEnumerable<(string Name, Type Type)> RequiredParameters(Type t) =>
        ConstructorParametersWithDefaults(t).Where(p => p.Required).Select(p => (p.Name, p.Type));

    private static string Suggest(string key, IEnumerable<string> known)
    {
        var names = known.Order(StringComparer.Ordinal).ToList();
        var closest = names.Select(n => (Name: n, Distance: Distance(key.ToLowerInvariant(), n.ToLowerInvariant())))
            .OrderBy(x => x.Distance).FirstOrDefault();
        return closest.Name is not null && closest.Distance <= Math.Max(2, key.Length / 3)
            ? $"; did you mean '{closest.Name}'?"
            : $" (known: {string.Join(", ", names)})";
    }

    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }
}

/// <summary>What <see cref="ConfigurationShape.Check"/> found.</summary>
public sealed class ShapeCheck
{
    private readonly IConfigurationSection _section;
    private readonly HashSet<string> _removed;
    private readonly Dictionary<string, string> _neutral;

    internal ShapeCheck(IConfigurationSection section, ConfigurationShape.Walk walk)
    {
        _section = section;
        Errors = walk.Errors;
        _removed = walk.Removed;
        _neutral = walk.Neutral;
    }

    /// <summary>Every problem with the keys and the types of the values, each naming its key; empty when the section binds.</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>
    /// The section to bind: the one checked when it had no problem; otherwise a copy without the unknown keys and the
    /// unconvertible values, and with a neutral value in place of a required one that is missing or unconvertible (so a
    /// rule missing its threshold still binds, and the other rules keep their indices).
    /// </summary>
    public IConfigurationSection Bindable()
    {
        if (Errors.Count == 0) return _section;
        var kept = _section.AsEnumerable().Where(kv => !IsUnder(kv.Key, _removed))
            .Concat(_neutral.Select(kv => new KeyValuePair<string, string?>(kv.Key, kv.Value)));
        return new ConfigurationBuilder().AddInMemoryCollection(kept).Build().GetSection(_section.Path);
    }

    /// <summary>
    /// True when <paramref name="validationError"/> (from <see cref="IValidatedConfig.Validate"/> of the bound object) is
    /// about a value this check put in place of a missing or wrong one: a consequence of a problem already in
    /// <see cref="Errors"/>, not one to report.
    /// </summary>
    public bool IsFollowOn(string validationError)
    {
        foreach (var key in _neutral.Keys)
        {
            if (validationError.StartsWith(key + " ", StringComparison.OrdinalIgnoreCase) ||
                validationError.StartsWith(key + ":", StringComparison.OrdinalIgnoreCase)) return true;
            // "...:0:Release 0.8 must be on the safe side of Threshold 0" when the threshold was missing.
            var colon = key.LastIndexOf(':');
            if (colon < 0) continue;
            var parent = key[..(colon + 1)];
            var name = key[(colon + 1)..];
            if (validationError.StartsWith(parent, StringComparison.OrdinalIgnoreCase) &&
                validationError.IndexOf(' ', parent.Length) is var space and > 0 &&
                !validationError.AsSpan(parent.Length, space - parent.Length).Contains(':') &&
                $"{validationError[space..]} ".Contains($" {name} ", StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    private static bool IsUnder(string key, HashSet<string> paths)
    {
        if (paths.Contains(key)) return true;
        for (var i = key.LastIndexOf(':'); i > 0; i = key.LastIndexOf(':', i - 1))
            if (paths.Contains(key[..i])) return true;
        return false;
    }
}
