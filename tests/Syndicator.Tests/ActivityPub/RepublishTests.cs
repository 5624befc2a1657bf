using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Syndicator.ActivityPub;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.ActivityPub;

/// <summary>
/// An article unpublished and then published again reaches its followers again: as a new object (its Delete made
/// their servers drop the old id for good), with its own Create, edits and Delete; the old id stays gone.
/// </summary>
public sealed class RepublishTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    /// <summary>An inbox on loopback that keeps every activity it is sent, answering with the status the test sets.</summary>
    private sealed class RecordingInbox : IAsyncDisposable
    {
        private LoopbackServer server = null!;
        public ConcurrentQueue<(string Type, string ObjectId, string Content)> Received { get; } = new();
        public int Status = 202;
        public string Url => server.BaseUrl + "/inbox";
        public string BaseUrl => server.BaseUrl;

        public static async Task<RecordingInbox> StartAsync()
        {
            var inbox = new RecordingInbox();
            inbox.server = await LoopbackServer.StartAsync(app => app.MapPost("/inbox", async (HttpRequest request) =>
            {
                var status = Volatile.Read(ref inbox.Status);
                if (status >= 300) return Results.StatusCode(status);
                var activity = (await JsonDocument.ParseAsync(request.Body)).RootElement;
                var target = activity.GetProperty("object");
                inbox.Received.Enqueue((activity.GetProperty("type").GetString()!, target.GetProperty("id").GetString()!,
                    target.TryGetProperty("content", out var content) ? content.GetString()! : ""));
                return Results.StatusCode(status);
            }));
            return inbox;
        }

        public async ValueTask DisposeAsync() => await server.DisposeAsync();
    }

    private static async Task FollowAsync(ActivityPubWorld world, RecordingInbox inbox)
    {
        await using var connection = await world.Get<Database>().OpenAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await world.Get<FollowerStore>().AddAsync(connection, transaction, "magazine",
            new RemoteActor($"{inbox.BaseUrl}/users/مریم", inbox.Url, null), $"{inbox.BaseUrl}/follows/1", FollowState.Accepted, Ct);
        await transaction.CommitAsync(Ct);
    }

    private static async Task<HttpStatusCode> FetchAsync(ActivityPubWorld world, string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("application/activity+json");
        using var response = await world.Http.SendAsync(request, Ct);
        return response.StatusCode;
    }

    private static async Task<JsonElement> OutboxPageAsync(ActivityPubWorld world)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, world.ActorUrl("magazine") + "/outbox?page=1");
        request.Headers.Accept.ParseAdd("application/activity+json");
        using var response = await world.Http.SendAsync(request, Ct);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Published_again_after_an_unpublish_the_article_goes_out_as_a_new_object_with_its_own_edits_and_Delete(StorageProvider provider)
    {
        await using var inbox = await RecordingInbox.StartAsync();
        await using var world = await ActivityPubWorld.StartAsync(provider);
        await FollowAsync(world, inbox);
        const string Title = "شب‌های تهران 東京 🌃";
        var id = await world.ImportAsync("tehran-nights", Title, "<p>First text.</p>");
        var first = $"{world.BaseUrl}/ap/articles/{id}";
        Assert.Equal(1, (await world.DrainAsync()).Sent);

        await world.UnpublishAsync(id);
        Assert.Equal(1, (await world.DrainAsync()).Sent);
        Assert.Equal(0, (await OutboxPageAsync(world)).GetProperty("orderedItems").GetArrayLength());
        Assert.Equal(HttpStatusCode.Gone, await FetchAsync(world, first));

        // Published again, edited on the way: a Create of a new object, with the text as it is now.
        Assert.Equal("republished", await world.PublishThroughApiAsync("tehran-nights", Title, "<p>Second text.</p>"));
        Assert.Equal(1, (await world.DrainAsync()).Sent);
        var second = first + "/2";
        Assert.Equal(HttpStatusCode.OK, await FetchAsync(world, second));
        Assert.Equal(HttpStatusCode.Gone, await FetchAsync(world, first));
        Assert.Equal(HttpStatusCode.NotFound, await FetchAsync(world, first + "/3"));
        var item = Assert.Single((await OutboxPageAsync(world)).GetProperty("orderedItems").EnumerateArray());
        Assert.Equal(second, item.GetProperty("object").GetProperty("id").GetString());
        Assert.Equal(second + "/create", item.GetProperty("id").GetString());

        // Its edits are Updates of the new object; the same text again sends nothing.
        await world.PublishThroughApiAsync("tehran-nights", Title, "<p>Third text.</p>");
        await world.PublishThroughApiAsync("tehran-nights", Title, "<p>Third text.</p>");
        Assert.Equal(1, (await world.DrainAsync()).Sent);

        // Unpublished and published again once more: the Delete of the second object, then a third object.
        await world.UnpublishAsync(id);
        await world.PublishThroughApiAsync("tehran-nights", Title, "<p>Third text.</p>");
        Assert.Equal(2, (await world.DrainAsync()).Sent);
        Assert.Equal(HttpStatusCode.Gone, await FetchAsync(world, second));
        Assert.Equal(HttpStatusCode.OK, await FetchAsync(world, first + "/3"));

        Assert.Equal(
        [
            ("Create", first, "<p>First text.</p>"), ("Delete", first, ""),
            ("Create", second, "<p>Second text.</p>"), ("Update", second, "<p>Third text.</p>"), ("Delete", second, ""),
            ("Create", first + "/3", "<p>Third text.</p>"),
        ], inbox.Received.ToArray());

        // The article's page says which publication each activity belongs to.
        var page = await world.Http.GetStringAsync($"/status/articles/tehran-nights", Ct);
        Assert.Contains("Create (published again, round 2)", page);
        Assert.Contains("Delete (published again, round 2)", page);
        Assert.Contains("Create (published again, round 3)", page);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_first_Create_still_waiting_when_the_article_is_unpublished_and_published_again_never_goes_out()
    {
        await using var inbox = await RecordingInbox.StartAsync();
        await using var world = await ActivityPubWorld.StartAsync(StorageProvider.Sqlite,
            new() { ["Deliveries:RetryBaseSeconds"] = "1", ["Deliveries:RetryMaxSeconds"] = "1" });
        await FollowAsync(world, inbox);
        inbox.Status = 503;
        var id = await world.ImportAsync("ojala", "Ojalá 🌧️", "<p>First text.</p>");
        Assert.Equal(0, (await world.DrainAsync()).Sent);

        await world.UnpublishAsync(id);
        await world.PublishThroughApiAsync("ojala", "Ojalá 🌧️", "<p>First text.</p>");
        inbox.Status = 202;
        await Task.Delay(TimeSpan.FromSeconds(1.5), Ct);
        await world.DrainAsync();

        var first = $"{world.BaseUrl}/ap/articles/{id}";
        Assert.DoesNotContain(inbox.Received, r => r.Type == "Create" && r.ObjectId == first);
        Assert.Single(inbox.Received, r => r.Type == "Create" && r.ObjectId == first + "/2");
        var waiting = Assert.Single(await world.DeliveriesAsync(), d => d.Subject.Version == "create");
        Assert.Contains("published again (round 2)", waiting.LastError);
    }
}
