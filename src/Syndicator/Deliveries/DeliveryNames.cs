namespace Syndicator.Deliveries;

/// <summary>
/// Gives the publisher's names to the subjects and recipients one capability knows (an article's title and slug,
/// a subscriber's address). Each capability that makes deliveries registers one; the outbox itself holds only ids.
/// </summary>
public interface IDeliveryNamer
{
    Task NameAsync(IReadOnlyCollection<Delivery> deliveries, DeliveryNames names, CancellationToken cancellationToken);
}

/// <summary>The names found for a set of deliveries; what no namer knew reads as its kind and id.</summary>
public sealed class DeliveryNames
{
    private readonly Dictionary<DeliverySubject, string> subjects = [];
    private readonly Dictionary<DeliveryRecipient, string> recipients = [];

    public void Add(DeliverySubject subject, string name) => subjects[subject] = name;

    public void Add(DeliveryRecipient recipient, string name) => recipients[recipient] = name;

    /// <summary>A feed ping reads as its feed; others as their namer put them, else "kind id".</summary>
    public string Of(DeliverySubject subject) =>
        subjects.TryGetValue(subject, out var name) ? name
        : subject.Kind == SubjectKind.Feed ? $"feed {subject.Id}"
        : $"{subject.KindColumn} {subject.Id}";

    /// <summary>An account is named by its name and a hub by its URL; a subscriber by its address.</summary>
    public string Of(DeliveryRecipient recipient) => recipients.TryGetValue(recipient, out var name) ? name : recipient.Id;
}

/// <summary>Names deliveries with every capability's namer, for the CLI and the dashboard.</summary>
public sealed class DeliveryDirectory(IEnumerable<IDeliveryNamer> namers)
{
    public async Task<DeliveryNames> NameAsync(IReadOnlyCollection<Delivery> deliveries, CancellationToken cancellationToken)
    {
        var names = new DeliveryNames();
        if (deliveries.Count == 0) return names;
        foreach (var namer in namers) await namer.NameAsync(deliveries, names, cancellationToken);
        return names;
    }
}
