using Syndicator.Deliveries;

namespace Syndicator.Announcements;

/// <summary>What uploading a post's image gave.</summary>
public abstract record MediaUpload
{
    /// <summary>The network holds the image: <paramref name="Ref"/> is what a post attaches (a media id, a Bluesky blob as JSON).</summary>
    public sealed record Uploaded(string Ref) : MediaUpload;

    /// <summary>The network will not take this image (too large, a type it refuses): the post goes without it, saying why.</summary>
    public sealed record Refused(string Reason) : MediaUpload;

    /// <summary>The network could not be asked (down, rate-limited, bad credentials): the attempt ends with this outcome, the post waits.</summary>
    public sealed record Failed(DeliveryOutcome Outcome) : MediaUpload;

    /// <summary>A network's refusal of the file itself (400, 413, 415, 422) lets the post go without it; anything else stops the attempt.</summary>
    public static MediaUpload FromFailure(System.Net.HttpStatusCode status, DeliveryOutcome failure) =>
        (int)status is 400 or 413 or 415 or 422 && failure is DeliveryOutcome.Permanent p ? new Refused(p.Error) : new Failed(failure);
}

/// <summary>
/// One network's client. Errors in outcomes start with the network's name ("x: 401 Unauthorized ...") and are
/// classed as transient or permanent (see <see cref="DeliveryOutcome"/>).
/// </summary>
public interface ISocialClient
{
    Network Network { get; }

    /// <summary>The largest image the network takes with a post, in bytes.</summary>
    int MaxImageBytes { get; }

    /// <summary>Uploads a post's image (with <paramref name="alt"/> as its description where the network takes one).</summary>
    Task<MediaUpload> UploadImageAsync(SocialAccount account, FetchedImage image, string? alt, CancellationToken cancellationToken);

    /// <summary>
    /// Posts unless the post already exists. <paramref name="isRetry"/> is true when an earlier attempt may have
    /// reached the network (the row counted an attempt before): the client must then make sure a second post
    /// cannot appear, by the network's idempotency or by looking for the article's URL among recent posts.
    /// A <see cref="ComposedPost.MediaRef"/> is attached as the account's <see cref="SocialAccount.Image"/> asks.
    /// </summary>
    Task<DeliveryOutcome> PostAsync(SocialAccount account, ComposedPost post, bool isRetry, CancellationToken cancellationToken);
}
