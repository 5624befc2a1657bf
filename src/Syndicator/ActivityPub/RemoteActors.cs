using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Syndicator.Shared;

namespace Syndicator.ActivityPub;

/// <summary>A remote account as its document describes it: where to deliver to it.</summary>
public sealed record RemoteActor(string Id, string Inbox, string? SharedInbox);

/// <summary>A remote actor's public key: its id, the actor that owns it, the PEM.</summary>
public sealed record RemoteKey(string KeyId, string Owner, string PublicKeyPem);

/// <summary>A remote document could not be had or read; the message says which URL and why.</summary>
public sealed class RemoteFetchException(string message) : Exception(message);

/// <summary>
/// Fetches remote actors and keys (signed as our publication, for servers in Mastodon's secure mode) and caches them
/// for ActivityPub:KeyCacheMinutes. The connections go through <see cref="ConnectGuard"/>, so a keyId or actor URL
/// pointing into the local network reaches nothing unless the configuration allows it.
/// </summary>
public sealed class RemoteActors(IHttpClientFactory factory, IOptions<ActivityPubOptions> options, ActorKeys keys, LocalActors actors, TimeProvider time)
{
    public const string HttpClientName = "activitypub";

    /// <summary>An actor document is a few KiB; one larger than this is not read.</summary>
    public const int MaxDocumentBytes = 1024 * 1024;

    private readonly ConcurrentDictionary<string, (DateTimeOffset At, JsonElement Document)> cache = new(StringComparer.Ordinal);

    public async Task<RemoteKey> GetKeyAsync(string keyId, bool refresh, CancellationToken cancellationToken)
    {
        var document = await GetAsync(keyId, refresh, cancellationToken);
        if (document.TryGetProperty("publicKey", out var publicKey))
        {
            var candidates = publicKey.ValueKind == JsonValueKind.Array ? publicKey.EnumerateArray().ToList() : [publicKey];
            var key = candidates.FirstOrDefault(k => Text(k, "id") == keyId);
            if (key.ValueKind != JsonValueKind.Object && candidates.Count == 1) key = candidates[0];
            if (key.ValueKind == JsonValueKind.Object && Text(key, "publicKeyPem") is { } pem)
                return new RemoteKey(keyId, Text(key, "owner") ?? Text(document, "id") ?? keyId, pem);
        }
        if (Text(document, "publicKeyPem") is { } ownPem && Text(document, "owner") is { } owner)
            return new RemoteKey(keyId, owner, ownPem);
        throw new RemoteFetchException($"activitypub: {keyId} holds no publicKey with that id");
    }

    public async Task<RemoteActor> GetActorAsync(string actorId, CancellationToken cancellationToken)
    {
        var document = await GetAsync(actorId, false, cancellationToken);
        var inbox = Text(document, "inbox") ?? throw new RemoteFetchException($"activitypub: the actor {actorId} names no inbox");
        string? shared = null;
        if (document.TryGetProperty("endpoints", out var endpoints) && endpoints.ValueKind == JsonValueKind.Object) shared = Text(endpoints, "sharedInbox");
        return new RemoteActor(Text(document, "id") ?? actorId, inbox, shared);
    }

    /// <summary>Drops what is cached for a URL (an actor that deleted itself).</summary>
    public void Forget(string url) => cache.TryRemove(WithoutFragment(url), out _);

    private async Task<JsonElement> GetAsync(string url, bool refresh, CancellationToken cancellationToken)
    {
        var key = WithoutFragment(url);
        var now = time.GetUtcNow();
        if (!refresh && cache.TryGetValue(key, out var hit) && now - hit.At < TimeSpan.FromMinutes(options.Value.KeyCacheMinutes))
            return hit.Document;
        if (!Uri.TryCreate(key, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            throw new RemoteFetchException($"activitypub: \"{Shown(url)}\" is not an http(s) URL");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/activity+json"));
        var publication = actors.Publication;
        using (var rsa = (await keys.GetAsync(publication, cancellationToken)).PrivateKey())
            HttpSignatures.Sign(request, null, actors.KeyId(publication), rsa, now);
        try
        {
            using var response = await factory.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
                throw new RemoteFetchException($"activitypub: GET {key} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            if (response.Content.Headers.ContentLength > MaxDocumentBytes)
                throw new RemoteFetchException($"activitypub: {key} is larger than {MaxDocumentBytes} bytes");
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var bytes = await BoundedBody.ReadAsync(stream, MaxDocumentBytes, cancellationToken)
                ?? throw new RemoteFetchException($"activitypub: {key} is larger than {MaxDocumentBytes} bytes");
            using var parsed = JsonDocument.Parse(bytes);
            if (parsed.RootElement.ValueKind != JsonValueKind.Object) throw new RemoteFetchException($"activitypub: {key} is not a JSON object");
            var document = parsed.RootElement.Clone();
            cache[key] = (now, document);
            return document;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or IOException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new RemoteFetchException($"activitypub: GET {key} failed: {Syndicator.Deliveries.HttpOutcomes.Shorten(e.Message)}");
        }
    }

    internal static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string WithoutFragment(string url) => url.Split('#', 2)[0];

    private static string Shown(string text) => Syndicator.Deliveries.HttpOutcomes.Shorten(text);
}

/// <summary>
/// Opens the connections of the ActivityPub HTTP client: resolves the host itself and refuses loopback, private,
/// link-local, carrier-grade NAT and multicast addresses (a DNS name that resolves to one as well), unless
/// ActivityPub:AllowPrivateAddresses or Site:AllowLocalUrls is set. Checking the address actually connected to, not
/// the URL, is what keeps DNS rebinding and redirects out.
/// </summary>
public sealed class ConnectGuard(IOptions<ActivityPubOptions> options, IOptions<SiteOptions> site)
{
    public bool AllowsPrivate => options.Value.AllowPrivateAddresses || site.Value.AllowLocalUrls;

    public SocketsHttpHandler Handler() => PublicAddresses.Handler(AllowsPrivate, 3, (host, addresses) =>
        $"{host} resolves to no public address ({string.Join(", ", addresses)}); connections to loopback and private networks are refused unless ActivityPub:AllowPrivateAddresses is true");
}

/// <summary>Reads a body up to a limit without buffering more than the limit.</summary>
public static class BoundedBody
{
    /// <summary>The bytes, or null when there are more than <paramref name="limit"/>.</summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
