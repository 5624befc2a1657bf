using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;
using Syndicator.Storage;
using Syndicator.Shared;

namespace Syndicator.Digests;

/// <summary>What someone asks for: from the public form (double opt-in) or from the publisher's CLI.</summary>
public sealed record SubscriptionRequest(
    string Email,
    string? Name,
    DigestFrequency Frequency,
    string TimeZone,
    IReadOnlyList<string> Authors,
    IReadOnlyList<string> Tags);

/// <summary>
/// The verdict on a request: the problems that refuse it (each with its reason), or the request as it will be stored
/// (address trimmed, name cleaned) with warnings about what was changed.
/// </summary>
public sealed record SubscriptionCheck(SubscriptionRequest? Accepted, IReadOnlyList<string> Problems, IReadOnlyList<string> Warnings);

public enum ConfirmationResult
{
    /// <summary>The sign-up is confirmed now.</summary>
    Confirmed,
    /// <summary>The address already receives the digest; nothing changed.</summary>
    AlreadyConfirmed,
    /// <summary>The link is older than Subscriptions:ConfirmationHours.</summary>
    Expired,
    /// <summary>The link belongs to an earlier sign-up of the address (it was unsubscribed or signed up again since).</summary>
    Superseded,
    /// <summary>Forged, altered, for another purpose, or for a subscriber that no longer exists.</summary>
    Invalid,
}

public enum PreferencesLinkResult
{
    Valid,
    /// <summary>Older than Subscriptions:PreferencesLinkDays.</summary>
    Expired,
    /// <summary>The reader no longer receives the digest (unsubscribed, bounced, complained, suspended).</summary>
    NotSubscribed,
    /// <summary>Forged, altered, for another purpose, or for a subscriber that no longer exists.</summary>
    Invalid,
}

/// <summary>
/// Subscribing, confirming and unsubscribing: the one implementation the CLI verbs and the HTTP endpoints call, so
/// both check addresses, names and time zones alike, give a new subscriber the same first watermark
/// (<see cref="DigestPlanner.FirstWatermark"/> when they are confirmed) and write everything a request changes,
/// subscriber and confirmation e-mail, in one transaction.
/// </summary>
public sealed class Subscriptions(
    Database database,
    SubscriberStore store,
    SuppressionList suppressions,
    DeliveryStore deliveries,
    SubscriberTokens tokens,
    DigestPlanner planner,
    IOptions<SubscriptionOptions> options,
    TimeProvider time,
    ILogger<Subscriptions> logger)
{

    public SubscriptionCheck Check(SubscriptionRequest request)
    {
        var problems = new List<string>();
        var warnings = new List<string>();
        if (SubscriberAddress.Problem(request.Email) is { } address) problems.Add(address);
        if (ReaderChoices.ZoneProblem(request.TimeZone) is { } zone) problems.Add(zone);
        var name = SubscriberName.Clean(request.Name, out var nameWarning);
        if (nameWarning is not null) warnings.Add(nameWarning);
        return problems.Count > 0
            ? new SubscriptionCheck(null, problems, warnings)
            : new SubscriptionCheck(request with { Email = request.Email.Trim(), Name = name, TimeZone = request.TimeZone.Trim() }, [], warnings);
    }

    /// <summary>
    /// Adds a subscriber the publisher vouches for (confirmed at once, the first digest looking back
    /// Digests:NewSubscriberLookBackPeriods), or updates an existing one's settings, keeping its state. A suppressed
    /// address is refused (nothing is stored): the entry says why, and only `syndicator suppressions lift` clears it.
    /// </summary>
    public async Task<(Subscriber? Subscriber, bool Created, Suppression? Suppressed)> AddAsync(SubscriptionRequest accepted, CancellationToken cancellationToken)
    {
        if (await suppressions.FindAsync(accepted.Email, cancellationToken) is { } suppressed) return (null, false, suppressed);
        var (subscriber, created) = await store.SaveAsync(accepted.Email, accepted.Name, accepted.Frequency, accepted.TimeZone, SubscriberState.Confirmed,
            accepted.Authors, accepted.Tags, planner.FirstWatermark(accepted.Frequency), cancellationToken);
        return (subscriber, created, null);
    }

    /// <summary>
    /// A double opt-in sign-up: the address becomes pending with a new sign-up id (unless a sign-up is already waiting
    /// and still fresh, whose links then stay good), and a confirmation e-mail is queued, at most one per address an
    /// hour. The same statements run and the same e-mail is queued whether the address is new, pending, confirmed or
    /// unsubscribed, so neither the answer nor its timing tells who subscribes; a confirmed reader's settings are not
    /// changed by a stranger, and their e-mail says they already receive the digest. A suppressed address (unsubscribed,
    /// bounced, complained) is neither stored nor mailed: null, and the form gives its usual answer.
    /// </summary>
    public async Task<Subscriber?> RequestAsync(SubscriptionRequest accepted, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToStoredPrecision();
        var freshSignUp = (SubscriberTokens.NewSignUpId(), now);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await suppressions.FindAsync(connection, transaction, accepted.Email, cancellationToken) is { } suppressed)
        {
            logger.LogInformation("Sign-up of a suppressed address ({Reason}) ignored; the publisher can lift it with `syndicator suppressions lift`", SuppressionList.Column(suppressed.Reason));
            return null;
        }
        var existing = await store.FindByEmailAsync(connection, transaction, accepted.Email, cancellationToken);
        string id;
        if (existing is null)
            id = await store.InsertAsync(connection, transaction, accepted.Email, accepted.Name, accepted.Frequency, accepted.TimeZone,
                SubscriberState.Pending, now, freshSignUp, cancellationToken);
        else
        {
            id = existing.Id;
            var waiting = existing.State == SubscriberState.Pending && existing.SignUpId is not null && !Expired(existing, now);
            var updated = existing.State switch
            {
                SubscriberState.Pending or SubscriberState.Unsubscribed => existing with
                {
                    Name = accepted.Name, Frequency = accepted.Frequency, TimeZone = accepted.TimeZone, State = SubscriberState.Pending,
                    SignUpId = waiting ? existing.SignUpId : freshSignUp.Item1, SignUpAt = waiting ? existing.SignUpAt : now,
                    FollowedAuthors = accepted.Authors, FollowedTags = accepted.Tags,
                },
                _ => existing,
            };
            await store.UpdateAsync(connection, transaction, updated, cancellationToken);
            await store.ReplaceFollowsAsync(connection, transaction, id, updated.FollowedAuthors, updated.FollowedTags, cancellationToken);
        }
        if (existing is null) await store.ReplaceFollowsAsync(connection, transaction, id, accepted.Authors, accepted.Tags, cancellationToken);
        var saved = (await store.GetAsync(connection, transaction, "id = @value", id, cancellationToken))!;
        // One confirmation an hour per address and sign-up, so the form cannot be used to flood someone's inbox.
        await deliveries.EnsureAsync(connection, transaction, EmailChannel.ChannelName, DeliverySubject.Confirmation(id, $"{saved.SignUpId ?? "-"}:{now:yyyyMMddHH}"), DeliveryRecipient.Subscriber(id), now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return saved;
    }

    /// <summary>Checks a confirmation link without changing anything (a GET, which mail scanners follow).</summary>
    public async Task<(ConfirmationResult Result, Subscriber? Subscriber)> CheckConfirmationAsync(string? token, CancellationToken cancellationToken)
    {
        if (tokens.VerifyConfirmation(token) is not { } link || await store.FindAsync(link.SubscriberId, cancellationToken) is not { } subscriber)
            return (ConfirmationResult.Invalid, null);
        if (subscriber.State == SubscriberState.Confirmed) return (ConfirmationResult.AlreadyConfirmed, subscriber);
        if (subscriber.State != SubscriberState.Pending || subscriber.SignUpId != link.SignUpId) return (ConfirmationResult.Superseded, subscriber);
        return Expired(subscriber, time.GetUtcNow()) ? (ConfirmationResult.Expired, subscriber) : (ConfirmationResult.Confirmed, subscriber);
    }

    /// <summary>Confirms the sign-up a link names, when it is still the address's current one and not expired.</summary>
    public async Task<(ConfirmationResult Result, Subscriber? Subscriber)> ConfirmAsync(string? token, CancellationToken cancellationToken)
    {
        var (result, subscriber) = await CheckConfirmationAsync(token, cancellationToken);
        if (result != ConfirmationResult.Confirmed) return (result, subscriber);
        // The store checks the sign-up id again in its UPDATE: an unsubscribe or new sign-up in between wins.
        if (!await store.ConfirmAsync(subscriber!.Id, subscriber.SignUpId!, planner.FirstWatermark(subscriber.Frequency), cancellationToken))
            return (ConfirmationResult.Superseded, subscriber);
        logger.LogInformation("Subscriber {Id} confirmed their sign-up", subscriber.Id);
        return (result, await store.FindAsync(subscriber.Id, cancellationToken));
    }

    /// <summary>The subscriber an unsubscribe link is for, or null when the link is not valid.</summary>
    public async Task<Subscriber?> FindUnsubscribingAsync(string? token, CancellationToken cancellationToken) =>
        tokens.VerifyUnsubscribe(token) is { } id ? await store.FindAsync(id, cancellationToken) : null;

    /// <summary>Unsubscribes the reader a link is for; null when the link is not valid.</summary>
    public async Task<Subscriber?> UnsubscribeAsync(string? token, CancellationToken cancellationToken)
    {
        if (await FindUnsubscribingAsync(token, cancellationToken) is not { } subscriber) return null;
        await store.UnsubscribeAsync(subscriber.Id, "link", cancellationToken);
        return subscriber;
    }

    /// <summary>
    /// The subscriber a preferences link is for, when it is genuine, younger than Subscriptions:PreferencesLinkDays and
    /// names a reader who still gets (or awaits) the digest. Nothing is changed (a GET, which mail scanners follow).
    /// </summary>
    public async Task<(PreferencesLinkResult Result, Subscriber? Subscriber)> FindByPreferencesAsync(string? token, CancellationToken cancellationToken)
    {
        if (tokens.VerifyPreferences(token) is not { } link || await store.FindAsync(link.SubscriberId, cancellationToken) is not { } subscriber)
            return (PreferencesLinkResult.Invalid, null);
        var age = time.GetUtcNow() - link.IssuedAt;
        // A link from the future was not made by this clock; refuse it like an altered one (a minute of slack for clock steps).
        if (age < -TimeSpan.FromMinutes(1)) return (PreferencesLinkResult.Invalid, null);
        if (age > options.Value.PreferencesLinkLifetime) return (PreferencesLinkResult.Expired, subscriber);
        return subscriber.State is SubscriberState.Confirmed or SubscriberState.Pending
            ? (PreferencesLinkResult.Valid, subscriber)
            : (PreferencesLinkResult.NotSubscribed, subscriber);
    }

    /// <summary>
    /// Saves a reader's choices from the preferences page (the link checked again, so an unsubscribe in between wins).
    /// The next digest plan uses them: the period is counted in the new zone and frequency, and the watermark stays, so
    /// no article is repeated or skipped by the change.
    /// </summary>
    public async Task<(PreferencesLinkResult Result, Subscriber? Subscriber)> SavePreferencesAsync(string? token, ReaderChoices choices, CancellationToken cancellationToken)
    {
        var (result, subscriber) = await FindByPreferencesAsync(token, cancellationToken);
        if (result != PreferencesLinkResult.Valid) return (result, subscriber);
        if (!await store.UpdatePreferencesAsync(subscriber!.Id, choices.Frequency, choices.TimeZone, choices.Authors, choices.Tags, cancellationToken))
            return (PreferencesLinkResult.NotSubscribed, subscriber);
        logger.LogInformation("Subscriber {Id} changed their preferences: {Frequency}, {Zone}, {Authors} author(s) and {Tags} tag(s) followed",
            subscriber.Id, choices.Frequency, choices.TimeZone, choices.Authors.Count, choices.Tags.Count);
        return (result, await store.FindAsync(subscriber.Id, cancellationToken));
    }

    private bool Expired(Subscriber subscriber, DateTimeOffset now) =>
        subscriber.SignUpAt is not { } at || now - at > options.Value.ConfirmationLifetime;
}
