using Dapper;
using Microsoft.Extensions.Logging;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.Announcements;

/// <summary>The image of one announcement as recorded: what the network gave for it, or why the post went without it.</summary>
public sealed record AnnouncementImage(long DeliveryId, string ImageUrl, string? MediaRef, string? Warning, DateTimeOffset UpdatedAt);

/// <summary>
/// Gets a delivery's image onto its network once. The network's reference to the uploaded image is written on the
/// delivery (<c>announcement_media</c>) before the post is made, so a retry attaches it instead of uploading again.
/// A failure on the image's side (its host answers 404, times out, sends something too large or not an image; the
/// network refuses the file) never stops the post: it goes out without the image and the delivery records why.
/// Only a network that cannot be asked at all (down, rate-limited) ends the attempt, so the post keeps its image.
/// The one gap: a crash between the upload's answer and its record uploads once more on retry; the network drops
/// media no post uses.
/// </summary>
public sealed class AnnouncementMedia(Database database, ImageFetcher fetcher, TimeProvider time, ILogger<AnnouncementMedia> logger)
{
    /// <summary>The media reference to attach (null: post without an image), or the outcome that ends the attempt.</summary>
    public async Task<(string? MediaRef, DeliveryOutcome? Stop)> PrepareAsync(Delivery delivery, SocialAccount account, ISocialClient client, string imageUrl, string? alt, CancellationToken cancellationToken)
    {
        var recorded = await FindAsync(delivery.Id, cancellationToken);
        if (recorded is { MediaRef: { } existing } && recorded.ImageUrl == imageUrl) return (existing, null);

        var (image, problem) = await fetcher.FetchAsync(imageUrl, client.MaxImageBytes, cancellationToken);
        if (image is null) return (null, await WithoutImageAsync(delivery, account, imageUrl, problem!, cancellationToken));
        switch (await client.UploadImageAsync(account, image, alt, cancellationToken))
        {
            case MediaUpload.Uploaded uploaded:
                await SaveAsync(delivery.Id, imageUrl, uploaded.Ref, null, cancellationToken);
                return (uploaded.Ref, null);
            case MediaUpload.Refused refused:
                return (null, await WithoutImageAsync(delivery, account, imageUrl, refused.Reason, cancellationToken));
            case MediaUpload.Failed failed:
                return (null, failed.Outcome);
            default:
                throw new InvalidOperationException("Unknown media upload result.");
        }
    }

    private async Task<DeliveryOutcome?> WithoutImageAsync(Delivery delivery, SocialAccount account, string imageUrl, string problem, CancellationToken cancellationToken)
    {
        var warning = $"{AnnouncementPlanner.Channel(account.Network)}: posted without the image: {problem}";
        logger.LogWarning("Delivery {DeliveryId} to {Account}: {Warning}", delivery.Id, account.Name, warning);
        await SaveAsync(delivery.Id, imageUrl, null, warning, cancellationToken);
        return null;
    }

    /// <summary>The recorded image of a delivery, or null when it had none (or has not been tried).</summary>
    public async Task<AnnouncementImage?> FindAsync(long deliveryId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition("""
            SELECT delivery_id AS DeliveryId, image_url AS ImageUrl, media_ref AS MediaRef, warning AS Warning, updated_at AS UpdatedAt
            FROM announcement_media WHERE delivery_id = @deliveryId
            """, new { deliveryId }, cancellationToken: cancellationToken));
        return row is null ? null : new AnnouncementImage(row.DeliveryId, row.ImageUrl, row.MediaRef, row.Warning, row.UpdatedAt);
    }

    private sealed class Row
    {
        public long DeliveryId { get; init; }
        public string ImageUrl { get; init; } = "";
        public string? MediaRef { get; init; }
        public string? Warning { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
    }

    private async Task SaveAsync(long deliveryId, string imageUrl, string? mediaRef, string? warning, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO announcement_media (delivery_id, image_url, media_ref, warning, updated_at)
            VALUES (@deliveryId, @imageUrl, @mediaRef, @warning, @now)
            ON CONFLICT (delivery_id) DO UPDATE SET image_url = @imageUrl, media_ref = @mediaRef, warning = @warning, updated_at = @now
            """, new { deliveryId, imageUrl, mediaRef, warning, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }
}
