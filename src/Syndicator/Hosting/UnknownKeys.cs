using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Syndicator.Hosting;

/// <summary>
/// Reports configuration keys that no setting reads, with their full path and the nearest real key, so a typo
/// ("Storage:ConectionString") is caught instead of silently falling back to a default. Unlike the binder's own
/// check it reports every unknown key, alongside every other problem.
/// </summary>
internal sealed class UnknownKeys<T>(IConfiguration configuration, string section) : IValidateOptions<T> where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var errors = new List<string>();
        Check(configuration.GetSection(section), typeof(T), errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Check(IConfigurationSection section, Type type, List<string> errors)
    {
        if (Dictionary(type) is { } valueType)
        {
            foreach (var child in section.GetChildren()) Check(child, valueType, errors);
            return;
        }
        if (IsLeaf(type) || typeof(IEnumerable).IsAssignableFrom(type)) return;

        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToList();
        foreach (var child in section.GetChildren())
        {
            var property = properties.FirstOrDefault(p => string.Equals(p.Name, child.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                var nearest = properties.MinBy(p => Distance(p.Name.ToLowerInvariant(), child.Key.ToLowerInvariant()));
                var hint = nearest is not null && Distance(nearest.Name.ToLowerInvariant(), child.Key.ToLowerInvariant()) <= 3
                    ? $"did you mean {section.Path}:{nearest.Name}?"
                    : $"the keys here are {string.Join(", ", properties.Select(p => p.Name))}.";
                errors.Add($"{child.Path} is not a setting; remove it or correct its spelling ({hint})");
                continue;
            }
            Check(child, Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType, errors);
        }
    }

    private static Type? Dictionary(Type type) =>
        type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>))?.GetGenericArguments()[1];

    private static bool IsLeaf(Type type) => type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri);

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
