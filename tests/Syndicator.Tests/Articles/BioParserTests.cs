using Syndicator.Articles.Import;

namespace Syndicator.Tests.Articles;

public sealed class BioParserTests
{
    [Theory]
    [InlineData("*Hassan Mahmoudi is a social analyst.", "Hassan Mahmoudi")]
    [InlineData("Jane Doe, a novelist, lives in Leeds.", "Jane Doe")]
    [InlineData("Ibrahim al-Hakim writes on Iraq.", "Ibrahim al-Hakim")]
    [InlineData("Ludwig van Beethoven composed.", "Ludwig van Beethoven")]
    [InlineData("Dr. Amira Haddad teaches law.", "Dr. Amira Haddad")]
    public void The_leading_capitalised_words_of_a_bio_are_the_authors_name(string bio, string name)
    {
        Assert.Equal(name, BioParser.LeadingName(bio));
    }

    [Fact]
    public void A_bio_without_a_name_yields_none()
    {
        Assert.Null(BioParser.LeadingName("writes about economics."));
    }

    [Theory]
    [InlineData("He tweets under @hassan_mahmou1.", "hassan_mahmou1", null, null)]
    [InlineData("She tweets at @jane_doe", "jane_doe", null, null)]
    [InlineData("Follow him on Mastodon: @omar@mastodon.social.", null, "omar@mastodon.social", null)]
    [InlineData("She is @amira.bsky.social on Bluesky.", null, null, "amira.bsky.social")]
    [InlineData("Find her at https://x.com/sara_k and https://bsky.app/profile/sara.example.com", "sara_k", null, "sara.example.com")]
    [InlineData("He posts at https://fosstodon.org/@lee", null, "lee@fosstodon.org", null)]
    [InlineData("He is on X as @kx and on Mastodon as @k@hachyderm.io.", "kx", "k@hachyderm.io", null)]
    [InlineData("Contact her at jane@example.com.", null, null, null)]
    [InlineData("She has no social accounts.", null, null, null)]
    public void Handles_are_read_from_the_patterns_in_a_bio(string bio, string? x, string? mastodon, string? bluesky)
    {
        var handles = BioParser.Handles(bio);
        Assert.Equal(x, handles.X);
        Assert.Equal(mastodon, handles.Mastodon);
        Assert.Equal(bluesky, handles.Bluesky);
    }
}
