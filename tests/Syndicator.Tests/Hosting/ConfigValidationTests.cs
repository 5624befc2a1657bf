using Microsoft.Extensions.Configuration;
using Syndicator.Hosting;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

/// <summary>
/// Configurations that are wrong but used to pass, checked in-process through the same validation the service and
/// <c>config check</c> run: each is refused naming its key and what it accepts, every problem at once.
/// </summary>
public sealed class ConfigValidationTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>A valid configuration of its own (a database and folders in a temporary folder), with <paramref name="settings"/> on top.</summary>
    private IReadOnlyList<string> Problems(Dictionary<string, string?> settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = $"Data Source={Path.Combine(dir.Path, "c.db")}",
            ["Import:InboxPath"] = Path.Combine(dir.Path, "inbox"),
            ["Feeds:OutputPath"] = Path.Combine(dir.Path, "feeds"),
            ["Digests:PickupPath"] = Path.Combine(dir.Path, "pickup"),
            ["Digests:SigningKey"] = "file:" + Path.Combine(dir.Path, "signing.key"),
        };
        foreach (var (key, value) in settings) all[key] = value;
        try
        {
            using var app = ConfigProblems.BuildValidated(() => SyndicatorHost.Build([], c => c.AddInMemoryCollection(all)));
            return [];
        }
        catch (ConfigProblemsException e)
        {
            return e.Problems;
        }
    }

    private static string Only(IReadOnlyList<string> problems, string key)
    {
        var matching = problems.Where(p => p.StartsWith(key + " ", StringComparison.Ordinal)).ToList();
        Assert.True(matching.Count == 1, $"Expected one problem for {key}; got:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
        return matching[0];
    }

    private string Secret(string name) => "file:" + dir.File(name, "a-secret-value-long-enough");

    private Dictionary<string, string?> MastodonAccount(int index, string network, bool enabled = false) => new()
    {
        [$"Announcements:Accounts:{index}:Name"] = $"account-{index}",
        [$"Announcements:Accounts:{index}:Network"] = network,
        [$"Announcements:Accounts:{index}:Enabled"] = enabled ? "true" : "false",
        [$"Announcements:Accounts:{index}:Credentials:AccessToken"] = Secret($"token-{index}"),
    };

    [Fact]
    public void Bad_ActivityPub_settings_are_listed_with_every_other_problem_instead_of_failing_the_build_of_the_app()
    {
        // Mapping the endpoints once read the validated options, so the first bad ActivityPub value threw out of the
        // build as an unhandled exception, and the other problems went unreported.
        var problems = Problems(new()
        {
            ["Site:BaseUrl"] = "https://www.opinion-weekly.net",
            ["ActivityPub:Enabled"] = "true",
            ["ActivityPub:Username"] = "",
            ["ActivityPub:ParkInboxAfterDays"] = "0",
            ["Http:FeedCacheMegabytes"] = "0",
        });

        Assert.Contains("is not a handle", Only(problems, "ActivityPub:Username"));
        Assert.Contains("1..365", Only(problems, "ActivityPub:ParkInboxAfterDays"));
        Only(problems, "Http:FeedCacheMegabytes");
    }

    // ------------------------------------------------------------------ closed sets and types

    [Fact]
    public void A_misspelt_network_is_refused_naming_the_account_and_the_networks_instead_of_the_account_disappearing()
    {
        // Enabled: its templates, credentials and links would all be checked as an X account's if it were taken for one.
        var settings = MastodonAccount(0, "Mastodon").Concat(MastodonAccount(1, "Mastodon")).Concat(MastodonAccount(2, "Mastodn", enabled: true))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        settings["Site:BaseUrl"] = "https://www.opinion-weekly.net";
        settings["Announcements:TemplatesPath"] = dir.Path; // no x.liquid here

        var problems = Problems(settings);

        var problem = Assert.Single(problems);
        Assert.StartsWith("Announcements:Accounts:2:Network 'Mastodn' is not one of X, Mastodon, Bluesky.", problem);
        Assert.Contains("Did you mean Mastodon?", problem);
    }

    [Fact]
    public void Feedback_mailbox_and_webhook_settings_are_checked_with_their_keys_and_the_fix()
    {
        var problems = Problems(new()
        {
            ["Digests:Feedback:Imap:Host"] = "imap.magazine.example",
            ["Digests:Feedback:Imap:Password"] = "hunter2",
            ["Digests:Feedback:Imap:HandledFolder"] = "inbox",
            ["Digests:Feedback:Imap:PollSeconds"] = "1",
            ["Digests:Feedback:Imap:Security"] = "Sometimes",
            ["Digests:Feedback:ReturnPath"] = "bounces+x@magazine.example",
            ["Digests:Feedback:Webhooks:Mailgun:SigningKey"] = "env:SYN_TEST_SURELY_UNSET_VARIABLE",
            ["Digests:Feedback:Webhooks:Postmark:UserName"] = "postmark",
        });

        Assert.Contains("set the mailbox's login", Only(problems, "Digests:Feedback:Imap:UserName"));
        Assert.Contains("holds the secret itself", Only(problems, "Digests:Feedback:Imap:Password"));
        Assert.Contains("same folder as Folder", Only(problems, "Digests:Feedback:Imap:HandledFolder"));
        Assert.Contains("between 5 and 3600", Only(problems, "Digests:Feedback:Imap:PollSeconds"));
        Assert.Contains("StartTls", Only(problems, "Digests:Feedback:Imap:Security"));
        Assert.Contains("already has a '+'", Only(problems, "Digests:Feedback:ReturnPath"));
        Assert.Contains("SYN_TEST_SURELY_UNSET_VARIABLE is not set", Only(problems, "Digests:Feedback:Webhooks:Mailgun:SigningKey"));
        Assert.Contains("is missing; set it to env:VARIABLE", Only(problems, "Digests:Feedback:Webhooks:Postmark:Password"));
        Assert.DoesNotContain(problems, p => p.Contains("hunter2"));
    }

    [Fact]
    public void An_account_without_a_network_is_refused_rather_than_taken_for_an_X_account()
    {
        var settings = MastodonAccount(0, "Mastodon");
        settings.Remove("Announcements:Accounts:0:Network");

        var problem = Assert.Single(Problems(settings));

        Assert.StartsWith("Announcements:Accounts:0:Network is missing; write one of X, Mastodon, Bluesky.", problem);
    }

    [Fact]
    public void A_misfire_policy_that_does_not_exist_is_refused_and_the_job_keeps_its_other_problems()
    {
        var problems = Problems(new() { ["Jobs:DropFolderImport:Misfire"] = "Later", ["Jobs:DropFolderImport:IntervalSeconds"] = "-5" });

        Assert.StartsWith("Jobs:DropFolderImport:Misfire 'Later' is not one of FireNow, Skip.", Only(problems, "Jobs:DropFolderImport:Misfire"));
        // The binder drops a dictionary entry it cannot convert, so this one went unseen together with the job's settings.
        Assert.Contains(problems, p => p.StartsWith("Jobs:DropFolderImport:IntervalSeconds is -5", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Storage:Provider", "Oracle", new[] { "Sqlite", "PostgreSql" })]
    [InlineData("Storage:Provider", "1", new[] { "Sqlite", "PostgreSql" })] // the binder would take the number
    [InlineData("Storage:Provider", "Sqlite,PostgreSql", new[] { "Sqlite", "PostgreSql" })] // and a flags list
    [InlineData("Digests:Smtp:Security", "SSL", new[] { "Auto", "StartTls", "Tls", "None" })]
    [InlineData("Digests:Schedule", "Hourly", new[] { "Cron", "SubscriberLocalHour" })]
    [InlineData("Digests:WeeklyDay", "Lundi", new[] { "Monday", "Sunday" })]
    [InlineData("Jobs:DailyDigest:Misfire", "پرش", new[] { "FireNow", "Skip" })]
    public void Every_closed_set_lists_its_allowed_values_under_the_key(string key, string value, string[] allowed)
    {
        var settings = new Dictionary<string, string?> { [key] = value };
        if (key.StartsWith("Jobs:DailyDigest", StringComparison.Ordinal)) settings["Jobs:DailyDigest:Cron"] = "0 0 7 * * ?";

        var problem = Only(Problems(settings), key);

        Assert.StartsWith($"{key} '{value}' is not one of ", problem);
        foreach (var name in allowed) Assert.Contains(name, problem);
    }

    [Fact]
    public void A_Mastodon_visibility_outside_the_four_is_refused_with_the_four()
    {
        var settings = MastodonAccount(0, "Mastodon");
        settings["Announcements:Accounts:0:Visibility"] = "everyone";

        var problem = Only(Problems(settings), "Announcements:Accounts:0:Visibility");

        Assert.Contains("public, unlisted, private, direct", problem);
    }

    [Theory]
    [InlineData("Digests:Smtp:Port", "abc", "a whole number from 1 to 65535")]
    [InlineData("Digests:Smtp:Port", "587.5", "a whole number from 1 to 65535")]
    [InlineData("Feeds:ItemsPerFeed", "99999999999", "a whole number from 1 to 1000")]
    [InlineData("Storage:MigrateOnStart", "yes", "true or false")]
    [InlineData("Digests:Smtp:MessagesPerSecond", "fast", "a number from 0.1 to 10000")]
    [InlineData("History:SentDeliveryRetentionDays", "forever", "a whole number from 7 to 36500")]
    [InlineData("Http:FeedCacheMegabytes", "lots", "a whole number from 1 to 65536")]
    public void A_value_of_the_wrong_type_names_the_key_and_what_it_accepts_not_the_binders_message(string key, string value, string accepts)
    {
        var problems = Problems(new() { [key] = value });

        var problem = Only(problems, key);
        Assert.StartsWith($"{key} '{value}' is not {accepts}", problem);
        Assert.DoesNotContain(problems, p => p.Contains("Failed to convert", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("65537")]
    public void A_feed_cache_size_outside_its_range_is_refused_naming_the_key_and_the_range(string megabytes)
    {
        var problems = Problems(new() { ["Http:FeedCacheMegabytes"] = megabytes });

        Assert.Contains("Http:FeedCacheMegabytes must be between 1 and 65536 (MiB of feed files kept in memory).", problems);
    }

    [Fact]
    public void A_type_error_does_not_hide_the_other_problems_of_its_section()
    {
        var problems = Problems(new()
        {
            ["Digests:Smtp:Port"] = "abc",
            ["Digests:MaxArticles"] = "0",
            ["Digests:FromAddress"] = "not-an-address",
            ["Digests:Subject"] = "{% if %}",
            ["Storage:Provider"] = "Oracle",
            ["Storage:PasswordFile"] = Path.Combine(dir.Path, "missing-password"),
        });

        Only(problems, "Digests:Smtp:Port");
        Assert.Contains(problems, p => p.StartsWith("Digests:MaxArticles must be between 1 and 500", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Digests:FromAddress is not an e-mail address", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Digests:Subject is not valid Liquid", StringComparison.Ordinal));
        Only(problems, "Storage:Provider");
        Assert.Contains(problems, p => p.StartsWith("Storage:PasswordFile names", StringComparison.Ordinal));
    }

    [Fact]
    public void A_list_written_as_one_value_and_a_value_written_as_a_section_are_refused()
    {
        var problems = Problems(new()
        {
            ["Feeds:Hubs"] = "https://pubsubhubbub.appspot.com/",
            ["Site:Title:En"] = "The Magazine",
            ["Digests:Smtp"] = "smtp.relay.net",
        });

        Assert.Contains("is a single value, but it is a list", Only(problems, "Feeds:Hubs"));
        Assert.Contains(problems, p => p.StartsWith("Site:Title is written as a section, but it takes a single value", StringComparison.Ordinal));
        Assert.Contains("is a single value, but it is a section with the keys Host, Port", Only(problems, "Digests:Smtp"));
    }

    [Fact]
    public void A_hostile_value_is_shown_shortened_with_its_control_characters_visible()
    {
        var value = "Sqlite\r\nInjected: line" + new string('x', 500);

        var problem = Only(Problems(new() { ["Storage:Provider"] = value }), "Storage:Provider");

        Assert.DoesNotContain('\r', problem);
        Assert.DoesNotContain('\n', problem);
        Assert.Contains("\\u000D\\u000A", problem);
        Assert.True(problem.Length < 300, problem);
    }

    // ------------------------------------------------------------------ public URLs

    [Fact]
    public void Confirm_links_on_loopback_are_refused_once_a_real_SMTP_relay_is_configured()
    {
        var problems = Problems(new() { ["Digests:Smtp:Host"] = "smtp.relay-provider.net", ["Site:BaseUrl"] = "https://www.opinion-weekly.net" });

        var problem = Assert.Single(problems);
        Assert.StartsWith("Digests:PublicUrl 'http://127.0.0.1:5080' points at this machine, but links built on it go to readers through Digests:Smtp:Host (smtp.relay-provider.net)", problem);
        Assert.Contains("Site:AllowLocalUrls", problem);
    }

    [Fact]
    public void The_shipped_example_site_is_refused_once_a_social_account_is_enabled()
    {
        var problems = Problems(MastodonAccount(0, "Mastodon", enabled: true));

        var problem = Only(problems, "Site:BaseUrl");
        Assert.StartsWith("Site:BaseUrl 'https://magazine.example' points at an example domain", problem);
        Assert.Contains("account-0", problem);
    }

    [Fact]
    public void Without_real_channels_the_shipped_configuration_passes_as_it_is()
    {
        Assert.Empty(Problems([]));
    }

    [Fact]
    public void A_production_configuration_with_https_addresses_passes()
    {
        var settings = MastodonAccount(0, "Mastodon", enabled: true);
        settings["Site:BaseUrl"] = "https://www.opinion-weekly.net";
        settings["Feeds:PublicUrl"] = "https://cdn.opinion-weekly.net/feeds";
        settings["Digests:PublicUrl"] = "https://syndicator.opinion-weekly.net";
        settings["Digests:Smtp:Host"] = "smtp.relay-provider.net";

        Assert.Empty(Problems(settings));
    }

    [Fact]
    public void Site_AllowLocalUrls_lets_a_trial_machine_use_loopback_and_example_addresses_with_a_local_mail_catcher()
    {
        var settings = MastodonAccount(0, "Mastodon", enabled: true);
        settings["Digests:Smtp:Host"] = "127.0.0.1";
        settings["Feeds:PublicUrl"] = "http://192.168.1.20:5080/feeds";
        settings["Site:AllowLocalUrls"] = "true";

        Assert.Empty(Problems(settings));
    }

    [Fact]
    public void Plain_http_is_refused_for_a_public_host_unless_local_use_is_declared()
    {
        var refused = Only(Problems(new() { ["Site:BaseUrl"] = "http://www.opinion-weekly.net" }), "Site:BaseUrl");
        Assert.Contains("is plain http", refused);
        Assert.Contains("https://www.opinion-weekly.net", refused);

        Assert.Empty(Problems(new() { ["Site:BaseUrl"] = "http://www.opinion-weekly.net", ["Site:AllowLocalUrls"] = "true" }));
    }

    [Theory]
    [InlineData("javascript:alert(1)")]
    [InlineData("data:text/html,<script>alert(1)</script>")]
    [InlineData("magazine.example")]
    [InlineData("//www.opinion-weekly.net")]
    [InlineData("ftp://www.opinion-weekly.net")]
    [InlineData("https://www.opinion-weekly.net/\r\nX-Injected: 1")]
    [InlineData("https://www.opinion-weekly.net/?utm_source=feed")]
    [InlineData("https://www.opinion-weekly.net/#top")]
    [InlineData("https://")]
    public void A_site_address_that_is_not_a_plain_absolute_https_URL_is_refused(string value)
    {
        var problem = Only(Problems(new() { ["Site:BaseUrl"] = value }), "Site:BaseUrl");

        Assert.DoesNotContain('\n', problem);
    }

    [Fact]
    public void A_site_address_with_a_password_in_it_is_refused_without_repeating_it()
    {
        var problem = Only(Problems(new() { ["Digests:PublicUrl"] = "https://editor:hunter2@syndicator.opinion-weekly.net" }), "Digests:PublicUrl");

        Assert.Contains("user name or password", problem);
        Assert.DoesNotContain("hunter2", problem);
    }

    [Theory]
    [InlineData("https://مجله.ایران")] // an international domain name
    [InlineData("https://www.opinion-weekly.net/fa/مجله")] // a path in Persian
    [InlineData("https://www.opinion-weekly.net:8443/")]
    public void An_international_or_non_default_https_address_is_accepted(string value)
    {
        var settings = MastodonAccount(0, "Mastodon", enabled: true);
        settings["Site:BaseUrl"] = value;

        Assert.Empty(Problems(settings));
    }

    // ------------------------------------------------------------------ secrets

    [Theory]
    [InlineData("Host=db.internal;Database=syndicator;Username=syndicator;Password=hunter2")]
    [InlineData("Host=db.internal;Database=syndicator;Username=syndicator;PWD=hunter2")]
    [InlineData("host=db.internal;database=syndicator;username=syndicator;password=hunter2")]
    public void A_PostgreSQL_password_written_into_the_connection_string_is_refused_with_the_three_ways_to_give_it(string connectionString)
    {
        var problem = Only(Problems(new() { ["Storage:Provider"] = "PostgreSql", ["Storage:ConnectionString"] = connectionString }), "Storage:ConnectionString");

        Assert.Contains("holds the database password itself", problem);
        Assert.Contains("Storage:PasswordFile", problem);
        Assert.Contains("PGPASSWORD", problem);
        Assert.Contains("Passfile", problem);
        Assert.DoesNotContain("hunter2", problem);
    }

    [Fact]
    public void A_PostgreSQL_connection_string_without_a_password_and_a_password_file_pass()
    {
        Assert.Empty(Problems(new()
        {
            ["Storage:Provider"] = "PostgreSql",
            ["Storage:ConnectionString"] = "Host=db.internal;Database=syndicator;Username=syndicator",
            ["Storage:PasswordFile"] = dir.File("db-password", "hunter2"),
        }));
    }

    // ------------------------------------------------------------------ writable folders

    [Fact]
    public void Every_folder_that_cannot_be_written_is_reported_at_once_and_nothing_is_created()
    {
        var blocker = dir.File("not-a-folder", "a file where a folder is expected");
        var before = Directory.GetFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories).Order().ToList();

        var problems = Problems(new()
        {
            ["Storage:ConnectionString"] = $"Data Source={Path.Combine(blocker, "db", "syndicator.db")}",
            ["Import:InboxPath"] = Path.Combine(blocker, "inbox"),
            ["Feeds:OutputPath"] = Path.Combine(blocker, "feeds"),
            ["Digests:PickupPath"] = Path.Combine(blocker, "pickup"),
            ["Digests:SigningKey"] = "file:" + Path.Combine(blocker, "keys", "signing.key"),
        });

        foreach (var key in new[] { "Storage:ConnectionString", "Import:InboxPath", "Feeds:OutputPath", "Digests:PickupPath", "Digests:SigningKey" })
        {
            var problem = Only(problems, key);
            Assert.Contains($"{blocker} is a file, not a folder", problem);
            Assert.Contains("write access", problem);
        }
        Assert.Equal(before, Directory.GetFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories).Order().ToList());
    }

    [Fact]
    public void A_folder_on_a_file_system_that_refuses_writes_is_reported_even_to_root()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("/proc is Linux's.");
        // Nobody, root included, may create a file at the top of /proc.
        var problem = Only(Problems(new() { ["Feeds:OutputPath"] = "/proc/syndicator-feeds" }), "Feeds:OutputPath");

        Assert.Contains("it does not exist and cannot be created: /proc cannot be written", problem);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_folder_without_write_permission_is_reported()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("POSIX permissions.");
        if (Environment.UserName == "root") Assert.Skip("root writes whatever the permissions; the /proc and file-in-the-way cases cover root.");
        var locked = Directory.CreateDirectory(Path.Combine(dir.Path, "locked")).FullName;
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            var problem = Only(Problems(new() { ["Digests:PickupPath"] = locked }), "Digests:PickupPath");
            Assert.Contains("it cannot be written", problem);
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public void The_pickup_folder_is_not_checked_when_mail_goes_to_a_relay()
    {
        var blocker = dir.File("not-a-folder", "x");

        Assert.Empty(Problems(new()
        {
            ["Digests:PickupPath"] = Path.Combine(blocker, "pickup"),
            ["Digests:Smtp:Host"] = "smtp.relay-provider.net",
            ["Digests:PublicUrl"] = "https://syndicator.opinion-weekly.net",
            ["Site:BaseUrl"] = "https://www.opinion-weekly.net",
        }));
    }

    // ------------------------------------------------------------------ JSON files

    [Fact]
    public void A_JSON_syntax_error_names_the_file_line_and_column_counted_in_characters()
    {
        // Line 3 holds Persian (2 bytes a letter) before the missing comma, so a byte count would be off.
        var path = dir.File("appsettings.json", "{\n  \"Site\": {\n    \"Title\": \"مجله اندیشه\" \"BaseUrl\": \"https://www.opinion-weekly.net\"\n  }\n}\n");

        var problem = ConfigFiles.Problem(path);

        Assert.NotNull(problem);
        Assert.StartsWith($"{path}, line 3, column 28: ", problem);
        Assert.Contains("Fix the JSON there", problem);
    }

    [Fact]
    public void A_key_given_twice_in_one_object_names_the_second_place()
    {
        var path = dir.File("appsettings.json", "{\n  \"Site\": { \"Title\": \"A\" },\n  \"Storage\": {},\n  \"site\": { \"Title\": \"B\" }\n}");

        Assert.Equal($"{path}, line 4, column 3: the key \"site\" is given twice in the same object (keys are compared without case); keep one.", ConfigFiles.Problem(path));
    }

    [Theory]
    [InlineData("[ { \"Site\": {} } ]", "holds a list")]
    [InlineData("\"Site\"", "holds a single value")]
    [InlineData("  \n ", "is empty")]
    [InlineData("{ \"Site\": { \"Title\": \"unterminated }", "line 1")]
    public void A_file_that_is_not_one_JSON_object_is_refused_with_its_name(string content, string expected)
    {
        var path = dir.File("appsettings.json", content);

        var problem = ConfigFiles.Problem(path);

        Assert.NotNull(problem);
        Assert.StartsWith(path, problem);
        Assert.Contains(expected, problem);
    }

    [Fact]
    public void Comments_trailing_commas_and_a_byte_order_mark_are_accepted_as_the_configuration_provider_accepts_them()
    {
        var path = Path.Combine(dir.Path, "appsettings.json");
        File.WriteAllText(path, "{\n  // the publication\n  \"Site\": { \"Title\": \"A\", },\n}\n", new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: true));

        Assert.Null(ConfigFiles.Problem(path));
    }

    // ------------------------------------------------------------------ telemetry

    [Theory]
    [InlineData("otel-collector:4317")]
    [InlineData("javascript:alert(1)")]
    [InlineData("/v1/traces")]
    [InlineData("http://user:secret@collector:4317")]
    public void An_OTLP_endpoint_that_is_not_an_absolute_http_address_is_refused_naming_the_key(string endpoint)
    {
        var problem = Only(Problems(new() { ["Telemetry:OtlpEndpoint"] = endpoint }), "Telemetry:OtlpEndpoint");
        Assert.Contains("http://otel-collector:4317", problem);
    }

    [Fact]
    public void An_OTLP_endpoint_that_is_an_http_address_or_none_is_accepted()
    {
        Assert.Empty(Problems(new() { ["Telemetry:OtlpEndpoint"] = "http://127.0.0.1:4317" }));
        Assert.Empty(Problems(new() { ["Telemetry:OtlpEndpoint"] = "" }));
    }
}
