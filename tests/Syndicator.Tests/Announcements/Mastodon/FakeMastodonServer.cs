using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Mastodon;

/// <summary>
/// A loopback Mastodon that checks the bearer token as the real one does (401 "The access token is invalid"),
/// honours Idempotency-Key (a repeated key returns the status it created), and can inject failures.
/// </summary>
public sealed class FakeMastodonServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, string> byKey = new();
    private LoopbackServer server = null!;
    private int nextId = 100;

    public string Token { get; } = "token-" + Guid.NewGuid().ToString("N");
    public ConcurrentQueue<(string Status, string Visibility, string? Language)> Posts { get; } = new();

    /// <summary>Called with the number of the request; a non-null result is answered instead of posting.</summary>
    public Func<int, IResult?> Fail { get; set; } = _ => null;
    private int requests;

    public string BaseUrl => server.BaseUrl;

    public static async Task<FakeMastodonServer> StartAsync()
    {
        var fake = new FakeMastodonServer();
        fake.server = await LoopbackServer.StartAsync(app => app.MapPost("/api/v1/statuses", (HttpRequest r) => fake.PostAsync(r)));
        return fake;
    }

    private async Task<IResult> PostAsync(HttpRequest request)
    {
        if (request.Headers.Authorization.ToString() != "Bearer " + Token)
            return Results.Json(new { error = "The access token is invalid" }, statusCode: 401);
        if (Fail(Interlocked.Increment(ref requests)) is { } failure) return failure;

        using var body = await JsonDocument.ParseAsync(request.Body);
        var status = body.RootElement.GetProperty("status").GetString()!;
        if (string.IsNullOrWhiteSpace(status)) return Results.Json(new { error = "Validation failed: Text can't be blank" }, statusCode: 422);
        var key = request.Headers["Idempotency-Key"].ToString();
        if (key.Length > 0 && byKey.TryGetValue(key, out var existing)) return Results.Text(existing, "application/json");

        var id = Interlocked.Increment(ref nextId).ToString();
        var json = JsonSerializer.Serialize(new { id, url = $"{BaseUrl}/@magazine/{id}", content = status });
        if (key.Length > 0) byKey[key] = json;
        Posts.Enqueue((status, body.RootElement.GetProperty("visibility").GetString()!, body.RootElement.TryGetProperty("language", out var l) ? l.GetString() : null));
        return Results.Text(json, "application/json");
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
