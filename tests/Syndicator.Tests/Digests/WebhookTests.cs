using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Digests.Feedback;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>The relays' webhooks over real HTTP: correctly signed, wrongly signed, replayed and malformed requests.</summary>
public sealed class WebhookTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Stands in for Amazon: serves our own certificate for any URL the product accepted, and notes what it was asked.</summary>
    private sealed class FakeSns(X509Certificate2 certificate) : ISnsEndpoints
    {
        public List<Uri> Fetched { get; } = [];
        public List<Uri> Confirmed { get; } = [];

        public Task<X509Certificate2> CertificateAsync(Uri url, CancellationToken cancellationToken)
        {
            lock (Fetched) Fetched.Add(url);
            return Task.FromResult(certificate);
        }

        public Task ConfirmSubscriptionAsync(Uri url, CancellationToken cancellationToken)
        {
            lock (Confirmed) Confirmed.Add(url);
            return Task.CompletedTask;
        }
    }

    private sealed record World(DigestWorld Digests, HttpClient Http, Dictionary<string, Delivery> Deliveries, RSA Key, FakeSns Sns) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            Key.Dispose();
            await Digests.DisposeAsync();
        }

        public async Task<SubscriberState> StateAsync(string email) => (await Digests.App.Get<SubscriberStore>().FindAsync(email, Ct))!.State;

        public async Task<int> FeedbackCountAsync() => (await Digests.App.Get<FeedbackRecorder>().ListAsync(1000, Ct)).Count;
    }

    private static async Task<World> StartAsync(params string[] readers)
    {
        var key = RSA.Create(2048);
        var certificate = new CertificateRequest("CN=sns.amazonaws.com", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var sns = new FakeSns(certificate);
        var mailgunVariable = "SYN_TEST_MAILGUN_" + Guid.NewGuid().ToString("N");
        var postmarkVariable = "SYN_TEST_POSTMARK_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(mailgunVariable, MailgunKey);
        Environment.SetEnvironmentVariable(postmarkVariable, "pm-secret-🔑");
        var settings = new Dictionary<string, string?>
        {
            ["Http:Urls"] = "http://127.0.0.1:0",
            ["Jobs:DropFolderImport:Enabled"] = "false",
            ["Jobs:FeedBuild:Enabled"] = "false",
            ["Jobs:WebSubPing:Enabled"] = "false",
            ["Jobs:Announcements:Enabled"] = "false",
            ["Jobs:DailyDigest:Enabled"] = "false",
            ["Jobs:WeeklyDigest:Enabled"] = "false",
            ["Jobs:EmailSend:Enabled"] = "false",
            ["Digests:Feedback:ReturnPath"] = "bounces@magazine.example",
            ["Digests:Feedback:Webhooks:Ses:Enabled"] = "true",
            ["Digests:Feedback:Webhooks:Ses:TopicArns:0"] = Topic,
            ["Digests:Feedback:Webhooks:Mailgun:SigningKey"] = "env:" + mailgunVariable,
            ["Digests:Feedback:Webhooks:Postmark:UserName"] = "postmark",
            ["Digests:Feedback:Webhooks:Postmark:Password"] = "env:" + postmarkVariable,
        };
        var world = await DigestWorld.CreateAsync(settings: settings, services: s => s.AddSingleton<ISnsEndpoints>(sns));
        foreach (var reader in readers) await world.SubscribeAsync(reader);
        await world.ImportAsync("Headline", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));
        var subscribers = (await world.App.Get<SubscriberStore>().ListAsync(Ct)).ToDictionary(s => s.Id, s => s.Email);
        var deliveries = (await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Sent, EmailChannel.ChannelName, null, 100, Ct))
            .ToDictionary(d => subscribers[d.Recipient.Id]);
        await world.App.App.StartAsync(Ct);
        var address = world.App.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new World(world, new HttpClient { BaseAddress = new Uri(address) }, deliveries, key, sns);
    }

    private const string Topic = "arn:aws:sns:eu-west-1:123456789012:ses-feedback";
    private const string MailgunKey = "key-0123456789abcdef-مفتاح";
    private const string CertificateUrl = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";

    // ------------------------------------------------------------------ SES through SNS

    private static JsonObject SnsEnvelope(World world, string type, JsonObject? ses, string version, string? certificateUrl = null, DateTimeOffset? at = null, string? messageId = null)
    {
        var message = new JsonObject
        {
            ["Type"] = type,
            ["MessageId"] = messageId ?? Guid.NewGuid().ToString(),
            ["TopicArn"] = Topic,
            ["Message"] = ses?.ToJsonString() ?? "You have chosen to subscribe to the topic.",
            ["Timestamp"] = (at ?? world.Digests.Time.GetUtcNow()).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'"),
            ["SignatureVersion"] = version,
            ["SigningCertURL"] = certificateUrl ?? CertificateUrl,
        };
        if (type == "SubscriptionConfirmation")
        {
            message["Token"] = "2336412f37fb687f5d51e6e2425f004aed";
            message["SubscribeURL"] = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + Uri.EscapeDataString(Topic) + "&Token=2336412f";
        }
        else message["Subject"] = "Amazon SES Email Event Notification — ✉";
        var signed = SnsSignature.StringToSign(JsonDocument.Parse(message.ToJsonString()).RootElement)!;
        message["Signature"] = Convert.ToBase64String(world.Key.SignData(Encoding.UTF8.GetBytes(signed), version == "1" ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        return message;
    }

    private static JsonObject SesBounce(Delivery delivery, string email, string type = "Permanent", string status = "5.1.1") => new()
    {
        ["notificationType"] = "Bounce",
        ["bounce"] = new JsonObject
        {
            ["bounceType"] = type,
            ["bounceSubType"] = "General",
            ["bouncedRecipients"] = new JsonArray(new JsonObject { ["emailAddress"] = email, ["action"] = "failed", ["status"] = status, ["diagnosticCode"] = "smtp; 550 5.1.1 user unknown" }),
            ["feedbackId"] = "0100017c-" + Guid.NewGuid().ToString("N"),
        },
        ["mail"] = new JsonObject
        {
            ["source"] = $"bounces+{delivery.Key}@magazine.example",
            ["messageId"] = "0100017c-ses-own-id",
            ["commonHeaders"] = new JsonObject { ["messageId"] = $"<syndicator-{delivery.Key}@magazine.example>" },
        },
    };

    private static Task<HttpResponseMessage> PostSnsAsync(World world, JsonObject message) =>
        world.Http.PostAsync("/webhooks/ses", new StringContent(message.ToJsonString(), Encoding.UTF8, "text/plain"), Ct);

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("1")]
    [InlineData("2")]
    public async Task Ses_notifications_signed_by_sns_are_recorded_once_and_forged_stale_or_foreign_ones_are_refused(string version)
    {
        await using var world = await StartAsync("hard@example.com", "complains@example.com", "soft@example.com");

        var bounce = SnsEnvelope(world, "Notification", SesBounce(world.Deliveries["hard@example.com"], "hard@example.com"), version);
        var response = await PostSnsAsync(world, bounce);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(SubscriberState.Bounced, await world.StateAsync("hard@example.com"));
        Assert.Equal(CertificateUrl, Assert.Single(world.Sns.Fetched).ToString());

        // Replayed within the window: the same event, not counted again.
        Assert.Equal(HttpStatusCode.OK, (await PostSnsAsync(world, bounce)).StatusCode);
        Assert.Equal(1, await world.FeedbackCountAsync());

        var complaint = new JsonObject
        {
            ["notificationType"] = "Complaint",
            ["complaint"] = new JsonObject { ["complainedRecipients"] = new JsonArray(new JsonObject { ["emailAddress"] = "complains@example.com" }), ["complaintFeedbackType"] = "abuse", ["feedbackId"] = "c-1" },
            ["mail"] = new JsonObject { ["source"] = $"bounces+{world.Deliveries["complains@example.com"].Key}@magazine.example" },
        };
        Assert.Equal(HttpStatusCode.OK, (await PostSnsAsync(world, SnsEnvelope(world, "Notification", complaint, version))).StatusCode);
        Assert.Equal(SubscriberState.Complained, await world.StateAsync("complains@example.com"));

        // Wrongly signed: a field changed after signing.
        var forged = SnsEnvelope(world, "Notification", SesBounce(world.Deliveries["soft@example.com"], "soft@example.com"), version);
        forged["TopicArn"] = Topic.Replace("123456789012", "999999999999");
        await AssertProblemAsync(await PostSnsAsync(world, forged), HttpStatusCode.Forbidden, "signature");
        // A certificate from a host that is not SNS is never fetched.
        var fetched = world.Sns.Fetched.Count;
        foreach (var url in new[] { "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem", "http://sns.eu-west-1.amazonaws.com/cert.pem", "https://evil.example/sns.eu-west-1.amazonaws.com.pem", "https://sns.eu-west-1.amazonaws.com:8443/c.pem" })
            await AssertProblemAsync(await PostSnsAsync(world, SnsEnvelope(world, "Notification", SesBounce(world.Deliveries["soft@example.com"], "soft@example.com"), version, url)), HttpStatusCode.Forbidden, "SigningCertURL");
        Assert.Equal(fetched, world.Sns.Fetched.Count);
        // Signed long ago: refused as a possible replay.
        var stale = SnsEnvelope(world, "Notification", SesBounce(world.Deliveries["soft@example.com"], "soft@example.com"), version, at: world.Digests.Time.GetUtcNow().AddHours(-2));
        await AssertProblemAsync(await PostSnsAsync(world, stale), HttpStatusCode.Forbidden, "replay");
        // Malformed.
        await AssertProblemAsync(await world.Http.PostAsync("/webhooks/ses", new StringContent("{\"Type\": \"Notification\"", Encoding.UTF8, "text/plain"), Ct), HttpStatusCode.BadRequest, "JSON");
        await AssertProblemAsync(await world.Http.PostAsync("/webhooks/ses", new StringContent($"{{\"Type\":\"Notification\",\"SigningCertURL\":\"{CertificateUrl}\"}}", Encoding.UTF8, "text/plain"), Ct), HttpStatusCode.BadRequest, "signed fields");

        Assert.Equal(SubscriberState.Confirmed, await world.StateAsync("soft@example.com"));
        Assert.Equal(2, await world.FeedbackCountAsync());
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_sns_subscription_is_confirmed_only_when_signed_and_its_url_is_on_sns()
    {
        await using var world = await StartAsync("reader@example.com");
        var confirmation = SnsEnvelope(world, "SubscriptionConfirmation", null, "2");
        Assert.Equal(HttpStatusCode.OK, (await PostSnsAsync(world, confirmation)).StatusCode);
        Assert.StartsWith("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription", Assert.Single(world.Sns.Confirmed).ToString());

        confirmation["Token"] = "another";
        await AssertProblemAsync(await PostSnsAsync(world, confirmation), HttpStatusCode.Forbidden, "signature");
        Assert.Single(world.Sns.Confirmed);
    }

    // ------------------------------------------------------------------ Mailgun

    private static JsonObject MailgunEvent(World world, string email, string @event, string severity = "permanent", string? token = null, long? timestamp = null, string? key = null)
    {
        var ts = (timestamp ?? world.Digests.Time.GetUtcNow().ToUnixTimeSeconds()).ToString();
        token ??= Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(25));
        var mac = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key ?? MailgunKey), Encoding.UTF8.GetBytes(ts + token)));
        return new JsonObject
        {
            ["signature"] = new JsonObject { ["timestamp"] = ts, ["token"] = token, ["signature"] = mac },
            ["event-data"] = new JsonObject
            {
                ["event"] = @event,
                ["severity"] = severity,
                ["id"] = Guid.NewGuid().ToString("N"),
                ["recipient"] = email,
                ["message"] = new JsonObject { ["headers"] = new JsonObject { ["message-id"] = $"syndicator-{world.Deliveries[email].Key}@magazine.example" } },
                ["delivery-status"] = new JsonObject { ["code"] = 550, ["message"] = "5.1.1 The email account that you tried to reach does not exist" },
            },
        };
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Mailgun_events_with_a_good_signature_are_recorded_and_wrong_replayed_stale_or_malformed_ones_refused()
    {
        await using var world = await StartAsync("hard@example.com", "soft@example.com", "complains@example.com", "other@example.com");

        Assert.Equal(HttpStatusCode.OK, (await world.Http.PostAsJsonAsync("/webhooks/mailgun", MailgunEvent(world, "hard@example.com", "failed"), Ct)).StatusCode);
        Assert.Equal(SubscriberState.Bounced, await world.StateAsync("hard@example.com"));
        Assert.Equal(HttpStatusCode.OK, (await world.Http.PostAsJsonAsync("/webhooks/mailgun", MailgunEvent(world, "soft@example.com", "failed", "temporary"), Ct)).StatusCode);
        Assert.Equal(SubscriberState.Confirmed, await world.StateAsync("soft@example.com"));
        var complaint = MailgunEvent(world, "complains@example.com", "complained");
        Assert.Equal(HttpStatusCode.OK, (await world.Http.PostAsJsonAsync("/webhooks/mailgun", complaint, Ct)).StatusCode);
        Assert.Equal(SubscriberState.Complained, await world.StateAsync("complains@example.com"));
        Assert.Equal(3, await world.FeedbackCountAsync());

        // The very same request again: its token was used.
        await AssertProblemAsync(await world.Http.PostAsJsonAsync("/webhooks/mailgun", complaint, Ct), HttpStatusCode.Conflict, "accepted before");
        // Signed with another key, or the signature of another timestamp.
        await AssertProblemAsync(await world.Http.PostAsJsonAsync("/webhooks/mailgun", MailgunEvent(world, "other@example.com", "failed", key: "not-the-key"), Ct), HttpStatusCode.Forbidden, "HMAC");
        var moved = MailgunEvent(world, "other@example.com", "failed");
        moved["signature"]!["timestamp"] = (world.Digests.Time.GetUtcNow().ToUnixTimeSeconds() + 1).ToString();
        await AssertProblemAsync(await world.Http.PostAsJsonAsync("/webhooks/mailgun", moved, Ct), HttpStatusCode.Forbidden, "HMAC");
        // Correctly signed, but an hour old.
        var stale = MailgunEvent(world, "other@example.com", "failed", timestamp: world.Digests.Time.GetUtcNow().AddHours(-1).ToUnixTimeSeconds());
        await AssertProblemAsync(await world.Http.PostAsJsonAsync("/webhooks/mailgun", stale, Ct), HttpStatusCode.Forbidden, "replay");
        // Malformed.
        await AssertProblemAsync(await world.Http.PostAsync("/webhooks/mailgun", new StringContent("[1,2,3]", Encoding.UTF8, "application/json"), Ct), HttpStatusCode.BadRequest, "JSON object");
        var unsigned = MailgunEvent(world, "other@example.com", "failed");
        unsigned.Remove("signature");
        await AssertProblemAsync(await world.Http.PostAsJsonAsync("/webhooks/mailgun", unsigned, Ct), HttpStatusCode.BadRequest, "signature.timestamp");
        var huge = new StringContent("{\"x\":\"" + new string('a', RelayWebhooks.MaxBodyBytes) + "\"}", Encoding.UTF8, "application/json");
        await AssertProblemAsync(await world.Http.PostAsync("/webhooks/mailgun", huge, Ct), HttpStatusCode.BadRequest, "256 KiB");

        Assert.Equal(SubscriberState.Confirmed, await world.StateAsync("other@example.com"));
        Assert.Equal(3, await world.FeedbackCountAsync());
    }

    // ------------------------------------------------------------------ Postmark

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Postmark_bounces_and_complaints_need_the_basic_auth_credentials_and_malformed_ones_are_refused()
    {
        await using var world = await StartAsync("hard@example.com", "complains@example.com", "other@example.com");
        // The metadata our messages carry for Postmark, read back from what was composed.
        var sent = world.Digests.Mailed().ToDictionary(m => m.To.Mailboxes.Single().Address);
        string KeyOf(string email) => sent[email].Headers["X-PM-Metadata-syndicator-key"]!;
        Assert.True(world.Digests.App.Get<SubscriberTokens>().MessageKey(world.Deliveries["hard@example.com"].Key) == KeyOf("hard@example.com"), sent["hard@example.com"].Headers.ToString());

        HttpRequestMessage Request(object body, string password = "pm-secret-🔑") => new(HttpMethod.Post, "/webhooks/postmark")
        {
            // As Postmark sends it: PascalCase names (JsonContent.Create alone would camel-case them).
            Content = JsonContent.Create(body, options: new JsonSerializerOptions()),
            Headers = { Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("postmark:" + password))) },
        };
        object Bounce(string email, string type = "HardBounce") => new { RecordType = "Bounce", ID = Random.Shared.NextInt64(), Type = type, Email = email, Details = "smtp;550 5.1.1", Metadata = new Dictionary<string, string> { ["syndicator-key"] = KeyOf(email) } };

        Assert.Equal(HttpStatusCode.OK, (await world.Http.SendAsync(Request(Bounce("hard@example.com")), Ct)).StatusCode);
        Assert.Equal(SubscriberState.Bounced, await world.StateAsync("hard@example.com"));
        var complaint = new { RecordType = "SpamComplaint", ID = 77, Email = "complains@example.com", Metadata = new Dictionary<string, string> { ["syndicator-key"] = KeyOf("complains@example.com") } };
        Assert.Equal(HttpStatusCode.OK, (await world.Http.SendAsync(Request(complaint), Ct)).StatusCode);
        Assert.Equal(SubscriberState.Complained, await world.StateAsync("complains@example.com"));
        // Postmark retries: the same record id is the same event.
        Assert.Equal(HttpStatusCode.OK, (await world.Http.SendAsync(Request(complaint), Ct)).StatusCode);
        Assert.Equal(2, await world.FeedbackCountAsync());

        var wrong = await world.Http.SendAsync(Request(Bounce("other@example.com"), password: "guess"), Ct);
        await AssertProblemAsync(wrong, HttpStatusCode.Unauthorized, "do not match");
        Assert.Equal("Basic", wrong.Headers.WwwAuthenticate.Single().Scheme);
        using (var none = new HttpRequestMessage(HttpMethod.Post, "/webhooks/postmark") { Content = JsonContent.Create(Bounce("other@example.com"), options: new JsonSerializerOptions()) })
            await AssertProblemAsync(await world.Http.SendAsync(none, Ct), HttpStatusCode.Unauthorized, "do not match");
        await AssertProblemAsync(await world.Http.SendAsync(Request(new { RecordType = "Bounce" }), Ct), HttpStatusCode.BadRequest, "ID");
        // A record about a message that is not ours changes nothing.
        Assert.Equal(HttpStatusCode.OK, (await world.Http.SendAsync(Request(new { RecordType = "Bounce", ID = 5, Type = "HardBounce", Email = "other@example.com", Metadata = new { } }), Ct)).StatusCode);
        Assert.Equal(SubscriberState.Confirmed, await world.StateAsync("other@example.com"));
        Assert.Equal(2, await world.FeedbackCountAsync());
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_webhook_that_is_not_configured_answers_404_with_the_key_that_turns_it_on()
    {
        var settings = new Dictionary<string, string?> { ["Http:Urls"] = "http://127.0.0.1:0" };
        foreach (var job in new[] { "DropFolderImport", "FeedBuild", "WebSubPing", "Announcements", "DailyDigest", "WeeklyDigest", "EmailSend" }) settings[$"Jobs:{job}:Enabled"] = "false";
        await using var world = await DigestWorld.CreateAsync(settings: settings);
        await world.App.App.StartAsync(Ct);
        var address = world.App.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        await AssertProblemAsync(await http.PostAsync("/webhooks/mailgun", new StringContent("{}"), Ct), HttpStatusCode.NotFound, "Digests:Feedback:Webhooks:Mailgun:SigningKey");
        await AssertProblemAsync(await http.PostAsync("/webhooks/ses", new StringContent("{}"), Ct), HttpStatusCode.NotFound, "Digests:Feedback:Webhooks:Ses:Enabled");
        await AssertProblemAsync(await http.PostAsync("/webhooks/postmark", new StringContent("{}"), Ct), HttpStatusCode.NotFound, "Digests:Feedback:Webhooks:Postmark:UserName");
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailContains)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal((int)status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Contains(detailContains, problem.RootElement.GetProperty("detail").GetString());
    }
}
