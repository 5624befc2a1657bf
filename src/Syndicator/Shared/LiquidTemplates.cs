using Fluid;

namespace Syndicator.Shared;

/// <summary>Liquid templates (posts, e-mails) read from the configured templates folder.</summary>
public static class LiquidTemplates
{
    private static readonly FluidParser Parser = new();

    /// <summary>Parses a template file, or says what is wrong with it and where.</summary>
    public static IFluidTemplate Load(string path, string setting)
    {
        if (!File.Exists(path))
            throw new InvalidOperationException($"The template {path} does not exist; copy it from config/templates/ or set {setting}.");
        if (!Parser.TryParse(File.ReadAllText(path), out var template, out var error))
            throw new InvalidOperationException($"The template {path} is not valid Liquid: {error}");
        return template;
    }
}
