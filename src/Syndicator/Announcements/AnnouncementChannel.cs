using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;

namespace Syndicator.Announcements;

/// <summary>
/// One social network (X, Mastodon or Bluesky) as a delivery channel: composes the article's post for the account
/// the delivery names, gets its image onto the network (<see cref="AnnouncementMedia"/>) and hands both to that
/// network's client. An account's posts go one at a time, from one node at a time, so its rate limit is met in
/// order; accounts post side by side. The article's controls are read again at send time: a file changed since
/// the delivery was planned (announce: false, the account now skipped, a later announceAt) is honoured.
/// </summary>
public sealed class AnnouncementChannel(
    ISocialClient client,
    IOptions<AnnouncementOptions> options,
    ArticleStore articles,
    PostComposer composer,
    AnnouncementMedia media,
    TimeProvider time) : IDeliveryChannel
{
    public Network Network => client.Network;

    public string Name => AnnouncementPlanner.Channel(client.Network);

    /// <summary>Mastodon takes an Idempotency-Key and Bluesky a record key; X has neither, so a retry looks for the post first.</summary>
    public ChannelPolicy Policy { get; } = new(RecipientKind.Account,
        client.Network == Network.X ? DuplicateGuard.Reconciliation : DuplicateGuard.IdempotencyKey, OneLanePerRecipient: true);

    public async Task<DeliveryOutcome> SendAsync(Delivery delivery, DeliveryAttempt attempt, CancellationToken cancellationToken)
    {
        var account = options.Value.Accounts.FirstOrDefault(a => a.Network == Network && string.Equals(a.Name, delivery.Recipient.Id, StringComparison.Ordinal));
        if (account is null)
            return new DeliveryOutcome.Permanent($"{Name}: account {delivery.Recipient.Id} is no longer in Announcements:Accounts; add it back and run `syndicator deliveries retry {delivery.Id}`");
        var article = await articles.FindByIdAsync(delivery.Subject.Id, cancellationToken);
        if (article is null) return new DeliveryOutcome.Permanent($"{Name}: article {delivery.Subject.Id} is no longer in the store");
        if (article.UnpublishedAt is { } unpublished)
            return new DeliveryOutcome.Permanent($"{Name}: \"{article.Title}\" was unpublished at {unpublished:u}; it is not announced (publish it again and run `syndicator deliveries retry {delivery.Id}` to announce it)");
        if (!article.Controls.Announce)
            return new DeliveryOutcome.Permanent($"{Name}: not posted: the file of '{article.Slug}' now says announce: false; remove that line, import it again and run `syndicator deliveries retry {delivery.Id}` to post it");
        if (article.Controls.Skips(account.Name))
            return new DeliveryOutcome.Permanent($"{Name}: not posted: the file of '{article.Slug}' now names {account.Name} in skipAccounts; remove it there, import again and run `syndicator deliveries retry {delivery.Id}` to post it");
        if (article.Controls.AnnounceAt is { } at && at > time.GetUtcNow())
            return new DeliveryOutcome.Transient($"{Name}: '{article.Slug}' is to be announced at {at:O} (announceAt)", at);

        // The key is the delivery's, so every attempt of this (article, account) carries the same one.
        var post = composer.Compose(article, account, $"syndicator-{delivery.Key}");
        if (post.ImageUrl is { } imageUrl && account.ImageStyle != PostImage.None)
        {
            var (mediaRef, stop) = await media.PrepareAsync(delivery, account, client, imageUrl, post.ImageAlt, cancellationToken);
            if (stop is not null) return stop;
            post = post with { MediaRef = mediaRef };
        }
        attempt.Message = post.Text;
        return await client.PostAsync(account, post, isRetry: delivery.Attempts > 1, cancellationToken);
    }
}
