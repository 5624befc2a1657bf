using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Syndicator.Deliveries;

namespace Syndicator.Digests;

/// <summary>
/// <c>syndicator digest test --to ADDRESS</c> and the dashboard's test send: the digest as a sample reader would get it
/// now (<see cref="DigestPreview.SampleAsync"/>: the newest articles, the templates, headers and DKIM of a real one), sent through the relay (or the pickup folder) to an address of the
/// publisher's choice. It is nobody's digest: no subscriber, digest or delivery row is written, no watermark moves,
/// and its Message-ID (<c>syndicator-test-…</c>) is not a delivery key, so a bounce of it changes nothing.
/// </summary>
public sealed class DigestTestSend(DigestPreview preview, PickupFolder pickup, IOptions<DigestOptions> options, IHostEnvironment environment)
{
    public const string TestHeader = "X-Syndicator-Test";

    public async Task<DeliveryOutcome> SendAsync(string to, CancellationToken cancellationToken)
    {
        if (SubscriberAddress.Problem(to) is { } problem) return new DeliveryOutcome.Permanent($"--to: {problem}");
        var sample = await preview.SampleAsync(to, cancellationToken, "syndicator-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        if (sample.Message is not { } message) return new DeliveryOutcome.Permanent(sample.Problem!);
        using var written = message;
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
        // A test send is no delivery: there is no hand-over to mark.
        return (await connection.SendAsync(message, null, Task.FromResult(true), cancellationToken)).Outcome;
    }
}
