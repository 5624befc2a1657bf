using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Syndicator.ActivityPub;
using Syndicator.Deliveries;
using Syndicator.Shared;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.ActivityPub;

/// <summary>Our ActivityPub endpoints over real HTTP, the inbox's refusals that need no remote server, and delivery outcomes.</summary>
public sealed class ActivityPubServerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static HttpRequestMessage Get(string url, string accept)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("Accept", accept);
        return request;
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task WebFinger_NodeInfo_the_actor_and_the_paged_outbox_answer_as_Mastodon_asks_and_a_browser_is_sent_to_the_site()
    {
        await using var world = await ActivityPubWorld.StartAsync();
        for (var i = 0; i < 23; i++) await world.ImportAsync($"piece-{i}", $"Piece {i}", "<p>Text.</p>", i % 2 == 0 ? "Jane Doe" : "Sam Roe", "cities");

        var finger = await world.Http.GetAsync($"/.well-known/webfinger?resource=acct:magazine@{world.Domain}", Ct);
        Assert.Equal("application/jrd+json", finger.Content.Headers.ContentType!.MediaType);
        var jrd = JsonDocument.Parse(await finger.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal($"acct:magazine@{world.Domain}", jrd.GetProperty("subject").GetString());
        Assert.Contains(jrd.GetProperty("links").EnumerateArray(), l => l.GetProperty("rel").GetString() == "self" && l.GetProperty("href").GetString() == world.ActorUrl("magazine"));
        // Another domain, an unknown user, and a resource that is no handle.
        Assert.Equal(HttpStatusCode.NotFound, (await world.Http.GetAsync("/.well-known/webfinger?resource=acct:magazine@other.example", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await world.Http.GetAsync($"/.well-known/webfinger?resource=acct:nobody@{world.Domain}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await world.Http.GetAsync("/.well-known/webfinger?resource=acct:%0d%0a", Ct)).StatusCode);

        var nodeinfo = JsonDocument.Parse(await world.Http.GetStringAsync("/.well-known/nodeinfo", Ct)).RootElement;
        var href = nodeinfo.GetProperty("links")[0].GetProperty("href").GetString()!;
        var info = JsonDocument.Parse(await world.Http.GetStringAsync(href, Ct)).RootElement;
        Assert.Equal("activitypub", info.GetProperty("protocols")[0].GetString());
        Assert.Equal(23, info.GetProperty("usage").GetProperty("localPosts").GetInt32());

        foreach (var accept in new[] { "application/activity+json", "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"" })
        {
            var response = await world.Http.SendAsync(Get(world.ActorUrl("magazine"), accept), Ct);
            Assert.Equal("application/activity+json", response.Content.Headers.ContentType!.MediaType);
            var actor = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;
            Assert.Equal(world.ActorUrl("magazine"), actor.GetProperty("id").GetString());
            Assert.Equal("magazine", actor.GetProperty("preferredUsername").GetString());
            Assert.Contains("مقاله‌های بلند 🏙️", actor.GetProperty("summary").GetString());
            Assert.StartsWith("-----BEGIN PUBLIC KEY-----", actor.GetProperty("publicKey").GetProperty("publicKeyPem").GetString());
            Assert.Equal(world.SharedInbox, actor.GetProperty("endpoints").GetProperty("sharedInbox").GetString());
        }
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(world.BaseUrl) };
        var page = await browser.SendAsync(Get(world.ActorUrl("magazine"), "text/html"), Ct);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);

        // 23 articles: the publication's outbox has two pages of 20 and 3; Jane's only her 12.
        var outbox = JsonDocument.Parse(await (await world.Http.SendAsync(Get(world.ActorUrl("magazine") + "/outbox", "application/activity+json"), Ct)).Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(23, outbox.GetProperty("totalItems").GetInt32());
        var firstPage = JsonDocument.Parse(await (await world.Http.SendAsync(Get(outbox.GetProperty("first").GetString()!, "application/activity+json"), Ct)).Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(20, firstPage.GetProperty("orderedItems").GetArrayLength());
        Assert.All(firstPage.GetProperty("orderedItems").EnumerateArray(), item => Assert.Equal("Article", item.GetProperty("object").GetProperty("type").GetString()));
        var secondPage = JsonDocument.Parse(await (await world.Http.SendAsync(Get(firstPage.GetProperty("next").GetString()!, "application/activity+json"), Ct)).Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(3, secondPage.GetProperty("orderedItems").GetArrayLength());
        Assert.False(secondPage.TryGetProperty("next", out _));
        var jane = JsonDocument.Parse(await (await world.Http.SendAsync(Get(world.ActorUrl("jane") + "/outbox", "application/activity+json"), Ct)).Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(12, jane.GetProperty("totalItems").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await world.Http.SendAsync(Get(world.BaseUrl + "/ap/actors/..%2F..%2Fetc", "application/activity+json"), Ct)).StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_inbox_refuses_unsigned_badly_covered_RFC9421_and_oversized_requests_and_limits_each_address()
    {
        await using var world = await ActivityPubWorld.StartAsync(extra: new() { ["ActivityPub:MaxBodyBytes"] = "4096", ["ActivityPub:InboxPermitsPerMinute"] = "5" });
        StringContent Body(int size) => new(JsonSerializer.Serialize(new { type = "Follow", actor = "https://a.example/u", padding = new string('x', size) }), Encoding.UTF8, "application/activity+json");

        var unsigned = await world.Http.PostAsync("/ap/inbox", Body(10), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Contains("no Signature header", await unsigned.Content.ReadAsStringAsync(Ct));

        using var rfc9421 = new HttpRequestMessage(HttpMethod.Post, "/ap/actors/magazine/inbox") { Content = Body(10) };
        rfc9421.Headers.TryAddWithoutValidation("Signature-Input", "sig1=(\"@method\" \"@target-uri\");keyid=\"https://a.example/u#k\"");
        rfc9421.Headers.TryAddWithoutValidation("Signature", "sig1=:AAAA:");
        var nine = await world.Http.SendAsync(rfc9421, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, nine.StatusCode);
        // It covers neither content-digest nor has a created: the first is what is said.
        Assert.Contains("content-digest", await nine.Content.ReadAsStringAsync(Ct));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await world.Http.PostAsync("/ap/inbox", Body(5000), Ct)).StatusCode);
        // Without a Content-Length (chunked), the body is cut off at the limit all the same.
        var chunked = Body(5000);
        chunked.Headers.ContentLength = null;
        using var streamed = new HttpRequestMessage(HttpMethod.Post, "/ap/inbox") { Content = new StreamContent(await chunked.ReadAsStreamAsync(Ct)) };
        streamed.Headers.TransferEncodingChunked = true;
        streamed.Content.Headers.ContentType = new MediaTypeHeaderValue("application/activity+json");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await world.Http.SendAsync(streamed, Ct)).StatusCode);

        // Four of the five permits a minute per address were used above: the fifth request is read, the sixth refused unread.
        Assert.Equal(HttpStatusCode.Unauthorized, (await world.Http.PostAsync("/ap/inbox", Body(10), Ct)).StatusCode);
        var limited = await world.Http.PostAsync("/ap/inbox", Body(10), Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_keyId_on_a_private_or_loopback_address_is_never_fetched_unless_allowed()
    {
        await using var remote = await LoopbackServer.StartAsync(app => app.MapGet("/actor", () => Results.Text("{}", "application/activity+json")));
        await using var world = await ActivityPubWorld.StartAsync();
        var guardOff = new ConnectGuard(Options.Create(new ActivityPubOptions()), Options.Create(new SiteOptions { AllowLocalUrls = false }));
        Assert.False(guardOff.AllowsPrivate);
        using var client = new HttpClient(guardOff.Handler());
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(remote.BaseUrl + "/actor", Ct));
        Assert.Contains("no public address", refused.Message);
        // "localhost" resolves to loopback too, and a redirect is opened through the same guard.
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("http://localhost:9/actor", Ct));

        foreach (var address in new[] { "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "127.0.0.1", "::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "0.0.0.0" })
            Assert.False(Syndicator.Shared.PublicAddresses.IsPublic(IPAddress.Parse(address)), address);
        foreach (var address in new[] { "93.184.216.34", "2606:4700::1111", "172.32.0.1" })
            Assert.True(Syndicator.Shared.PublicAddresses.IsPublic(IPAddress.Parse(address)), address);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Every_node_signs_with_the_one_key_the_first_node_made(StorageProvider provider)
    {
        await using var app = await TestApp.CreateAsync(provider, new() { ["ActivityPub:Enabled"] = "true", ["ActivityPub:Username"] = "magazine" });
        var actor = app.Get<LocalActors>().Publication;
        // Four "nodes" (their own key caches) asking at once over one database.
        var nodes = Enumerable.Range(0, 4).Select(_ => new ActorKeys(app.Get<Database>(), TimeProvider.System)).ToList();
        var keys = await Task.WhenAll(nodes.Select(n => n.GetAsync(actor, Ct)));
        Assert.Single(keys.Select(k => k.PublicPem).Distinct());
        Assert.Equal(keys[0].PrivatePem, (await new ActorKeys(app.Get<Database>(), TimeProvider.System).GetAsync(actor, Ct)).PrivatePem);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task An_inbox_that_answers_410_Gone_loses_its_followers_and_one_that_answers_429_is_paused(StorageProvider provider)
    {
        var seen = new List<string>();
        await using var remote = await LoopbackServer.StartAsync(app =>
        {
            app.MapPost("/gone/inbox", (HttpContext c) => { lock (seen) seen.Add(c.Request.Headers["Signature"].ToString()); return Results.StatusCode(410); });
            app.MapPost("/busy/inbox", () => Results.StatusCode(429));
        });
        await using var world = await ActivityPubWorld.StartAsync(provider);
        var followers = world.Get<FollowerStore>();
        var database = world.Get<Database>();
        await using (var connection = await database.OpenAsync(Ct))
        await using (var transaction = await connection.BeginTransactionAsync(Ct))
        {
            foreach (var (who, box) in new[] { ("a", "gone"), ("b", "gone"), ("c", "busy") })
                await followers.AddAsync(connection, transaction, "magazine", new RemoteActor($"{remote.BaseUrl}/{box}/users/{who}", $"{remote.BaseUrl}/{box}/users/{who}/inbox", $"{remote.BaseUrl}/{box}/inbox"),
                    $"{remote.BaseUrl}/follows/{who}", FollowState.Accepted, Ct);
            await transaction.CommitAsync(Ct);
        }
        await world.ImportAsync("news", "News", "<p>Text.</p>");
        var planned = await world.DeliveriesAsync();
        Assert.Equal([$"{remote.BaseUrl}/busy/inbox", $"{remote.BaseUrl}/gone/inbox"], planned.Select(d => d.Recipient.Id).Order());

        var report = await world.DrainAsync();
        Assert.Equal(1, report.Failed);
        var gone = Assert.Single(await world.DeliveriesAsync(), d => d.Recipient.Id.EndsWith("/gone/inbox", StringComparison.Ordinal));
        Assert.Equal(DeliveryState.Failed, gone.State);
        Assert.Contains("410", gone.LastError);
        Assert.StartsWith("keyId=\"" + world.ActorUrl("magazine") + "#main-key\"", Assert.Single(seen));
        Assert.Equal([$"{remote.BaseUrl}/busy/users/c"], (await followers.ListAsync("magazine", Ct)).Select(f => f.Remote));
        Assert.NotNull(await world.Get<DeliveryStore>().PausedUntilAsync(ActivityPubPlanner.Channel, $"{remote.BaseUrl}/busy/inbox", Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Followers_on_one_host_without_a_shared_inbox_get_one_request_at_a_time_and_every_Create()
    {
        var inFlight = 0;
        var most = 0;
        var got = new System.Collections.Concurrent.ConcurrentBag<string>();
        await using var remote = await LoopbackServer.StartAsync(app => app.MapPost("/users/{name}/inbox", async (string name) =>
        {
            var now = Interlocked.Increment(ref inFlight);
            int seen;
            while ((seen = Volatile.Read(ref most)) < now && Interlocked.CompareExchange(ref most, now, seen) != seen) { }
            // Longer than the pace between two requests (50 a second here), so other lanes would start theirs, were they let through.
            await Task.Delay(500, CancellationToken.None);
            got.Add(name);
            Interlocked.Decrement(ref inFlight);
            return Results.StatusCode(202);
        }));
        await using var world = await ActivityPubWorld.StartAsync(extra: new() { ["ActivityPub:DeliveriesPerSecond"] = "50" });
        var names = new[] { "علی", "小明", "zoë", "bob", "eve", "ann" };
        await using (var connection = await world.Get<Database>().OpenAsync(Ct))
        await using (var transaction = await connection.BeginTransactionAsync(Ct))
        {
            foreach (var name in names)
                await world.Get<FollowerStore>().AddAsync(connection, transaction, "magazine",
                    new RemoteActor($"{remote.BaseUrl}/users/{Uri.EscapeDataString(name)}", $"{remote.BaseUrl}/users/{Uri.EscapeDataString(name)}/inbox", null),
                    $"{remote.BaseUrl}/follows/{Uri.EscapeDataString(name)}", FollowState.Accepted, Ct);
            await transaction.CommitAsync(Ct);
        }
        await world.ImportAsync("one-host", "One host", "<p>Text.</p>");
        var report = await world.DrainAsync();
        Assert.Equal(names.Length, report.Sent);
        Assert.Equal(names.Order(), got.Order());
        Assert.Equal(1, most);
    }
}
