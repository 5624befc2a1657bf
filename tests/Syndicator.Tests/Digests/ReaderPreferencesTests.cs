using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using MimeKit;
using Syndicator.Digests;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>
/// The reader's side over real HTTP against the running app: the preferences link every digest carries (frequency,
/// zone and follows changed through the page and honoured by the next plan), links that are forged, altered, expired or
/// for an unsubscribed reader, and the sign-up page with authors and tags in any script and hostile form values.
/// </summary>
public sealed partial class ReaderPreferencesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Persian = "مریم رضایی";
    private const string Accented = "Élodie Ωmega";
    private const string PersianTag = "حقوق\u200Cبشر";
    private const string EmojiAuthor = "Zoë 🌷 Ahmed";
    private const string CjkAuthor = "李小龙";

    /// <summary>The app without its sample articles, so the authors and tags are exactly the ones a test imports.</summary>
    private static Task<(DigestWorld World, HttpClient Http)> StartAsync(Dictionary<string, string?>? extra = null) =>
        SubscriptionHttpTests.StartAsync(new Dictionary<string, string?>(extra ?? new Dictionary<string, string?>()) { ["Import:SamplesPath"] = "" });

    private static async Task ImportCastAsync(DigestWorld world, string suffix)
    {
        await world.ImportAsync($"Rivers {suffix}", "Jane Doe", "Water");
        await world.ImportAsync($"Courts {suffix}", Persian, PersianTag);
        await world.ImportAsync($"Markets {suffix}", Accented, "Économie");
        await world.ImportAsync($"Poems {suffix}", EmojiAuthor, "🌍climate");
        await world.ImportAsync($"Films {suffix}", CjkAuthor, "电影");
    }

    private static string PreferencesToken(MimeMessage digest)
    {
        var link = PreferencesLink().Match(digest.TextBody!);
        Assert.True(link.Success, "the text part has no preferences link");
        // The HTML part carries the same link (HTML-encoded: &amp; would show there if the URL had more parameters).
        Assert.Contains(link.Value, digest.HtmlBody);
        return Uri.UnescapeDataString(link.Groups[1].Value);
    }

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_preferences_link_in_a_digest_changes_frequency_zone_and_follows_and_the_next_plan_honours_them()
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        await world.SubscribeAsync("reader@example.com");
        await ImportCastAsync(world, "1");
        await world.RunDailyAsync(TimeSpan.FromHours(1));
        var first = Assert.Single(world.Mailed());
        Assert.Equal(5, DigestWorld.Titles(first).Count());
        var token = PreferencesToken(first);

        // The page shows the reader's settings and every author and tag, in its own script.
        var get = await http.GetAsync("/preferences?token=" + Uri.EscapeDataString(token), Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var page = await get.Content.ReadAsStringAsync(Ct);
        Assert.Contains("reader@example.com", page);
        foreach (var name in new[] { Persian, Accented, EmojiAuthor, CjkAuthor, PersianTag, "🌍climate" })
            Assert.Contains($"value=\"{WebUtility.HtmlEncode(name)}\"", page);
        Assert.Contains("<option value=\"UTC\" selected>", page);
        // A GET changes nothing (mail scanners follow links).
        Assert.Equal(DigestFrequency.Daily, (await world.App.Get<SubscriberStore>().FindAsync("reader@example.com", Ct))!.Frequency);

        var post = await http.PostAsync("/preferences", Form(("token", token), ("frequency", "weekly"), ("tz", "Asia/Tehran"),
            ("author", Accented), ("author", Persian), ("tag", "🌍climate")), Ct);
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Contains("Preferences saved", await post.Content.ReadAsStringAsync(Ct));
        var saved = (await world.App.Get<SubscriberStore>().FindAsync("reader@example.com", Ct))!;
        Assert.Equal((DigestFrequency.Weekly, "Asia/Tehran", SubscriberState.Confirmed), (saved.Frequency, saved.TimeZone, saved.State));
        Assert.Equal([Accented, Persian], saved.FollowedAuthors.Order(StringComparer.Ordinal));
        Assert.Equal(["🌍climate"], saved.FollowedTags);

        // The next day's daily run sends them nothing; the weekly one carries only what they follow.
        await ImportCastAsync(world, "2");
        await world.RunDailyAsync(TimeSpan.FromDays(1));
        Assert.Single(world.Mailed());
        world.Time.Advance(TimeSpan.FromMinutes(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Weekly, manual: false, Ct);
        while ((await world.App.SendEmailAsync(null, Ct)).Attempted > 0) { }
        var weekly = world.Mailed().Last();
        Assert.Equal(2, world.Mailed().Count);
        Assert.Equal(["Courts 2", "Markets 2", "Poems 2"], DigestWorld.Titles(weekly).Order(StringComparer.Ordinal));
        Assert.Contains("weekly digest", weekly.TextBody);
        // The period is counted in the reader's new zone: Tehran is 3.5 hours ahead, so this is its ISO week.
        var period = DigestPlanner.Period(saved, world.Time.GetUtcNow());
        Assert.Equal(period, (await world.App.Get<SubscriberStore>().FindAsync("reader@example.com", Ct))!.LastPeriod);

        // Following nothing again means everything.
        var everything = await http.PostAsync("/preferences", Form(("token", token), ("frequency", "daily"), ("tz", "Asia/Tehran")), Ct);
        Assert.Equal(HttpStatusCode.OK, everything.StatusCode);
        Assert.Contains("every new article", await everything.Content.ReadAsStringAsync(Ct));
        var cleared = (await world.App.Get<SubscriberStore>().FindAsync("reader@example.com", Ct))!;
        Assert.Empty(cleared.FollowedAuthors);
        Assert.Empty(cleared.FollowedTags);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("forged", HttpStatusCode.BadRequest, "not valid")]
    [InlineData("altered", HttpStatusCode.BadRequest, "not valid")]
    [InlineData("other-subscriber", HttpStatusCode.BadRequest, "not valid")]
    [InlineData("unsubscribe-token", HttpStatusCode.BadRequest, "not valid")]
    [InlineData("from-the-future", HttpStatusCode.BadRequest, "not valid")]
    [InlineData("missing", HttpStatusCode.BadRequest, "not valid")]
    [InlineData("expired", HttpStatusCode.Gone, "expired")]
    [InlineData("unsubscribed", HttpStatusCode.Gone, "no longer receives")]
    public async Task A_forged_altered_expired_or_stale_preferences_link_is_refused_and_changes_nothing(string kind, HttpStatusCode status, string says)
    {
        var (world, http) = await StartAsync(new() { ["Subscriptions:PreferencesLinkDays"] = "30" });
        await using var _ = world;
        using var __ = http;
        var reader = await world.SubscribeAsync("reader@example.com");
        var other = await world.SubscribeAsync("other@example.com");
        var tokens = world.App.Get<SubscriberTokens>();
        var now = world.Time.GetUtcNow();
        var good = tokens.Preferences(reader.Id, now);
        var token = kind switch
        {
            "forged" => $"{reader.Id}.{now.ToUnixTimeSeconds()}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "altered" => good[..^1] + (good[^1] == 'A' ? 'B' : 'A'),
            // The other reader's signature on this reader's id: each part is genuine, the whole is not.
            "other-subscriber" => reader.Id + tokens.Preferences(other.Id, now)[other.Id.Length..],
            "unsubscribe-token" => tokens.Unsubscribe(reader.Id),
            "from-the-future" => tokens.Preferences(reader.Id, now.AddDays(1)),
            "missing" => "",
            _ => good,
        };
        if (kind == "expired") world.Time.Advance(TimeSpan.FromDays(31));
        if (kind == "unsubscribed") await world.App.Get<SubscriberStore>().UnsubscribeAsync(reader.Id, "test", Ct);

        var get = await http.GetAsync("/preferences?token=" + Uri.EscapeDataString(token), Ct);
        var post = await http.PostAsync("/preferences", Form(("token", token), ("frequency", "weekly"), ("tz", "Asia/Tokyo")), Ct);

        Assert.Equal((status, status), (get.StatusCode, post.StatusCode));
        var body = await post.Content.ReadAsStringAsync(Ct);
        Assert.Contains(says, body);
        Assert.DoesNotContain("name=\"frequency\"", body);
        var after = (await world.App.Get<SubscriberStore>().FindAsync("reader@example.com", Ct))!;
        Assert.Equal((DigestFrequency.Daily, "UTC"), (after.Frequency, after.TimeZone));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_sign_up_page_offers_every_zone_the_sites_zone_first_and_the_authors_and_tags_in_their_own_script()
    {
        var (world, http) = await StartAsync(new() { ["Site:Title"] = "مجله «نو» & Co", ["Site:TimeZone"] = "Europe/Berlin", ["Site:AccentColor"] = "#8a0b4f", ["Site:Language"] = "fa" });
        await using var _ = world;
        using var __ = http;
        await ImportCastAsync(world, "1");

        var response = await http.GetAsync("/subscribe", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("<html lang=\"fa\">", page);
        Assert.Contains(WebUtility.HtmlEncode("مجله «نو» & Co"), page);
        Assert.Contains("#8a0b4f", page);
        Assert.Contains("<option value=\"Europe/Berlin\" selected>", page);
        var zones = Regex.Match(page, "<select id=\"tz\".*?</select>", RegexOptions.Singleline).Value;
        Assert.Single(Regex.Matches(zones, " selected"));
        foreach (var zone in new[] { "Asia/Tehran", "Asia/Kolkata", "America/Argentina/Buenos_Aires", "Pacific/Chatham", "UTC" })
            Assert.Contains($"<option value=\"{zone}\"", page);
        Assert.True(Regex.Matches(page, "<option value=\"[A-Za-z]+/").Count > 300, "the zone list should hold the IANA zones of this system");
        foreach (var name in new[] { Persian, Accented, EmojiAuthor, CjkAuthor, "Jane Doe" })
            Assert.Contains($"name=\"author\" value=\"{WebUtility.HtmlEncode(name)}\"", page);
        foreach (var tag in new[] { PersianTag, "🌍climate", "Économie", "电影", "Water" })
            Assert.Contains($"name=\"tag\" value=\"{WebUtility.HtmlEncode(tag)}\"", page);

        // The one script is allowed by its hash, and nothing else is.
        var policy = string.Join("; ", response.Headers.GetValues("Content-Security-Policy"));
        var script = Regex.Match(page, "<script>(.*?)</script>", RegexOptions.Singleline).Groups[1].Value;
        Assert.Contains($"script-src 'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(script)))}'", policy);
        Assert.Contains("frame-ancestors 'none'", policy);
        Assert.Contains("resolvedOptions().timeZone", script);

        // Signing up with follows in several scripts stores them as the store spells them, whatever case the form sent.
        var post = await http.PostAsync("/subscribe", Form(("email", "قاری@مثال.ایران"), ("name", "مریم 🌷"), ("frequency", "weekly"), ("tz", "Asia/Tehran"),
            ("author", Persian), ("author", EmojiAuthor), ("author", "jane doe"), ("tag", PersianTag), ("tag", "电影")), Ct);
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        var subscriber = (await world.App.Get<SubscriberStore>().FindAsync("قاری@مثال.ایران", Ct))!;
        Assert.Equal((SubscriberState.Pending, DigestFrequency.Weekly, "Asia/Tehran"), (subscriber.State, subscriber.Frequency, subscriber.TimeZone));
        Assert.Equal(new[] { "Jane Doe", EmojiAuthor, Persian }.Order(StringComparer.Ordinal), subscriber.FollowedAuthors.Order(StringComparer.Ordinal));
        Assert.Equal(new[] { PersianTag, "电影" }.Order(StringComparer.Ordinal), subscriber.FollowedTags.Order(StringComparer.Ordinal));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("tz", "Europe/London\r\nBcc: eve@evil.example", "time zone 'Europe/London\\u000D\\u000ABcc")]
    [InlineData("tz", "../../../etc/passwd", "time zone '../../../etc/passwd' is unknown")]
    [InlineData("tz", "Mars/Olympus_Mons", "time zone 'Mars/Olympus_Mons' is unknown")]
    [InlineData("tz", "huge", "time zone 'ZZZZ")]
    [InlineData("tz", "Asia/Tehran\u0000", "time zone: the value holds a NUL character")]
    [InlineData("author", "Jane\u0000Doe", "authors: the value holds a NUL character")]
    [InlineData("frequency", "hourly", "how often: 'hourly' is not offered; choose daily or weekly")]
    [InlineData("frequency", "weekly\r\n", "")]
    [InlineData("author", "Nobody Known", "authors: 'Nobody Known' is not an author of this site")]
    [InlineData("author", "Jane Doe\r\nX-Evil: 1", "authors: 'Jane Doe\\u000D\\u000AX-Evil: 1' is not an author")]
    [InlineData("author", "huge", "authors: a value of 5000 characters is not an author")]
    [InlineData("author", "<script>alert(1)</script>", "authors: '<script>alert(1)</script>' is not an author")]
    [InlineData("tag", "../Water", "tags: '../Water' is not a tag of this site")]
    [InlineData("tag", "Water\u202E", "tags: 'Water\\u202E' is not a tag")]
    public async Task A_hostile_sign_up_value_is_refused_with_a_message_naming_its_field_and_nothing_is_stored(string field, string value, string says)
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        await ImportCastAsync(world, "1");
        var fields = new Dictionary<string, string> { ["email"] = "reader@example.com", ["frequency"] = "daily", ["tz"] = "UTC" };
        fields[field] = value == "huge" ? new string('Z', 5000) : value;

        var response = await http.PostAsync("/subscribe", new FormUrlEncodedContent(fields), Ct);

        if (says.Length == 0)
        {
            // Surrounding white space is not hostile: trimmed, and the sign-up goes through.
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return;
        }
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var page = WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync(Ct));
        Assert.Contains(says, page);
        Assert.DoesNotContain("<script>alert(1)</script>", await response.Content.ReadAsStringAsync(Ct));
        Assert.DoesNotContain(new string('Z', 100), page);
        // The form comes back with the address kept, to correct the one field (a NUL stops the form reader before any field is read).
        if (!says.Contains("NUL", StringComparison.Ordinal)) Assert.Contains("value=\"reader@example.com\"", page);
        Assert.Null(await world.App.Get<SubscriberStore>().FindAsync("reader@example.com", Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Many_unknown_follows_are_summed_up_not_listed_one_by_one()
    {
        var (world, http) = await StartAsync();
        await using var _ = world;
        using var __ = http;
        var fields = new List<KeyValuePair<string, string>> { new("email", "reader@example.com"), new("tz", "UTC") };
        fields.AddRange(Enumerable.Range(0, 500).Select(i => new KeyValuePair<string, string>("tag", $"t{i}")));

        var response = await http.PostAsync("/subscribe", new FormUrlEncodedContent(fields), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("tags: 497 more value(s) are not tags of this site", page);
        Assert.Equal(4, Regex.Matches(page, "<li>tags: ").Count);
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("Site:TimeZone", "Mars/Olympus_Mons", "Site:TimeZone is not a known time zone")]
    [InlineData("Site:AccentColor", "red; background:url(https://evil.example)", "Site:AccentColor must be a colour written #RRGGBB")]
    public async Task A_site_zone_or_accent_colour_the_pages_cannot_use_is_refused_at_start_up_naming_the_key(string key, string value, string says)
    {
        await using var app = await Syndicator.Tests.Support.TestApp.CreateAsync(settings: new() { [key] = value });

        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => app.Get<Microsoft.Extensions.Options.IOptions<Syndicator.Shared.SiteOptions>>().Value);

        Assert.Contains(says, error.Message);
    }

    [GeneratedRegex(@"https?://\S+/preferences\?token=(\S+)")]
    private static partial Regex PreferencesLink();
}
