namespace Syndicator.Shared;

/// <summary>
/// Reads a secret from where the configuration points: <c>env:NAME</c> (an environment variable) or
/// <c>file:/path</c> (a file's trimmed content, e.g. a container secret). Literal secrets are refused, so none can
/// sit in a committed appsettings.json. Values are never logged.
/// </summary>
public static class Secrets
{
    public static bool IsReference(string value) =>
        value.StartsWith("env:", StringComparison.Ordinal) || value.StartsWith("file:", StringComparison.Ordinal);

    /// <summary>The secret, or null with <paramref name="problem"/> saying what is missing.</summary>
    public static string? TryResolve(string reference, string contentRoot, out string? problem)
    {
        problem = null;
        if (reference.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = reference[4..];
            var value = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(value)) problem = $"the environment variable {name} is not set";
            return string.IsNullOrEmpty(value) ? null : value;
        }
        if (reference.StartsWith("file:", StringComparison.Ordinal))
        {
            var path = Path.GetFullPath(reference[5..], contentRoot);
            if (!File.Exists(path))
            {
                problem = Directory.Exists(path) ? $"{path} is a folder, not a file" : $"the file {path} does not exist";
                return null;
            }
            string value;
            try
            {
                value = File.ReadAllText(path).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"the file {path} cannot be read ({e.Message}); check its permissions";
                return null;
            }
            if (value.Length == 0) problem = $"the file {path} is empty";
            return value.Length == 0 ? null : value;
        }
        problem = "it is written into the configuration; secrets must be references such as env:X_CONSUMER_SECRET or file:/run/secrets/x_consumer_secret";
        return null;
    }

    public static string Resolve(string reference, string contentRoot, string key) =>
        TryResolve(reference, contentRoot, out var problem) ?? throw new InvalidOperationException($"{key}: {problem}.");
}
