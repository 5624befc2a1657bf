using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;

namespace Syndicator.ActivityPub;

/// <summary>
/// Delivers activities to remote inboxes: composes the activity a delivery names (the article's Create, Update or
/// Delete, or the Accept of a follow) from the store as it is now, signs it with the sending actor's key, and POSTs
/// it. Receivers drop an activity whose id they have seen, so a retry after a lost answer does no harm. One remote
/// host gets one request at a time (<see cref="HostGate"/>), at ActivityPub:DeliveriesPerSecond from each node;
/// a 429 pauses that inbox on every node. A 410 Gone means the accounts behind the inbox are gone: their follows
/// are dropped. An inbox that fails every delivery for ActivityPub:ParkInboxAfterDays is parked (<see cref="InboxHealth"/>).
/// </summary>
public sealed class ActivityPubChannel(
    IHttpClientFactory factory,
    IOptions<ActivityPubOptions> options,
    ArticleStore articles,
    ArticleRounds rounds,
    FollowerStore followers,
    ActivityDocuments documents,
    LocalActors actors,
    ActorKeys keys,
    InboxHealth health,
    HostGate hosts,
    TimeProvider time,
    ILogger<ActivityPubChannel> logger) : IDeliveryChannel
{
    public static readonly HttpService Service = new("activitypub", ResetFormat.EpochSeconds, []);

    public string Name => ActivityPubPlanner.Channel;

    public ChannelPolicy Policy { get; } = new(RecipientKind.Inbox, DuplicateGuard.IdempotencyKey, OneLanePerRecipient: true, PerSecond: options.Value.DeliveriesPerSecond);

    private readonly HttpOutcomes outcomes = new(Service, body => HttpOutcomes.Shorten(body), time);

    public async Task<DeliveryOutcome> SendAsync(Delivery delivery, DeliveryAttempt attempt, CancellationToken cancellationToken)
    {
        var (activity, sender, problem) = await ComposeAsync(delivery, cancellationToken);
        if (activity is null) return new DeliveryOutcome.Permanent($"activitypub: {problem}");
        var inbox = delivery.Recipient.Id;
        if (!Uri.TryCreate(inbox, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            return new DeliveryOutcome.Permanent($"activitypub: the inbox \"{HttpOutcomes.Shorten(inbox)}\" is not an http(s) URL");
        var body = Encoding.UTF8.GetBytes(ActivityDocuments.Serialize(activity));
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(ActivityDocuments.ContentType);
        using (var rsa = (await keys.GetAsync(sender!, cancellationToken)).PrivateKey())
            HttpSignatures.Sign(request, body, actors.KeyId(sender!), rsa, time.GetUtcNow());
        var call = $"POST {uri.GetLeftPart(UriPartial.Path)}";
        DeliveryOutcome outcome;
        using var turn = await hosts.EnterAsync(uri, cancellationToken);
        try
        {
            using var response = await factory.CreateClient(RemoteActors.HttpClientName).SendAsync(request, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                await health.WorkedAsync(inbox, cancellationToken);
                return outcomes.Sent(response, (string?)activity["id"], null);
            }
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode == HttpStatusCode.Gone)
            {
                var dropped = await followers.RemoveByInboxAsync(inbox, cancellationToken);
                logger.LogWarning("activitypub: {Inbox} answered 410 Gone; dropped the {Count} follower(s) delivered through it", inbox, dropped);
                return new DeliveryOutcome.Permanent($"activitypub: {call} answered 410 Gone: the account(s) are gone; {dropped} follower(s) dropped");
            }
            outcome = outcomes.Failure(call, response, text);
        }
        catch (Exception e) when (HttpOutcomes.IsTransportFailure(e, cancellationToken))
        {
            outcome = outcomes.FromException(e, inbox, call, factory.CreateClient(RemoteActors.HttpClientName).Timeout);
        }
        // A 429 is the server asking for time, not failing.
        if (outcome.PauseRecipientUntil is not null) return outcome;
        var error = outcome switch { DeliveryOutcome.Transient t => t.Error, DeliveryOutcome.Permanent p => p.Error, _ => call };
        if (await health.FailedAsync(inbox, error, cancellationToken) is not { } parked) return outcome;
        // Parked by this failure: the delivery keeps its place (no attempt used) and waits with the rest for the park to end.
        return new DeliveryOutcome.Transient(health.Reason(parked)) { PauseRecipientUntil = InboxHealth.Indefinitely, Cause = outcome.Cause, Status = outcome.Status };
    }

    /// <summary>The activity and the actor who sends it, or the reason there is none to send.</summary>
    public async Task<(JsonObject? Activity, LocalActor? Sender, string Problem)> ComposeAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        switch (delivery.Subject.Kind)
        {
            case SubjectKind.Article:
            {
                if (ArticleVerb.Parse(delivery.Subject.Version) is not { } verb)
                    return (null, null, $"delivery {delivery.Id} names \"{delivery.Subject.Version}\", which is not create, update:HASH or delete (with @ROUND after it in a later round)");
                var article = await articles.FindByIdAsync(delivery.Subject.Id, cancellationToken);
                if (article is null) return (null, null, $"article {delivery.Subject.Id} is no longer in the store");
                // Unpublished after this was planned: only its Delete still goes out.
                if (article.Unpublished && verb.Kind != ArticleVerbKind.Delete)
                    return (null, null, $"\"{article.Title}\" was unpublished at {article.UnpublishedAt:u}; its {verb.Type} is not sent (its Delete goes to every inbox that had it)");
                // A Create or edit of an earlier round, still waiting when the article was unpublished and published again:
                // that object is deleted, and the new round's Create carries the text as it is now.
                if (verb.Kind != ArticleVerbKind.Delete && await rounds.CurrentAsync(delivery.Subject.Id, cancellationToken) is var round && round > verb.Round)
                    return (null, null, $"\"{article.Title}\" was published again (round {round}) after this {verb.Describe()} was planned; the new round's Create carries the current text");
                return (documents.ArticleActivity(article, verb), actors.Publication, "");
            }
            case SubjectKind.Follow:
            {
                var follower = long.TryParse(delivery.Subject.Id, out var id) ? await followers.GetAsync(id, cancellationToken) : null;
                if (follower is null) return (null, null, $"follower {delivery.Subject.Id} is gone (unfollowed or removed); nothing to accept");
                if (actors.Find(follower.Actor) is not { } actor)
                    return (null, null, $"the followed account {follower.Actor} is no longer in ActivityPub (Username or Authors)");
                return (documents.Accept(actor, follower), actor, "");
            }
            default:
                return (null, null, $"delivery {delivery.Id} is a {delivery.Subject.KindColumn}, which ActivityPub does not send");
        }
    }
}
