using System.Threading.RateLimiting;
using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Digests;

/// <summary>
/// Sends due e-mail deliveries (digests and sign-up confirmations) over a configurable number of SMTP connections,
/// many messages per connection, at most MessagesPerSecond and (optionally) MaxPerHour. Each outcome is recorded
/// on its row the moment the server answers, so a crash or restart resumes with the unsent ones only.
/// </summary>
public sealed class DigestSender(
    Database database,
    DeliveryStore deliveries,
    DeliveryWorker worker,
    SubscriberStore subscribers,
    ArticleStore articles,
    DigestComposer composer,
    PickupFolder pickup,
    IOptions<DigestOptions> options,
    IOptions<DeliveryOptions> deliveryOptions,
    IHostEnvironment environment,
    TimeProvider time,
    ILogger<DigestSender> logger)
{
    public async Task<DrainReport> SendDueAsync(IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var limit = deliveryOptions.Value.BatchSize;
        if (o.Smtp.MaxPerHour > 0)
        {
            limit = Math.Min(limit, o.Smtp.MaxPerHour - await SentInLastHourAsync(cancellationToken));
            if (limit <= 0)
            {
                logger.LogInformation("E-mail: Digests:Smtp:MaxPerHour ({Cap}) reached; the rest waits for the next run", o.Smtp.MaxPerHour);
                return new DrainReport(0, 0, 0);
            }
        }
        var claimed = await deliveries.ClaimDueAsync(DigestPlanner.Channel, DeliveryWorker.Node, TimeSpan.FromSeconds(deliveryOptions.Value.LeaseSeconds), limit, cancellationToken);
        if (claimed.Count == 0) return new DrainReport(0, 0, 0);

        var counts = new int[3];
        var done = 0;
        using var limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, (int)Math.Ceiling(o.Smtp.MessagesPerSecond)),
            TokensPerPeriod = Math.Max(1, (int)Math.Ceiling(o.Smtp.MessagesPerSecond)),
            ReplenishmentPeriod = TimeSpan.FromSeconds(Math.Max(1, (int)Math.Ceiling(o.Smtp.MessagesPerSecond)) / o.Smtp.MessagesPerSecond),
            QueueLimit = int.MaxValue,
            AutoReplenishment = true,
        });

        var connections = string.IsNullOrWhiteSpace(o.Smtp.Host) ? 1 : Math.Min(o.Smtp.Connections, claimed.Count);
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async lane =>
        {
            await using var connection = string.IsNullOrWhiteSpace(o.Smtp.Host) ? null : new MailConnection(o.Smtp, environment.ContentRootPath);
            for (var i = lane; i < claimed.Count; i += connections)
            {
                var delivery = claimed[i];
                var (message, problem, subscriber) = await BuildAsync(delivery, cancellationToken);
                MailResult result;
                if (message is null) result = new MailResult(problem!, false);
                else
                {
                    await limiter.AcquireAsync(1, cancellationToken);
                    result = connection is null
                        ? await pickup.WriteAsync(delivery.Id, message, cancellationToken)
                        : await connection.SendAsync(message, cancellationToken);
                }
                var state = await worker.RecordAsync(DigestPlanner.Channel, delivery, result.Outcome);
                if (result.HardBounce && subscriber is not null && await subscribers.RecordHardBounceAsync(subscriber.Id, o.MaxHardBounces, CancellationToken.None))
                    logger.LogWarning("Subscriber {SubscriberId} suspended after {Count} hard bounces", subscriber.Id, o.MaxHardBounces);
                Interlocked.Increment(ref counts[state switch { DeliveryState.Sent => 0, DeliveryState.RetryWait => 1, _ => 2 }]);
                progress?.Report((Interlocked.Increment(ref done), claimed.Count));
            }
        }));
        return new DrainReport(counts[0], counts[1], counts[2]);
    }

    private async Task<(MimeMessage? Message, DeliveryOutcome? Problem, Subscriber? Subscriber)> BuildAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        var subscriber = await subscribers.FindAsync(delivery.Recipient, cancellationToken);
        if (subscriber is null) return (null, new DeliveryOutcome.Permanent($"email: subscriber {delivery.Recipient} no longer exists"), null);
        var key = $"syndicator-{delivery.Id}";
        if (delivery.SubjectKind == "confirmation")
        {
            return subscriber.State == SubscriberState.Pending
                ? (composer.Confirmation(subscriber, key), null, subscriber)
                : (null, new DeliveryOutcome.Permanent($"email: {subscriber.Email} is {subscriber.State.ToString().ToLowerInvariant()}; no confirmation needed"), subscriber);
        }
        if (subscriber.State != SubscriberState.Confirmed)
            return (null, new DeliveryOutcome.Permanent($"email: {subscriber.Email} is {subscriber.State.ToString().ToLowerInvariant()}; the digest was not sent"), subscriber);

        await using var connection = await database.OpenAsync(cancellationToken);
        var ids = (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT article_id FROM digest_items WHERE digest_id = @id ORDER BY position", new { id = delivery.SubjectId }, cancellationToken: cancellationToken))).ToList();
        var items = new List<Article>();
        foreach (var id in ids)
            if (await articles.FindByIdAsync(id, cancellationToken) is { } article) items.Add(article);
        if (items.Count == 0) return (null, new DeliveryOutcome.Permanent($"email: the articles of digest {delivery.SubjectId} are no longer in the store"), subscriber);
        return (composer.Digest(subscriber, items, key), null, subscriber);
    }

    private async Task<int> SentInLastHourAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT COUNT(*) FROM deliveries WHERE channel = @channel AND state = 'sent' AND sent_at > @since",
            new { channel = DigestPlanner.Channel, since = time.GetUtcNow().AddHours(-1) }, cancellationToken: cancellationToken));
    }
}
