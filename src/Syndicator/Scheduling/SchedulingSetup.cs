using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Syndicator.Scheduling;

public static class SchedulingSetup
{
    public static void Add(IServiceCollection services, IConfiguration configuration)
    {
    }
}
