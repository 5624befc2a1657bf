using Microsoft.Extensions.Configuration;
using Syndicator.Hosting;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

public sealed class AnnouncementConfigTests
{
    private static IReadOnlyList<string> Problems(Dictionary<string, string?> settings)
    {
        using var dir = new TempDir();
        settings["Storage:ConnectionString"] = $"Data Source={Path.Combine(dir.Path, "c.db")}";
        // These tests are about credentials; an enabled account would otherwise also refuse the shipped example site.
        settings["Site:AllowLocalUrls"] = "true";
        try
        {
            using var app = ConfigProblems.BuildValidated(() => SyndicatorHost.Build([], c => c.AddInMemoryCollection(settings)));
            return [];
        }
        catch (ConfigProblemsException e)
        {
            return e.Problems;
        }
    }

    private static Dictionary<string, string?> XAccount(string enabled, params (string Key, string Value)[] credentials)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Announcements:Accounts:0:Name"] = "magazine-x",
            ["Announcements:Accounts:0:Network"] = "X",
            ["Announcements:Accounts:0:Enabled"] = enabled,
        };
        foreach (var (key, value) in credentials) settings[$"Announcements:Accounts:0:Credentials:{key}"] = value;
        return settings;
    }

    [Fact]
    public void An_enabled_account_whose_secret_is_not_set_stops_start_up_naming_the_key_and_the_variable()
    {
        var problems = Problems(XAccount("true", ("ConsumerKey", "env:SYN_UNSET_CK"), ("ConsumerSecret", "env:SYN_UNSET_CS"), ("AccessToken", "env:SYN_UNSET_AT"), ("AccessTokenSecret", "env:SYN_UNSET_ATS")));

        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("Announcements:Accounts:0:Credentials:ConsumerSecret (env:SYN_UNSET_CS) cannot be read: the environment variable SYN_UNSET_CS is not set", StringComparison.Ordinal));
        Assert.All(problems, p => Assert.Contains("disable the account with Enabled=false", p));
    }

    [Fact]
    public void A_disabled_account_may_lack_its_secrets()
    {
        Assert.Empty(Problems(XAccount("false", ("ConsumerKey", "env:SYN_UNSET_CK"), ("ConsumerSecret", "env:SYN_UNSET_CS"), ("AccessToken", "env:SYN_UNSET_AT"), ("AccessTokenSecret", "env:SYN_UNSET_ATS"))));
    }

    [Fact]
    public void A_secret_written_into_the_configuration_is_refused_without_repeating_it()
    {
        var problems = Problems(XAccount("false", ("ConsumerKey", "env:A"), ("ConsumerSecret", "s3cr3t-value"), ("AccessToken", "env:B"), ("AccessTokenSecret", "env:C")));

        var problem = Assert.Single(problems);
        Assert.StartsWith("Announcements:Accounts:0:Credentials:ConsumerSecret holds the secret itself", problem);
        Assert.DoesNotContain("s3cr3t-value", problem);
    }

    [Fact]
    public void A_missing_credential_and_a_duplicate_account_name_are_reported_together()
    {
        var settings = XAccount("false", ("ConsumerKey", "env:A"), ("ConsumerSecret", "env:B"), ("AccessToken", "env:C"));
        settings["Announcements:Accounts:1:Name"] = "Magazine-X";
        settings["Announcements:Accounts:1:Network"] = "Mastodon";
        settings["Announcements:Accounts:1:Enabled"] = "false";
        settings["Announcements:Accounts:1:Credentials:AccessToken"] = "file:/nonexistent";

        var problems = Problems(settings);

        Assert.Contains(problems, p => p.StartsWith("Announcements:Accounts:0:Credentials:AccessTokenSecret is missing", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Announcements:Accounts:1:Name 'Magazine-X' is used by another account", StringComparison.Ordinal));
    }
}
