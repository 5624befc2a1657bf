using Microsoft.Extensions.Configuration;

namespace Syndicator.Shared;

public static class ConfigSections
{
    /// <summary>
    /// A section read while the host is still being composed (listen addresses, the job store) or by a check that
    /// spans sections. A value that does not fit its setting keeps the default here; <see cref="ConfigShape"/>
    /// reports it, with its key, before anything starts.
    /// </summary>
    public static T ReadOrDefault<T>(IConfiguration configuration, string section) where T : new() =>
        ConfigShape.Bind<T>(configuration, section);
}
