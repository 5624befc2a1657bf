using Syndicator.Cli;
using Syndicator.Deliveries;

namespace Syndicator.Tests.Deliveries;

/// <summary>The one table from a delivery's failure to what the publisher should do, and the CLI's --since.</summary>
public sealed class FailureAdviceTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 8, 0, 0, TimeSpan.Zero);

    private static Delivery Failed(string channel, string account, DeliveryState state = DeliveryState.Failed) =>
        new(7, channel, DeliverySubject.Article("a1"), DeliveryRecipient.Account(account), "k", state, 1, Now.AddMinutes(5),
            $"{channel}: the service's own words", null, null, "n", null, Now, Now, null, null);

    private static DeliveryAttemptRecord Attempt(FailureCause cause, int? status) =>
        new(7, 1, "n", AttemptOutcome.Failed, status, cause, "words", null, Now);

    [Theory]
    [InlineData("bluesky", 401, "Bluesky refused the app password for account magazine-bluesky: check the secret that `Credentials:AppPassword` names.")]
    [InlineData("mastodon", 401, "Mastodon refused the access token for account magazine-bluesky: check the secret that `Credentials:AccessToken` names.")]
    [InlineData("x", 401, "X refused the credentials for account magazine-bluesky: check the secret that `Credentials:ConsumerKey`, `ConsumerSecret`, `AccessToken` and `AccessTokenSecret` name.")]
    [InlineData("mastodon", 422, "Mastodon refused the post's content for account magazine-bluesky")]
    [InlineData("x", 403, "X forbade the post for account magazine-bluesky")]
    public void A_refusal_reads_as_what_went_wrong_and_what_to_check(string channel, int status, string expected)
    {
        var advice = FailureAdvice.For(Failed(channel, "magazine-bluesky"), "magazine-bluesky", Attempt(FailureCause.Answered, status));

        Assert.StartsWith(expected, advice);
        Assert.Contains("syndicator deliveries retry 7", advice);
    }

    [Fact]
    public void A_failure_that_waits_says_when_it_is_tried_again_and_an_unconfirmed_one_says_to_look_first()
    {
        var waiting = FailureAdvice.For(Failed("mastodon", "m", DeliveryState.RetryWait), "m", Attempt(FailureCause.Timeout, null));
        Assert.StartsWith("Mastodon did not answer in time for account m", waiting);
        Assert.Contains("tried again on its own at 2026-11-26 08:05 UTC", waiting);

        var unconfirmed = FailureAdvice.For(Failed("email", "reader@example.com", DeliveryState.Unconfirmed), "reader@example.com", null);
        Assert.Contains("before you retry", unconfirmed);

        // Nothing to advise for a delivery that went out, and a failure recorded before attempts were kept still gets the generic advice.
        Assert.Null(FailureAdvice.For(Failed("x", "a") with { State = DeliveryState.Sent }, "a", null));
        Assert.StartsWith("X did not take the post for account a", FailureAdvice.For(Failed("x", "a"), "a", null));
    }

    [Theory]
    [InlineData("30m", "2026-11-26T07:30:00Z")]
    [InlineData("12h", "2026-11-25T20:00:00Z")]
    [InlineData("7d", "2026-11-19T08:00:00Z")]
    [InlineData("2026-11-20T06:00:00Z", "2026-11-20T06:00:00Z")]
    [InlineData("yesterday", null)]
    [InlineData("12", null)]
    [InlineData("-3h", null)]
    [InlineData("", null)]
    public void Since_takes_a_utc_time_or_a_span_back_from_now(string text, string? expected) =>
        Assert.Equal(expected is null ? null : DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), DeliveriesCommand.Since(text, Now));
}
