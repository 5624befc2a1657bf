using MimeKit;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;

using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

public sealed class DigestContentTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Each_subscriber_gets_the_articles_since_their_previous_digest_filtered_by_what_they_follow(StorageProvider provider)
    {
        await using var world = await DigestWorld.CreateAsync(provider);
        await world.SubscribeAsync("all@example.com");
        await world.SubscribeAsync("jane-fan@example.com", authors: ["Jane Doe"]);
        await world.SubscribeAsync("oil@example.com", tags: ["oil"]);

        await world.ImportAsync("Monday by Jane", "Jane Doe", "politics");
        await world.ImportAsync("Monday on oil", "Omar Khan", "Oil");
        await world.RunDailyAsync(TimeSpan.FromHours(1));

        await world.ImportAsync("Tuesday by Omar", "Omar Khan", "politics");
        await world.RunDailyAsync(TimeSpan.FromDays(1));

        var byRecipient = world.Mailed().GroupBy(m => m.To.Mailboxes.Single().Address).ToDictionary(g => g.Key, g => g.Select(m => DigestWorld.Titles(m).Order().ToList()).ToList());
        Assert.Equal([["Monday by Jane", "Monday on oil"], ["Tuesday by Omar"]], byRecipient["all@example.com"]);
        Assert.Equal([["Monday by Jane"]], byRecipient["jane-fan@example.com"]);
        Assert.Equal([["Monday on oil"]], byRecipient["oil@example.com"]);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Nothing_new_means_no_email_and_the_next_digest_does_not_repeat_anything()
    {
        await using var world = await DigestWorld.CreateAsync();
        await world.SubscribeAsync("reader@example.com");
        await world.ImportAsync("First", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));
        await world.RunDailyAsync(TimeSpan.FromDays(1));
        await world.RunDailyAsync(TimeSpan.FromDays(1));

        var mailed = Assert.Single(world.Mailed());
        Assert.Equal(["First"], DigestWorld.Titles(mailed));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_late_import_of_an_old_article_goes_into_the_next_digest_rather_than_being_missed()
    {
        await using var world = await DigestWorld.CreateAsync();
        await world.SubscribeAsync("reader@example.com");
        await world.ImportAsync("On time", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));

        await world.ImportAsync("Imported late but dated last week", "Jane Doe", DigestWorld.Start.AddDays(-7));
        await world.RunDailyAsync(TimeSpan.FromDays(1));

        Assert.Equal([["On time"], ["Imported late but dated last week"]], world.Mailed().Select(m => DigestWorld.Titles(m).ToList()));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_second_run_in_the_same_period_sends_nothing_even_with_new_articles_and_they_go_out_next_period()
    {
        await using var world = await DigestWorld.CreateAsync();
        await world.SubscribeAsync("reader@example.com");
        await world.ImportAsync("Morning", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));
        await world.ImportAsync("Afternoon", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(6));
        Assert.Single(world.Mailed());

        await world.RunDailyAsync(TimeSpan.FromDays(1));
        Assert.Equal([["Morning"], ["Afternoon"]], world.Mailed().Select(m => DigestWorld.Titles(m).ToList()));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_new_subscriber_first_digest_looks_back_one_period()
    {
        await using var world = await DigestWorld.CreateAsync();
        await world.ImportAsync("Two days old", "Jane Doe");
        world.Time.Advance(TimeSpan.FromDays(2));
        await world.ImportAsync("Twelve hours old", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(12));
        await world.SubscribeAsync("new@example.com");

        await world.RunDailyAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(["Twelve hours old"], DigestWorld.Titles(Assert.Single(world.Mailed())));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_digest_carries_list_unsubscribe_one_click_headers_a_stable_message_id_and_both_text_and_html()
    {
        await using var world = await DigestWorld.CreateAsync(settings: new() { ["Digests:ReplyTo"] = "letters@magazine.example", ["Digests:PublicUrl"] = "https://syndicator.magazine.example" });
        await world.SubscribeAsync("reader@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));

        var message = Assert.Single(world.Mailed());
        var unsubscribe = message.Headers[HeaderId.ListUnsubscribe] ?? "";
        Assert.Matches("^<https://syndicator\\.magazine\\.example/unsubscribe\\?token=[^>]+>, <mailto:digest@magazine\\.example\\?subject=unsubscribe%20[0-9a-f-]{36}\\.[A-Za-z0-9_-]{43}>$", unsubscribe.Replace("\r\n", "").Replace(" <", "<").Replace(",<", ", <"));
        Assert.Equal("List-Unsubscribe=One-Click", message.Headers[HeaderId.ListUnsubscribePost]);
        Assert.Equal("letters@magazine.example", message.ReplyTo.Mailboxes.Single().Address);
        Assert.Equal("digest@magazine.example", message.From.Mailboxes.Single().Address);
        Assert.Matches("^syndicator-[0-9a-f]{32}@magazine\\.example$", message.MessageId);
        Assert.Equal("The Opinion Magazine: 1 new article", message.Subject);
        Assert.IsType<MultipartAlternative>(message.Body);
        Assert.Contains("style=\"", message.HtmlBody);
        Assert.Contains("Headline", message.HtmlBody);
        Assert.DoesNotContain("<style", message.HtmlBody);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_persian_and_emoji_subject_survives_the_wire_and_each_envelope_header_is_written_once()
    {
        await using var world = await DigestWorld.CreateAsync(settings: new() { ["Digests:Subject"] = "{{ first_title }}", ["Digests:FromName"] = "مجله — Ünïcode 🌍" });
        await world.SubscribeAsync("reader@example.com");
        await world.ImportAsync("جنگ آب 🌊 در خاورمیانه", "Jane Doe");
        await world.RunDailyAsync(TimeSpan.FromHours(1));

        var message = Assert.Single(world.Mailed());
        Assert.Equal("جنگ آب 🌊 در خاورمیانه", message.Subject);
        Assert.Equal("مجله — Ünïcode 🌍", message.From.Mailboxes.Single().Name);
        // Made with its own headers: none left behind from MimeKit's defaults (an empty Subject, a random Message-Id).
        Assert.Equal(["From", "Date", "Subject", "Message-Id"],
            message.Headers.Where(h => h.Id is HeaderId.From or HeaderId.Date or HeaderId.Subject or HeaderId.MessageId).Select(h => h.Field).ToArray());
        Assert.Matches("^syndicator-[0-9a-f]{32}@magazine\\.example$", message.MessageId);
        Assert.Equal(TimeSpan.Zero, message.Date.Offset);
        Assert.True(message.Date > DateTimeOffset.UnixEpoch);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_title_or_name_with_line_breaks_cannot_inject_a_header()
    {
        await using var world = await DigestWorld.CreateAsync(settings: new() { ["Digests:Subject"] = "{{ first_title }}" });
        await world.App.Get<SubscriberStore>().SaveAsync("victim@example.com", "Eve\r\nBcc: attacker@evil.example", DigestFrequency.Daily, "UTC",
            SubscriberState.Confirmed, [], [], world.App.Get<DigestPlanner>().FirstWatermark(DigestFrequency.Daily), Ct);
        var path = world.App.Dir.File("evil.json", "{\"title\":\"Evil\\r\\nBcc: attacker@evil.example\",\"author\":\"A\",\"body\":\"x\"}");
        await world.App.Get<Syndicator.Articles.Import.ArticleFiles>().ImportPathsAsync([path], null, Ct);
        await world.RunDailyAsync(TimeSpan.FromHours(1));

        var message = Assert.Single(world.Mailed());
        Assert.Empty(message.Bcc);
        Assert.Null(message.Headers[HeaderId.Bcc]);
        Assert.Single(message.To.Mailboxes);
        Assert.Equal("Evil Bcc: attacker@evil.example", message.Subject);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task An_unsubscribed_reader_never_receives_a_digest_already_planned_for_them()
    {
        await using var world = await DigestWorld.CreateAsync();
        var subscriber = await world.SubscribeAsync("leaving@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);

        await world.App.Get<SubscriberStore>().UnsubscribeAsync(subscriber.Id, "test", Ct);
        await world.App.SendEmailAsync(null, Ct);

        Assert.Empty(world.Mailed());
        var failed = Assert.Single(await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Failed, null, 10, Ct));
        Assert.Contains("unsubscribed", failed.LastError);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_dkim_signed_digest_verifies_against_its_public_key()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        using var keys = new Support.TempDir();
        var keyFile = keys.File("dkim.pem", rsa.ExportRSAPrivateKeyPem());
        await using var signed = await DigestWorld.CreateAsync(settings: new()
        {
            ["Digests:Dkim:Domain"] = "magazine.example",
            ["Digests:Dkim:Selector"] = "s1",
            ["Digests:Dkim:PrivateKeyFile"] = keyFile,
        });
        await signed.SubscribeAsync("reader@example.com");
        await signed.ImportAsync("Signed", "Jane Doe");
        await signed.RunDailyAsync(TimeSpan.FromHours(1));

        var message = Assert.Single(signed.Mailed());
        var index = message.Headers.IndexOf(HeaderId.DkimSignature);
        Assert.True(index >= 0, "no DKIM-Signature header");
        Assert.Contains("d=magazine.example", message.Headers[index].Value);
        var verifier = new MimeKit.Cryptography.DkimVerifier(new KeyLocator(Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo())));
        Assert.True(await verifier.VerifyAsync(message, message.Headers[index], Ct));

        message.Subject = "Tampered";
        Assert.False(await verifier.VerifyAsync(message, message.Headers[index], Ct));
    }

    private sealed class KeyLocator(string publicKey) : MimeKit.Cryptography.DkimPublicKeyLocatorBase
    {
        public override Org.BouncyCastle.Crypto.AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            GetPublicKey($"v=DKIM1; k=rsa; p={publicKey}");

        public override Task<Org.BouncyCastle.Crypto.AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            Task.FromResult(LocatePublicKey(methods, domain, selector, cancellationToken));
    }
}
