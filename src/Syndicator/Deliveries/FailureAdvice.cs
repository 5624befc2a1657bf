using System.Globalization;

namespace Syndicator.Deliveries;

/// <summary>
/// What went wrong with a delivery and what to do, in the publisher's words, from the channel, the state and the
/// last attempt's failure class and HTTP status. The one place that turns a network's refusal into advice; the
/// dashboard and the CLI show it above the network's own message, which is kept as it came.
/// </summary>
public static class FailureAdvice
{
    /// <summary>
    /// The advice for a delivery that did not go out, or null when there is nothing to advise (sent, or waiting
    /// without a failure). <paramref name="recipient"/> is the recipient as the publisher names it (an account's name,
    /// a subscriber's address); <paramref name="last"/> the last recorded attempt, if any.
    /// </summary>
    public static string? For(Delivery delivery, string recipient, DeliveryAttemptRecord? last)
    {
        if (delivery.State == DeliveryState.Sent || delivery.LastError is null) return null;
        var cause = last?.Cause ?? FailureCause.Other;
        var status = last?.Status;
        var waiting = delivery.State == DeliveryState.RetryWait;
        var retried = waiting
            ? $" It is tried again on its own at {delivery.NextAttemptAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC."
            : " Once that is fixed, press Retry (or run `syndicator deliveries retry " + delivery.Id.ToString(CultureInfo.InvariantCulture) + "`).";

        if (delivery.State == DeliveryState.Unconfirmed)
            return $"It is not known whether {Service(delivery.Channel)} took this for {recipient}: the answer was lost after it was handed over. "
                + "Look for it there (the relay's log, or the account) before you retry, or it may arrive twice.";

        if (delivery.Channel is "x" or "mastodon" or "bluesky")
            return Social(delivery.Channel, recipient, cause, status) + retried;
        return Other(delivery.Channel, recipient, cause, status) + retried;
    }

    private static string Social(string channel, string account, FailureCause cause, int? status)
    {
        var network = Service(channel);
        var secrets = channel switch
        {
            "x" => "`Credentials:ConsumerKey`, `ConsumerSecret`, `AccessToken` and `AccessTokenSecret` name",
            "mastodon" => "`Credentials:AccessToken` names",
            _ => "`Credentials:AppPassword` names",
        };
        var what = channel switch { "x" => "the credentials", "mastodon" => "the access token", _ => "the app password" };
        return (cause, status) switch
        {
            (FailureCause.Credential, _) => $"The secret for account {account} could not be read: set the environment variable or file that {secrets} (the message below says which).",
            (FailureCause.Timeout, _) => $"{network} did not answer in time for account {account}. If this keeps happening, check the account's `BaseUrl` and this machine's connection.",
            (FailureCause.Unreachable, _) => $"{network} could not be reached for account {account}: check the account's `BaseUrl`, DNS and the firewall.",
            (FailureCause.UnreadableAnswer, _) => $"{network} answered account {account} with something that is not its API's answer: check that the account's `BaseUrl` points at the {network} API, not a web page or proxy.",
            (FailureCause.Answered, 401) => $"{network} refused {what} for account {account}: check the secret that {secrets}.",
            (FailureCause.Answered, 403) => channel switch
            {
                "x" => $"X forbade the post for account {account}: the app needs Read and Write permission (regenerate the access token after changing it), or X took the post for a duplicate.",
                "mastodon" => $"Mastodon forbade the post for account {account}: the access token needs the write:statuses scope, or the account is limited.",
                _ => $"Bluesky forbade the post for account {account}: the account may be taken down or the app password lacks the permission.",
            },
            (FailureCause.Answered, 404) => $"{network} has no such API at the account's `BaseUrl` for account {account}: check that address.",
            (FailureCause.Answered, 413 or 422 or 400) => $"{network} refused the post's content for account {account}: read its message below, fix the article or the template, and announce it again.",
            (FailureCause.Answered, 429) => $"{network} asked account {account} to slow down; its posts wait for the time it gave.",
            (FailureCause.Answered, >= 500) => $"{network} had a problem on its side for account {account}.",
            _ => $"{network} did not take the post for account {account}: read its message below.",
        };
    }

    private static string Other(string channel, string recipient, FailureCause cause, int? status) => channel switch
    {
        "email" => $"The e-mail to {recipient} was not accepted: read the relay's message below (a refused address, a full mailbox, or the relay's own limits).",
        "websub" => cause switch
        {
            FailureCause.Timeout or FailureCause.Unreachable => $"The hub {recipient} could not be reached: check `Feeds:Hubs` and this machine's connection.",
            _ => $"The hub {recipient} refused the ping{(status is { } s ? $" ({s.ToString(CultureInfo.InvariantCulture)})" : "")}: check `Feeds:Hubs` and the hub's message below.",
        },
        _ => $"{Service(channel)} did not take this for {recipient}: read its message below.",
    };

    /// <summary>A channel as the publisher calls it.</summary>
    public static string Service(string channel) => channel switch
    {
        "x" => "X",
        "mastodon" => "Mastodon",
        "bluesky" => "Bluesky",
        "email" => "the mail relay",
        "websub" => "the WebSub hub",
        _ => channel,
    };
}
