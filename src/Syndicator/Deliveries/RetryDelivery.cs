namespace Syndicator.Deliveries;

/// <summary>What became of a request to retry one delivery.</summary>
public enum RetryResult
{
    /// <summary>Pending again: its channel's next run sends it.</summary>
    Retried,
    NotFound,
    /// <summary>Not failed or unconfirmed (any more): nothing changed.</summary>
    NotRetryable,
}

/// <summary>Retry one failed or unconfirmed delivery by hand: the CLI's <c>deliveries retry</c> and the dashboard's Retry button.</summary>
public sealed class RetryDelivery(DeliveryStore store)
{
    public async Task<(RetryResult Result, Delivery? Delivery)> RunAsync(long id, CancellationToken cancellationToken)
    {
        if (await store.RetryAsync(id, cancellationToken)) return (RetryResult.Retried, await store.GetAsync(id, cancellationToken));
        var delivery = await store.GetAsync(id, cancellationToken);
        return (delivery is null ? RetryResult.NotFound : RetryResult.NotRetryable, delivery);
    }
}
