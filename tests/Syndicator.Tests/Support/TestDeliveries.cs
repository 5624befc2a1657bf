using Syndicator.Deliveries;
using Syndicator.Digests;

namespace Syndicator.Tests.Support;

/// <summary>Shorthands for tests that set up outbox rows by hand: subjects and recipients from a kind's name, as the channel implies.</summary>
public static class TestDeliveries
{
    public static DeliverySubject Subject(string kind, string id) => kind switch
    {
        "article" => DeliverySubject.Article(id),
        "digest" => DeliverySubject.Digest(id),
        "confirmation" => DeliverySubject.Confirmation(id, "test"),
        "feed" => DeliverySubject.Feed(id, "0000000000000000"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static DeliveryRecipient Recipient(string channel, string id) => channel switch
    {
        EmailChannel.ChannelName => DeliveryRecipient.Subscriber(id),
        "websub" => DeliveryRecipient.Hub(id),
        _ => DeliveryRecipient.Account(id),
    };

    public static Task<bool> EnsureAsync(this DeliveryStore store, string channel, string kind, string id, string recipient, DateTimeOffset notBefore, CancellationToken ct) =>
        store.EnsureAsync(channel, Subject(kind, id), Recipient(channel, recipient), notBefore, ct);

    public static Task<IReadOnlyList<Delivery>> ClaimDueAsync(this DeliveryStore store, string channel, string node, TimeSpan lease, int limit, CancellationToken ct, string? subjectId = null) =>
        store.ClaimDueAsync(channel, node, lease, limit, new DrainFilter(Subject: subjectId is null ? null : DeliverySubject.Article(subjectId)), false, ct);

    /// <summary>The newest deliveries, narrowed by state and by article id when given.</summary>
    public static Task<IReadOnlyList<Delivery>> ListAsync(this DeliveryStore store, DeliveryState? state, string? articleId, int limit, CancellationToken ct) =>
        store.ListAsync(state, null, articleId is null ? null : DeliverySubject.Article(articleId), limit, ct);

    /// <summary>One batch of due e-mail, as the EmailSend job's first batch.</summary>
    public static async Task<DrainReport> SendEmailAsync(this TestApp app, IProgress<(int Done, int Total)>? progress, CancellationToken ct) =>
        await app.Get<DeliveryWorker>().DrainAsync(app.Get<EmailChannel>(), DrainFilter.All, untilEmpty: false, ct, progress) ?? DrainReport.None;

    /// <summary>Every due e-mail, batch after batch, as the EmailSend job sends it; null when a run is already sending on this node.</summary>
    public static Task<DrainReport?> SendAllEmailAsync(this TestApp app, CancellationToken ct) =>
        app.Get<DeliveryWorker>().DrainAsync(app.Get<EmailChannel>(), DrainFilter.All, untilEmpty: true, ct);

    /// <summary>Drains a channel whose sending is the given function (a stand-in for a network's client).</summary>
    public static async Task<DrainReport> DrainAsync(this DeliveryWorker worker, string channel, Func<Delivery, CancellationToken, Task<DeliveryOutcome>> send, CancellationToken ct,
        ChannelPolicy? policy = null) =>
        await worker.DrainAsync(new FunctionChannel(channel, policy ?? new ChannelPolicy(RecipientKind.Account, DuplicateGuard.IdempotencyKey, OneLanePerRecipient: true), send),
            DrainFilter.All, untilEmpty: false, ct) ?? DrainReport.None;

    private sealed class FunctionChannel(string name, ChannelPolicy policy, Func<Delivery, CancellationToken, Task<DeliveryOutcome>> send) : IDeliveryChannel
    {
        public string Name => name;
        public ChannelPolicy Policy => policy;
        public Task<DeliveryOutcome> SendAsync(Delivery delivery, DeliveryAttempt attempt, CancellationToken cancellationToken) => send(delivery, cancellationToken);
    }
}
