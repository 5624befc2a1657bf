using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Syndicator.Articles;
using Syndicator.Deliveries;

namespace Syndicator.Digests;

/// <summary>
/// <c>syndicator digest test --to ADDRESS</c>: the digest as a reader would get it now (the newest articles, the
/// templates, headers and DKIM of a real one), sent through the relay (or the pickup folder) to an address of the
/// publisher's choice. It is nobody's digest: no subscriber, digest or delivery row is written, no watermark moves,
/// and its Message-ID (<c>syndicator-test-…</c>) is not a delivery key, so a bounce of it changes nothing.
/// </summary>
public sealed class DigestTestSend(ArticleStore articles, DigestComposer composer, PickupFolder pickup, IOptions<DigestOptions> options, IHostEnvironment environment, TimeProvider time)
{
    public const string TestHeader = "X-Syndicator-Test";

    public async Task<DeliveryOutcome> SendAsync(string to, CancellationToken cancellationToken)
    {
        if (SubscriberAddress.Problem(to) is { } problem) return new DeliveryOutcome.Permanent($"--to: {problem}");
        var latest = await articles.ListAsync(options.Value.MaxArticles, cancellationToken);
        if (latest.Count == 0) return new DeliveryOutcome.Permanent("the store holds no articles yet, so a digest would be empty; import one first (syndicator import PATH)");
        var now = time.GetUtcNow();
        var sample = new Subscriber("test", to.Trim(), null, DigestFrequency.Daily, "UTC", SubscriberState.Confirmed, 0, now, null, [], [], now);
        var message = composer.Digest(sample, latest, "syndicator-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        // Added after DKIM signing, outside the signed headers: the signature still verifies.
        message.Headers.Add(TestHeader, "a test send, not a subscriber's digest");
        if (string.IsNullOrWhiteSpace(options.Value.Smtp.Host))
        {
            Directory.CreateDirectory(pickup.Path);
            var path = Path.Combine(pickup.Path, $"{message.MessageId!.Split('@')[0]}.eml");
            await message.WriteToAsync(path, cancellationToken);
            return new DeliveryOutcome.Sent(message.MessageId, path);
        }
        await using var connection = new MailConnection(options.Value.Smtp, environment.ContentRootPath);
        return (await connection.SendAsync(message, null, cancellationToken)).Outcome;
    }
}
