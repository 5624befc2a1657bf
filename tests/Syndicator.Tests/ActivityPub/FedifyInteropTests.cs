using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Syndicator.ActivityPub;
using Syndicator.Deliveries;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.ActivityPub;

/// <summary>
/// Syndicator against Fedify, an ActivityPub implementation that is not ours: Fedify finds our actor through WebFinger,
/// follows it, and its inbox (which verifies every HTTP signature with Fedify's own code and drops what fails)
/// receives our Accept, Create, Update, Delete and, once the article is published again, the new object's Create; requests Fedify signs reach our inbox, and altered ones are refused.
/// </summary>
public sealed class FedifyInteropTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Fedify_follows_through_WebFinger_and_verifies_our_Accepts_one_Create_per_shared_inbox_and_the_Update_of_an_edit()
    {
        await using var fedify = await FedifyServer.StartAsync(Ct);
        await using var world = await ActivityPubWorld.StartAsync();

        var first = await fedify.FollowAsync("reader1", $"acct:magazine@{world.Domain}", Ct);
        Assert.Equal(world.ActorUrl("magazine"), first.Actor);
        Assert.Equal("Organization", first.Type);
        await fedify.FollowAsync("reader2", $"acct:magazine@{world.Domain}", Ct);

        var followers = await world.Get<FollowerStore>().ListAsync("magazine", Ct);
        Assert.Equal([fedify.ActorUrl("reader1"), fedify.ActorUrl("reader2")], followers.Select(f => f.Remote).Order());
        Assert.All(followers, f => Assert.Equal(FollowState.Accepted, f.State));
        Assert.All(followers, f => Assert.Equal(fedify.SharedInbox, f.SharedInbox));

        var accepts = await world.DrainAsync();
        Assert.Equal(2, accepts.Sent);
        var received = await fedify.ReceivedAsync(Ct);
        Assert.Equal(["reader1", "reader2"], received.Where(r => r.Type == "Accept").Select(r => r.Inbox).Order());
        Assert.All(received, r => Assert.Equal(world.ActorUrl("magazine"), r.Actor));

        // Persian, CJK and an emoji in the title; two followers on one server: one Create, to its shared inbox.
        var id = await world.ImportAsync("tehran-nights", "شب‌های تهران 東京 🌃", "<p>First text.</p>", "Jane Doe", "cities", "night life");
        var created = await world.DrainAsync();
        Assert.Equal(1, created.Sent);
        received = await fedify.ReceivedAsync(Ct);
        var create = Assert.Single(received, r => r.Type == "Create");
        Assert.Equal("shared", create.Inbox);
        Assert.Equal("Article", create.ObjectType);
        Assert.Equal("شب‌های تهران 東京 🌃", create.ObjectName);
        Assert.Equal($"{world.BaseUrl}/ap/articles/{id}", create.ObjectId);
        var json = create.Json.GetProperty("object");
        Assert.Equal($"{world.BaseUrl}/tehran-nights", json.GetProperty("url").GetString());
        Assert.Contains("#nightlife", json.GetProperty("tag").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
        Assert.Contains(world.ActorUrl("jane"), json.GetProperty("attributedTo").EnumerateArray().Select(a => a.GetString()));

        // The same file again changes nothing; an edit is one Update, never a second Create.
        await world.ImportAsync("tehran-nights", "شب‌های تهران 東京 🌃", "<p>First text.</p>", "Jane Doe", "cities", "night life");
        Assert.Equal(0, (await world.DrainAsync()).Attempted);
        await world.ImportAsync("tehran-nights", "شب‌های تهران 東京 🌃", "<p>Corrected text.</p>", "Jane Doe", "cities", "night life");
        Assert.Equal(1, (await world.DrainAsync()).Sent);
        received = await fedify.ReceivedAsync(Ct);
        Assert.Single(received, r => r.Type == "Create");
        var update = Assert.Single(received, r => r.Type == "Update");
        Assert.Equal($"{world.BaseUrl}/ap/articles/{id}", update.ObjectId);
        Assert.Contains("Corrected text.", update.Json.GetProperty("object").GetProperty("content").GetString());

        // Unpublished (the API's DELETE): one Delete with a Tombstone, signed and verified by Fedify; the object is gone.
        var stored = (await world.Get<Syndicator.Articles.ArticleStore>().FindByIdAsync(id, Ct))!;
        await world.Get<Syndicator.Articles.Intake.ArticleIntake>().UnpublishAsync(stored, Syndicator.Articles.Intake.IntakeActor.ApiKey("cms"), Ct);
        Assert.Equal(1, (await world.DrainAsync()).Sent);
        received = await fedify.ReceivedAsync(Ct);
        var delete = Assert.Single(received, r => r.Type == "Delete");
        Assert.Equal($"{world.BaseUrl}/ap/articles/{id}", delete.ObjectId);
        Assert.Equal("Tombstone", delete.ObjectType);
        Assert.Single(received, r => r.Type == "Create");

        // Published again: Fedify, which now holds a Tombstone for the first id, receives a Create of a new object.
        Assert.Equal("republished", await world.PublishThroughApiAsync("tehran-nights", "شب‌های تهران 東京 🌃", "<p>Corrected text.</p>", "Jane Doe", "cities", "night life"));
        Assert.Equal(1, (await world.DrainAsync()).Sent);
        received = await fedify.ReceivedAsync(Ct);
        Assert.Equal([$"{world.BaseUrl}/ap/articles/{id}", $"{world.BaseUrl}/ap/articles/{id}/2"], received.Where(r => r.Type == "Create").Select(r => r.ObjectId));

        // Undo: reader1 stops following; its server still has reader2, so the next article still goes there once.
        await fedify.UnfollowAsync("reader1", world.ActorUrl("magazine"), first.FollowId!, Ct);
        Assert.Equal([fedify.ActorUrl("reader2")], (await world.Get<FollowerStore>().ListAsync("magazine", Ct)).Select(f => f.Remote));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("draft-cavage")]
    [InlineData("rfc9421")]
    public async Task Our_inbox_accepts_a_Like_Fedify_signed_and_refuses_it_replayed_altered_forged_stale_or_impersonating(string spec)
    {
        await using var fedify = await FedifyServer.StartAsync(Ct);
        await using var world = await ActivityPubWorld.StartAsync();
        var id = await world.ImportAsync("liked", "Liked", "<p>Text.</p>");
        var objectUrl = $"{world.BaseUrl}/ap/articles/{id}";
        JsonObject Like(string n) => new() { ["@context"] = "https://www.w3.org/ns/activitystreams", ["id"] = $"{fedify.Url}/likes/{n}", ["type"] = "Like", ["object"] = objectUrl };

        var accepted = await fedify.SendAsync("reader1", world.SharedInbox, Like("1"), "none", Ct, spec);
        Assert.True(accepted.Status == (int)HttpStatusCode.Accepted, $"{spec}: {accepted.Status} {accepted.Body}");
        Assert.Equal(spec, accepted.SignedWith);
        Assert.Equal(1, (await world.Get<FollowerStore>().CountInteractionsAsync(id, Ct)).Likes);

        var refused = new Dictionary<string, int>();
        foreach (var alter in new[] { "body", "digest", "forged", "date", "impersonate", "replay" })
            refused[alter] = (await fedify.SendAsync("reader1", world.SharedInbox, Like("x-" + alter), alter, Ct, spec)).Status;
        Assert.Equal(401, refused["body"]);        // the Digest (Content-Digest) no longer matches
        Assert.Equal(401, refused["digest"]);      // the digest was replaced: the signature no longer matches
        Assert.Equal(401, refused["forged"]);      // signed by another key than the keyId's
        Assert.Equal(401, refused["date"]);        // three hours old (Date, or RFC 9421's created)
        Assert.Equal(401, refused["impersonate"]); // reader1's key, reader2's name
        Assert.Equal(409, refused["replay"]);      // the same signed request a second time
        // Only the first Like and the first copy of the replayed one counted.
        Assert.Equal(2, (await world.Get<FollowerStore>().CountInteractionsAsync(id, Ct)).Likes);
    }
}
