using Microsoft.Extensions.Configuration;

namespace Syndicator.Hosting;

public static class ConfigSections
{
    /// <summary>
    /// A section read while the host is still being composed (listen addresses, the job store). A value the binder
    /// cannot convert falls back to the defaults here; options validation reports it, with its key, before anything starts.
    /// </summary>
    public static T ReadOrDefault<T>(IConfiguration configuration, string section) where T : new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException)
        {
            return new T();
        }
    }
}
