using System.Collections;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Syndicator.Shared;

/// <summary>
/// Checks a configuration section against the shape of its options type before anything is bound: keys no setting
/// reads (with the nearest real key), values that do not convert to the setting's type (naming what it accepts:
/// the names of an enum, a whole number in its range, true or false), a single value where a section or list
/// belongs and the reverse. Binding then takes only the values that passed, so one bad value neither stops the
/// section's other checks (every problem is reported in one pass) nor makes the .NET binder silently drop a whole
/// list item or dictionary entry, which it does when an item holds a value it cannot convert.
/// </summary>
internal static class ConfigShape
{
    private const int ShownValueLength = 60;

    /// <summary>The problems of <paramref name="section"/> read as <paramref name="type"/>, each naming its key.</summary>
    public static List<string> Problems(IConfiguration configuration, string section, Type type)
    {
        var problems = new List<string>();
        Walk(configuration.GetSection(section), type, null, problems, new Dictionary<string, string?>());
        return problems;
    }

    /// <summary>Binds the values of <paramref name="section"/> that fit <typeparamref name="T"/>; the others keep their defaults (and are reported by <see cref="Problems"/>).</summary>
    public static T Bind<T>(IConfiguration configuration, string section) where T : new()
    {
        var options = new T();
        BindInto(options, configuration, section);
        return options;
    }

    public static void BindInto(object options, IConfiguration configuration, string section)
    {
        var good = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Walk(configuration.GetSection(section), options.GetType(), null, [], good);
        new ConfigurationBuilder().AddInMemoryCollection(good).Build().GetSection(section).Bind(options);
    }

    private static void Walk(IConfigurationSection section, Type type, PropertyInfo? property, List<string> problems, Dictionary<string, string?> good)
    {
        // A nullable setting (int?, string) takes an empty value as "not set", as the binder does.
        var optional = Nullable.GetUnderlyingType(type) is not null || !type.IsValueType;
        type = Nullable.GetUnderlyingType(type) ?? type;
        var children = section.GetChildren().ToList();
        // An empty JSON object or array arrives as a key with an empty value and no children: nothing to bind, nothing wrong.
        var hasValue = !string.IsNullOrEmpty(section.Value);

        if (IsLeaf(type))
        {
            if (children.Count > 0)
                problems.Add($"{section.Path} is written as a section, but it takes a single value: {Accepts(type, property)}.");
            else if (section.Value is not null && !(optional && section.Value.Length == 0) && !Converts(section.Value, type))
                problems.Add($"{section.Path} {Show(section.Value)} is not {Accepts(type, property)}.{Suggestion(section.Value, type)}");
            else if (section.Value is not null)
                good[section.Path] = section.Value;
            return;
        }

        if (DictionaryValueType(type) is { } valueType)
        {
            if (hasValue && children.Count == 0)
                problems.Add($"{section.Path} {Show(section.Value!)} is a single value, but it is a section of named entries; write it as {{ \"NAME\": ... }}.");
            foreach (var child in children) Walk(child, valueType, null, problems, good);
            return;
        }

        if (ListElementType(type) is { } elementType)
        {
            if (hasValue && children.Count == 0)
                problems.Add($"{section.Path} {Show(section.Value!)} is a single value, but it is a list; write it as [ ... ], e.g. [ {Show(section.Value!)} ].");
            foreach (var child in children) Walk(child, elementType, null, problems, good);
            return;
        }

        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToList();
        if (hasValue && children.Count == 0)
            problems.Add($"{section.Path} {Show(section.Value!)} is a single value, but it is a section with the keys {string.Join(", ", properties.Select(p => p.Name))}.");
        foreach (var child in children)
        {
            var match = properties.FirstOrDefault(p => string.Equals(p.Name, child.Key, StringComparison.OrdinalIgnoreCase));
            if (match is null)
            {
                var nearest = Nearest(child.Key, properties.Select(p => p.Name));
                var hint = nearest is not null
                    ? $"did you mean {section.Path}:{nearest}?"
                    : $"the keys here are {string.Join(", ", properties.Select(p => p.Name))}.";
                problems.Add($"{child.Path} is not a setting; remove it or correct its spelling ({hint})");
                continue;
            }
            Walk(child, match.PropertyType, match, problems, good);
        }
    }

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri)
        || type == typeof(DateTimeOffset) || type == typeof(Guid);

    private static Type? DictionaryValueType(Type type) =>
        type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>))?.GetGenericArguments()[1];

    private static Type? ListElementType(Type type) =>
        type.IsArray ? type.GetElementType()
        : typeof(IEnumerable).IsAssignableFrom(type)
            ? type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0]
            : null;

    /// <summary>
    /// Whether the binder would take <paramref name="value"/>, with one exception: an enum must be one of its names,
    /// where the binder would also take a number ("7") or a comma list, and store a value no code expects.
    /// </summary>
    private static bool Converts(string value, Type type)
    {
        if (type.IsEnum) return EnumName(value, type) is not null;
        if (type == typeof(string)) return true;
        try
        {
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException || e.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static string? EnumName(string value, Type type) =>
        Enum.GetNames(type).FirstOrDefault(n => string.Equals(n, value.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>What a setting of this type accepts, in words, with its documented range when it has one.</summary>
    internal static string Accepts(Type type, PropertyInfo? property)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        var range = property?.GetCustomAttribute<RangeAttribute>();
        var within = range is null ? "" : string.Create(CultureInfo.InvariantCulture, $" from {range.Minimum} to {range.Maximum}");
        if (type.IsEnum) return "one of " + string.Join(", ", Enum.GetNames(type));
        if (type == typeof(bool)) return "true or false";
        if (type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte) || type == typeof(uint) || type == typeof(ulong))
            return "a whole number" + within;
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal)) return "a number" + within + " (with a dot for decimals, e.g. 2.5)";
        if (type == typeof(TimeSpan)) return "a duration such as 00:05:00";
        if (type == typeof(Uri)) return "an absolute URL";
        return "a " + type.Name;
    }

    private static string Suggestion(string value, Type type) =>
        type.IsEnum && Nearest(value, Enum.GetNames(type)) is { } nearest ? $" Did you mean {nearest}?" : "";

    internal static string? Nearest(string key, IEnumerable<string> names) =>
        names.Select(n => (Name: n, Distance: Distance(n.ToLowerInvariant(), key.ToLowerInvariant())))
            .Where(c => c.Distance <= 3 && c.Distance < Math.Max(c.Name.Length, key.Length))
            .OrderBy(c => c.Distance).Select(c => c.Name).FirstOrDefault();

    /// <summary>The value in quotes, shortened, with control characters made visible, so a message stays one readable line.</summary>
    internal static string Show(string value)
    {
        var shown = value.Length > ShownValueLength ? value[..ShownValueLength] + "…" : value;
        return "'" + string.Concat(shown.Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString())) + "'";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}

/// <summary>Reports <see cref="ConfigShape"/>'s problems for one section alongside the section's other checks.</summary>
internal sealed class ConfigShapeValidator<T>(IConfiguration configuration, string section) : IValidateOptions<T> where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var problems = ConfigShape.Problems(configuration, section, typeof(T));
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
