using Syndicator.Deliveries;

namespace Syndicator.Announcements;

/// <summary>
/// One network's client. Errors in outcomes start with the network's name ("x: 401 Unauthorized ...") and are
/// classed as transient or permanent (see <see cref="DeliveryOutcome"/>).
/// </summary>
public interface ISocialClient
{
    Network Network { get; }

    /// <summary>
    /// Posts unless the post already exists. <paramref name="isRetry"/> is true when an earlier attempt may have
    /// reached the network (the row counted an attempt before): the client must then make sure a second post
    /// cannot appear, by the network's idempotency or by looking for the article's URL among recent posts.
    /// </summary>
    Task<DeliveryOutcome> PostAsync(SocialAccount account, ComposedPost post, bool isRetry, CancellationToken cancellationToken);
}
