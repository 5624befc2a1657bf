using Syndicator.ActivityPub;

namespace Syndicator.Tests.ActivityPub;

/// <summary>The ActivityPub section is checked at start-up, each problem naming its key and the fix.</summary>
public sealed class ActivityPubOptionsTests
{
    [Fact]
    public void Bad_handles_duplicates_and_limits_are_refused_with_their_keys_and_nothing_is_checked_while_off()
    {
        var validator = new ActivityPubOptionsValidator();
        var bad = new ActivityPubOptions
        {
            Enabled = true,
            Username = "Magazine\r\n",
            IconUrl = "javascript:alert(1)",
            MaxBodyBytes = 10,
            Authors = [new() { Name = "Jane", Username = "../jane" }, new() { Name = "", Username = "sam" }, new() { Name = "Sam Roe", Username = "sam" }],
        };
        var failures = validator.Validate(null, bad).Failures!.ToList();
        Assert.Contains(failures, f => f.StartsWith("ActivityPub:Username \"Magazine", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ActivityPub:Authors:0:Username \"../jane\"", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ActivityPub:Authors:1:Name is empty", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ActivityPub:Authors:2:Username \"sam\" is already taken", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ActivityPub:IconUrl", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ActivityPub:MaxBodyBytes", StringComparison.Ordinal));
        Assert.True(validator.Validate(null, new ActivityPubOptions { Enabled = false, Username = "" }).Succeeded);
        Assert.True(validator.Validate(null, new ActivityPubOptions { Enabled = true, Username = "the.magazine_2" }).Succeeded);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(-1, false)]
    [InlineData(366, false)]
    [InlineData(1, true)]
    [InlineData(365, true)]
    public void ParkInboxAfterDays_must_be_1_to_365(int days, bool valid)
    {
        var result = new ActivityPubOptionsValidator().Validate(null, new ActivityPubOptions { Enabled = true, Username = "magazine", ParkInboxAfterDays = days });
        Assert.Equal(valid, result.Succeeded);
        if (!valid) Assert.Contains(result.Failures!, f => f.StartsWith($"ActivityPub:ParkInboxAfterDays {days} is outside 1..365", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("create", "create")]
    [InlineData("update:abc123", "update:abc123")]
    [InlineData("delete", "delete")]
    public void An_article_verb_round_trips_through_the_delivery_version(string version, string expected) =>
        Assert.Equal(expected, ArticleVerb.Parse(version)!.Version);

    [Theory]
    [InlineData("")]
    [InlineData("update:")]
    [InlineData("Create")]
    [InlineData("announce")]
    public void A_version_that_is_no_verb_is_refused(string version) => Assert.Null(ArticleVerb.Parse(version));
}
