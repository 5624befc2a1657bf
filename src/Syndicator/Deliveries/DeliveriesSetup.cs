using Microsoft.Extensions.DependencyInjection;

namespace Syndicator.Deliveries;

public static class DeliveriesSetup
{
    /// <summary>The outbox, the one delivery worker every channel goes through, and the names deliveries are shown by.</summary>
    public static IServiceCollection AddDeliveries(this IServiceCollection services)
    {
        services.AddSingleton<DeliveryStore>();
        services.AddSingleton<DeliveryWorker>();
        services.AddSingleton(DeliveryNode.ThisProcess);
        services.AddTransient<RetryDelivery>();
        return services.AddSingleton<DeliveryDirectory>();
    }
}
