using Microsoft.Extensions.Options;
using MimeKit;
using Syndicator.Articles;

namespace Syndicator.Digests;

/// <summary>A digest composed for a look, never sent: the message, whom it is for, what it carries, and why none would go out (if so).</summary>
public sealed record DigestPreviewResult(MimeMessage? Message, Subscriber? Subscriber, int Articles, string? Problem);

/// <summary>
/// The next digest as it will be sent: for a subscriber, exactly the articles their next plan would take (their
/// watermark, follows, time zone) through the same templates, headers and links; for a sample reader, the newest
/// articles (what <see cref="DigestTestSend"/> mails). Nothing is written: no digest, delivery or watermark changes.
/// </summary>
public sealed class DigestPreview(ArticleStore articles, DigestPlanner planner, SubscriberStore subscribers, DigestComposer composer, IOptions<DigestOptions> options, TimeProvider time)
{
    public const string SampleAddress = "reader@example.com";

    /// <summary>The digest the subscriber with this address (or id) would get if it were planned now.</summary>
    public async Task<DigestPreviewResult> ForSubscriberAsync(string addressOrId, CancellationToken cancellationToken)
    {
        var subscriber = await subscribers.FindAsync(addressOrId.Trim(), cancellationToken);
        if (subscriber is null)
            return new DigestPreviewResult(null, null, 0, $"no subscriber has the address '{Shared.Shown.Value(addressOrId)}'; check it with `syndicator subscribers list`, or leave it empty for a sample reader");
        var items = new List<Article>();
        foreach (var id in await planner.NextArticleIdsAsync(subscriber, cancellationToken))
            if (await articles.FindByIdAsync(id, cancellationToken) is { } article) items.Add(article);
        if (items.Count == 0)
            return new DigestPreviewResult(null, subscriber, 0,
                $"nothing new for {subscriber.Email} since {subscriber.CoveredUntil:yyyy-MM-dd HH:mm} UTC{(subscriber.FollowedAuthors.Count + subscriber.FollowedTags.Count > 0 ? " among the authors and tags they follow" : "")}: no digest would be sent now");
        var message = composer.Digest(subscriber, items, PreviewKey());
        var problem = subscriber.State == SubscriberState.Confirmed ? null
            : $"{subscriber.Email} is {SubscriberStore.Column(subscriber.State)}: this is what they would get, but no digest is planned for them";
        return new DigestPreviewResult(message, subscriber, items.Count, problem);
    }

    /// <summary>The digest a sample reader at <paramref name="to"/> following everything would get: the newest articles.</summary>
    public async Task<DigestPreviewResult> SampleAsync(string to, CancellationToken cancellationToken, string? messageKey = null)
    {
        var latest = await articles.ListAsync(options.Value.MaxArticles, cancellationToken);
        var now = time.GetUtcNow();
        var sample = new Subscriber("sample", to.Trim(), null, DigestFrequency.Daily, "UTC", SubscriberState.Confirmed, 0, now, null, [], [], now);
        if (latest.Count == 0)
            return new DigestPreviewResult(null, sample, 0, "the store holds no articles yet, so a digest would be empty; import one first (syndicator import PATH)");
        return new DigestPreviewResult(composer.Digest(sample, latest, messageKey ?? PreviewKey()), sample, latest.Count, null);
    }

    /// <summary>Not a delivery key (those are <c>syndicator-{key}</c> from the outbox): feedback naming it changes nothing.</summary>
    private static string PreviewKey() => "syndicator-preview-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
}
