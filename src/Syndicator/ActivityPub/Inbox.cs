using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;
using Syndicator.Storage;

namespace Syndicator.ActivityPub;

/// <summary>
/// Our inboxes (each actor's and the shared one). A request is read only when its body fits ActivityPub:MaxBodyBytes,
/// and acted on only when its signature (draft-cavage, or RFC 9421 when the request has Signature-Input) verifies with
/// the key its keyId names (fetched from the sender, cached, fetched again once if it fails, for a key that was
/// rotated), covers the method and target, the date and the body's digest, the digest (Digest, or RFC 9530
/// Content-Digest) matches the body, its Date or created is within ActivityPub:SignatureWindowSeconds, the signing key's
/// owner is the activity's actor, and the same signature was not accepted before (on any node). Then: Follow,
/// Undo (of a Follow, Like or Announce), Delete of an actor, Like, Announce and replies to our articles; anything
/// else is acknowledged and ignored, as the protocol expects.
/// </summary>
public sealed class Inbox(
    IOptions<ActivityPubOptions> options,
    RemoteActors remotes,
    FollowerStore followers,
    ActivityPubPlanner planner,
    LocalActors actors,
    ArticleStore articles,
    InboxHealth health,
    Database database,
    TimeProvider time,
    ILogger<Inbox> logger)
{
    public async Task<IResult> ReceiveAsync(HttpContext context, LocalActor? addressee, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var request = context.Request;
        if (request.ContentLength > o.MaxBodyBytes) return Refuse(StatusCodes.Status413PayloadTooLarge, $"the body is {request.ContentLength} bytes; at most {o.MaxBodyBytes} are read (ActivityPub:MaxBodyBytes)");
        var body = await BoundedBody.ReadAsync(request.Body, o.MaxBodyBytes, cancellationToken);
        if (body is null) return Refuse(StatusCodes.Status413PayloadTooLarge, $"the body is larger than {o.MaxBodyBytes} bytes (ActivityPub:MaxBodyBytes)");

        var (remoteKey, refusal) = await VerifyAsync(request, body, cancellationToken);
        if (refusal is not null) return refusal;

        JsonElement activity;
        try
        {
            using var parsed = JsonDocument.Parse(body);
            activity = parsed.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return Refuse(StatusCodes.Status400BadRequest, $"the body is not JSON: {e.Message}");
        }
        if (activity.ValueKind != JsonValueKind.Object) return Refuse(StatusCodes.Status400BadRequest, "the body is not a JSON object");
        var actor = Id(activity, "actor");
        if (actor is null) return Refuse(StatusCodes.Status400BadRequest, "the activity names no actor");
        if (!string.Equals(actor, remoteKey!.Owner, StringComparison.Ordinal))
            return Refuse(StatusCodes.Status401Unauthorized, $"the activity's actor {actor} is not the owner of the signing key ({remoteKey.Owner})");
        // Accepted as genuine: only now does its signature count as used, so a refused request cannot burn a good one.
        var signatureHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request.Headers["Signature"].ToString())));
        if (!await followers.FirstUseAsync(signatureHash, o.SignatureWindow, cancellationToken))
            return Refuse(StatusCodes.Status409Conflict, "this signature was accepted before; a signed request is accepted once (replay)");

        try
        {
            await ActAsync(activity, actor, addressee, cancellationToken);
        }
        catch (RemoteFetchException e)
        {
            logger.LogWarning("activitypub: could not act on {Type} from {Actor}: {Problem}", Shown(Id(activity, "type")), Shown(actor), Shown(e.Message));
            return Refuse(StatusCodes.Status502BadGateway, e.Message);
        }
        return Results.Accepted();
    }

    /// <summary>The key that signed the request, or the refusal that says why it is not trusted.</summary>
    private async Task<(RemoteKey? Key, IResult? Refusal)> VerifyAsync(HttpRequest request, byte[] body, CancellationToken cancellationToken)
    {
        if (request.Headers.ContainsKey("Signature-Input")) return await VerifyRfc9421Async(request, body, cancellationToken);
        var o = options.Value;
        var signature = HttpSignatures.Parse(request.Headers["Signature"].ToString(), out var problem);
        if (signature is null) return (null, Refuse(StatusCodes.Status401Unauthorized, problem));
        foreach (var required in new[] { "(request-target)", "host", "date", "digest" })
            if (!signature.Headers.Contains(required))
                return (null, Refuse(StatusCodes.Status401Unauthorized, $"the signature does not cover {required}; (request-target), host, date and digest must be signed"));
        var date = request.Headers.Date.ToString();
        if (!DateTimeOffset.TryParse(date, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var signedAt))
            return (null, Refuse(StatusCodes.Status401Unauthorized, $"the Date header \"{date}\" is not an HTTP date"));
        if (Stale(signedAt, "dated") is { } stale) return (null, stale);
        var digest = request.Headers["Digest"].ToString();
        var expected = HttpSignatures.Digest(body);
        var sha256 = digest.Split(',').Select(d => d.Trim()).FirstOrDefault(d => d.StartsWith("SHA-256=", StringComparison.OrdinalIgnoreCase));
        if (sha256 is null) return (null, Refuse(StatusCodes.Status401Unauthorized, "the request has no SHA-256 Digest header"));
        if (!string.Equals(sha256[8..], expected[8..], StringComparison.Ordinal))
            return (null, Refuse(StatusCodes.Status401Unauthorized, "the Digest header does not match the body (altered in transit?)"));
        var signingString = HttpSignatures.SigningString(signature, request.Method, request.Path.ToUriComponent() + request.QueryString.ToUriComponent(),
            name => request.Headers.TryGetValue(name, out var values) ? string.Join(", ", values.ToArray()) : null, out problem);
        if (signingString is null) return (null, Refuse(StatusCodes.Status401Unauthorized, problem));
        return await KeyThatVerifiesAsync(signature.KeyId,
            pem => HttpSignatures.Verify(signingString, signature.Signature, pem) ? null : "the signature does not verify", cancellationToken);
    }

    /// <summary>
    /// An RFC 9421 signature: it must cover the method, the target (<c>@target-uri</c>, or <c>@authority</c> with
    /// <c>@path</c> or <c>@request-target</c>) and the body's <c>content-digest</c>, carry a <c>created</c> within
    /// the window and no past <c>expires</c>. The target is read as the public URL (Site:BaseUrl's origin), which is
    /// what the sender signed, whatever a reverse proxy sends on.
    /// </summary>
    private async Task<(RemoteKey? Key, IResult? Refusal)> VerifyRfc9421Async(HttpRequest request, byte[] body, CancellationToken cancellationToken)
    {
        var signature = MessageSignatures.Parse(request.Headers["Signature-Input"].ToString(), request.Headers["Signature"].ToString(), out var problem);
        if (signature is null) return (null, Refuse(StatusCodes.Status401Unauthorized, problem));
        var covers = signature.Components;
        if (!covers.Contains("@method")) return (null, Refuse(StatusCodes.Status401Unauthorized, $"the RFC 9421 signature {signature.Label} does not cover @method"));
        if (!covers.Contains("@target-uri") && !(covers.Contains("@authority") && (covers.Contains("@path") || covers.Contains("@request-target"))))
            return (null, Refuse(StatusCodes.Status401Unauthorized, $"the RFC 9421 signature {signature.Label} does not cover the target: sign @target-uri, or @authority and @path"));
        if (!covers.Contains("content-digest")) return (null, Refuse(StatusCodes.Status401Unauthorized, $"the RFC 9421 signature {signature.Label} does not cover content-digest, so the body could be anything"));
        if (signature.Created is not { } created) return (null, Refuse(StatusCodes.Status401Unauthorized, $"the RFC 9421 signature {signature.Label} has no created parameter, so its age cannot be told"));
        if (Stale(DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(created, -62135596800L, 253402300799L)), "signed (created)") is { } stale) return (null, stale);
        if (signature.Expires is { } expires && expires < time.GetUtcNow().ToUnixTimeSeconds())
            return (null, Refuse(StatusCodes.Status401Unauthorized, $"the RFC 9421 signature {signature.Label} expired at {expires} (Unix time)"));
        if (MessageSignatures.CheckContentDigest(request.Headers["Content-Digest"].ToString(), body) is { } digestProblem)
            return (null, Refuse(StatusCodes.Status401Unauthorized, digestProblem));
        var target = new Uri(actors.BaseUrl).GetLeftPart(UriPartial.Authority) + request.PathBase.ToUriComponent() + request.Path.ToUriComponent() + request.QueryString.ToUriComponent();
        var message = new SignedMessage(request.Method, target, name => request.Headers.TryGetValue(name, out var values) ? string.Join(", ", values.ToArray()) : null);
        var signatureBase = MessageSignatures.SignatureBase(signature, message, out problem);
        if (signatureBase is null) return (null, Refuse(StatusCodes.Status401Unauthorized, problem));
        return await KeyThatVerifiesAsync(signature.KeyId, pem => MessageSignatures.Verify(signature, signatureBase, pem), cancellationToken);
    }

    /// <summary>A refusal when <paramref name="signedAt"/> is further from now than ActivityPub:SignatureWindowSeconds.</summary>
    private IResult? Stale(DateTimeOffset signedAt, string what)
    {
        var o = options.Value;
        var skew = (time.GetUtcNow() - signedAt).Duration();
        return skew > o.SignatureWindow
            ? Refuse(StatusCodes.Status401Unauthorized, $"the request is {what} {ActivityDocuments.Time(signedAt)}, {(long)skew.TotalSeconds} s from now; more than {o.SignatureWindowSeconds} s is refused as stale (ActivityPub:SignatureWindowSeconds)")
            : null;
    }

    /// <summary>The key <paramref name="keyId"/> names, fetched (or cached), when <paramref name="verify"/> finds no problem with it.</summary>
    private async Task<(RemoteKey? Key, IResult? Refusal)> KeyThatVerifiesAsync(string keyId, Func<string, string?> verify, CancellationToken cancellationToken)
    {
        try
        {
            var key = await remotes.GetKeyAsync(keyId, refresh: false, cancellationToken);
            if (verify(key.PublicKeyPem) is null) return (key, null);
            // The sender may have rotated its key since we cached it: ask once more before refusing.
            key = await remotes.GetKeyAsync(keyId, refresh: true, cancellationToken);
            return verify(key.PublicKeyPem) is { } problem
                ? (null, Refuse(StatusCodes.Status401Unauthorized, $"{problem} with the key {keyId}"))
                : (key, null);
        }
        catch (RemoteFetchException e)
        {
            return (null, Refuse(StatusCodes.Status401Unauthorized, $"the signing key could not be fetched: {e.Message}"));
        }
    }

    private async Task ActAsync(JsonElement activity, string actor, LocalActor? addressee, CancellationToken cancellationToken)
    {
        var type = Id(activity, "type");
        var id = Id(activity, "id") ?? "";
        activity.TryGetProperty("object", out var target);
        switch (type)
        {
            case "Follow":
                if (actors.FromUrl(Id(target)) is not { } followed)
                {
                    logger.LogInformation("activitypub: Follow {Id} from {Actor} names {Object}, which is none of our accounts; ignored", Shown(id), Shown(actor), Shown(Id(target)));
                    return;
                }
                await FollowAsync(actor, id, followed, cancellationToken);
                return;
            case "Undo":
                var undone = Id(target, "type");
                if (undone == "Follow" && actors.FromUrl(Id(target, "object")) is { } unfollowed)
                    await followers.RemoveAsync(unfollowed.Username, actor, cancellationToken);
                else if (undone is "Like" or "Announce" || target.ValueKind == JsonValueKind.String)
                    await followers.RemoveInteractionAsync(Id(target) ?? "", actor, cancellationToken);
                return;
            case "Delete" when Id(target) == actor:
                var removed = await followers.RemoveEverywhereAsync(actor, cancellationToken);
                remotes.Forget(actor);
                logger.LogInformation("activitypub: {Actor} deleted itself; {Count} follow(s) removed", Shown(actor), removed);
                return;
            case "Like" or "Announce":
                if (await ArticleOfAsync(Id(target), cancellationToken) is { } liked && id.Length > 0)
                    await followers.AddInteractionAsync(id, liked, type == "Like" ? "like" : "announce", actor, cancellationToken);
                return;
            case "Create" when target.ValueKind == JsonValueKind.Object:
                if (await ArticleOfAsync(Id(target, "inReplyTo"), cancellationToken) is { } repliedTo)
                    await followers.AddInteractionAsync(Id(target) ?? id, repliedTo, "reply", actor, cancellationToken);
                return;
            default:
                logger.LogDebug("activitypub: {Type} {Id} from {Actor} to {Addressee} needs nothing from us", Shown(type), Shown(id), Shown(actor), addressee?.Username ?? "the shared inbox");
                return;
        }
    }

    private async Task FollowAsync(string actor, string followId, LocalActor followed, CancellationToken cancellationToken)
    {
        var remote = await remotes.GetActorAsync(actor, cancellationToken);
        var state = options.Value.ApproveFollowers ? FollowState.Pending : FollowState.Accepted;
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var follower = await followers.AddAsync(connection, transaction, followed.Username, remote, followId, state, cancellationToken);
        if (follower.State == FollowState.Accepted) await planner.PlanAcceptAsync(connection, transaction, follower, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        // Its server is speaking to us again: a parked inbox of it is given another chance.
        if (await health.UnparkAsync(follower.DeliveryInbox, cancellationToken))
            logger.LogInformation("activitypub: a Follow from {Actor} un-parked {Inbox}", Shown(actor), follower.DeliveryInbox);
        logger.LogInformation("activitypub: {Actor} follows {Username} ({State})", Shown(actor), followed.Username, FollowerStore.Column(follower.State));
    }

    /// <summary>The id of our article a URL names: its object URL or its canonical URL.</summary>
    private async Task<string?> ArticleOfAsync(string? url, CancellationToken cancellationToken)
    {
        if (url is null) return null;
        if (actors.ArticleIdFromUrl(url) is { } id) return await articles.FindByIdAsync(id, cancellationToken) is null ? null : id;
        if (!url.StartsWith(actors.BaseUrl + "/", StringComparison.Ordinal)) return null;
        var slug = url[(actors.BaseUrl.Length + 1)..].Trim('/');
        return slug.Length == 0 ? null : (await articles.FindBySlugAsync(Uri.UnescapeDataString(slug), cancellationToken))?.Id;
    }

    /// <summary>A property that is an id: a string, or an object's "id".</summary>
    private static string? Id(JsonElement element, string? name = null)
    {
        if (name is not null)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out var value)) return null;
            element = value;
        }
        return element.ValueKind switch
        {
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Object => RemoteActors.Text(element, "id"),
            _ => null,
        };
    }

    /// <summary>The reason carries what the sender wrote (its actor, keyId, Date): control characters go, so it cannot forge log lines.</summary>
    private IResult Refuse(int status, string reason)
    {
        reason = HttpOutcomes.Shorten(reason);
        logger.LogInformation("activitypub: inbox request refused ({Status}): {Reason}", status, reason);
        return Results.Problem(title: "Refused", detail: reason, statusCode: status);
    }

    private static string Shown(string? text) => HttpOutcomes.Shorten(text ?? "");
}
