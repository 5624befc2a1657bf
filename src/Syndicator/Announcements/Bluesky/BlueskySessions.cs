using System.Collections.Concurrent;

namespace Syndicator.Announcements.Bluesky;

/// <summary>A logged-in session on a PDS (<c>com.atproto.server.createSession</c>'s answer). Never logged.</summary>
public sealed record BlueskySession(string AccessJwt, string RefreshJwt, string Did, string? Handle);

/// <summary>
/// Sessions kept in memory per PDS and identifier, so an account logs in once and then refreshes its tokens instead
/// of calling <c>createSession</c> for every post (bsky.social allows only 30 logins in 5 minutes and 300 a day).
/// One shared instance serves every <see cref="BlueskyClient"/> unless another is registered or passed in.
/// </summary>
public sealed class BlueskySessions
{
    private readonly ConcurrentDictionary<(string BaseUrl, string Identifier), BlueskySession> sessions = new();

    internal static BlueskySessions Shared { get; } = new();

    public BlueskySession? Get(string baseUrl, string identifier) =>
        sessions.TryGetValue((Normalize(baseUrl), identifier), out var session) ? session : null;

    public void Set(string baseUrl, string identifier, BlueskySession session) =>
        sessions[(Normalize(baseUrl), identifier)] = session;

    public void Remove(string baseUrl, string identifier) => sessions.TryRemove((Normalize(baseUrl), identifier), out _);

    private static string Normalize(string baseUrl) => baseUrl.TrimEnd('/').ToLowerInvariant();
}
