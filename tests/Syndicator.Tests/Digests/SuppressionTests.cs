using Dapper;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>The suppression list: who is never mailed again, whatever brings them back, until the publisher lifts it.</summary>
public sealed class SuppressionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static SubscriptionRequest Request(string email) => new(email, null, DigestFrequency.Daily, "UTC", [], []);

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.PostgreSql)]
    public async Task An_unsubscribed_reader_cannot_be_brought_back_by_the_form_or_the_publisher_until_the_suppression_is_lifted(StorageProvider provider)
    {
        if (provider == StorageProvider.PostgreSql) TestStore.RequirePostgres();
        await using var world = await DigestWorld.CreateAsync(provider);
        var subscriptions = world.App.Get<Subscriptions>();
        var reader = await world.SubscribeAsync("Leaving@Example.com");
        Assert.True(await world.App.Get<SubscriberStore>().UnsubscribeAsync(reader.Id, "link", Ct));

        var entry = await world.App.Get<SuppressionList>().FindAsync("leaving@example.com", Ct);
        Assert.Equal(SuppressionReason.Unsubscribed, entry!.Reason);
        Assert.Equal("link", entry.Source);

        // The form: nothing stored, no confirmation queued (the page answers as always).
        var confirmationsBefore = await CountDeliveriesAsync(world);
        Assert.Null(await subscriptions.RequestAsync(Request("LEAVING@example.com"), Ct));
        Assert.Equal(confirmationsBefore, await CountDeliveriesAsync(world));
        Assert.Equal(SubscriberState.Unsubscribed, (await world.App.Get<SubscriberStore>().FindAsync("leaving@example.com", Ct))!.State);

        // subscribers add and a CSV import go through the same call.
        var (added, _, suppressed) = await subscriptions.AddAsync(Request(" leaving@example.com "), Ct);
        Assert.Null(added);
        Assert.Equal(SuppressionReason.Unsubscribed, suppressed!.Reason);
        Assert.Contains("leaving@example.com is on the suppression list (unsubscribed", suppressed.ToString());

        Assert.True(await world.App.Get<SuppressionList>().LiftAsync("leaving@example.com", Ct));
        Assert.NotNull(await subscriptions.RequestAsync(Request("leaving@example.com"), Ct));
        Assert.Equal(SubscriberState.Pending, (await world.App.Get<SubscriberStore>().FindAsync("leaving@example.com", Ct))!.State);
        Assert.False(await world.App.Get<SuppressionList>().LiftAsync("leaving@example.com", Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_digest_planned_before_the_address_was_suppressed_is_not_sent_and_its_outcome_names_the_suppression()
    {
        await using var world = await DigestWorld.CreateAsync();
        await world.SubscribeAsync("complainer@example.com");
        await world.SubscribeAsync("reader@example.com");
        await world.ImportAsync("Headline", "Jane Doe");
        world.Time.Advance(TimeSpan.FromHours(1));
        await world.App.Get<DigestPlanner>().PlanAsync(DigestFrequency.Daily, manual: false, Ct);

        // Listed between planning and sending (an imported list from the previous tool, say); the subscriber is still confirmed.
        await world.App.Get<SuppressionList>().AddAsync("complainer@example.com", SuppressionReason.Complained, "import", "FBL report 2026-10-30", Ct);
        await world.App.SendEmailAsync(null, Ct);

        Assert.Equal(["reader@example.com"], world.Mailed().Select(m => m.To.Mailboxes.Single().Address));
        var failed = Assert.Single(await world.App.Get<DeliveryStore>().ListAsync(DeliveryState.Failed, null, 10, Ct));
        Assert.Contains("complainer@example.com is on the suppression list (complained", failed.LastError);
        Assert.Contains("from import: FBL report 2026-10-30", failed.LastError);
        Assert.Equal(1, failed.Attempts);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task The_list_goes_out_and_comes_back_as_csv_with_bad_rows_named_by_line_and_hostile_details_neutralised()
    {
        await using var world = await DigestWorld.CreateAsync();
        var list = world.App.Get<SuppressionList>();
        var csv = string.Join("\n",
            "Email,Reason,Source,Detail,Created_At",
            "bounced@example.com,bounced,old-tool,\"550 5.1.1 user unknown\r\nBcc: evil@example.com\",2025-01-31T08:00:00Z",
            "persian@example.com,complained,old-tool,شکایت کاربر 🙅,",
            "not-an-address,manual,,,",
            "odd@example.com,angry,,,",
            "when@example.com,,,,yesterday",
            "BOUNCED@example.com,manual,,,",
            "");
        var result = await list.ImportCsvAsync(new StringReader(csv), "old.csv", Ct);

        Assert.Equal(2, result.Added);
        Assert.Equal(1, result.AlreadyListed);
        Assert.Equal(3, result.Problems.Count);
        // Lines of the file, as an editor shows them: the quoted detail with a line break takes lines 2 and 3.
        Assert.Contains(result.Problems, p => p.StartsWith("old.csv: line 5: ", StringComparison.Ordinal) && p.Contains("not-an-address"));
        Assert.Contains(result.Problems, p => p.StartsWith("old.csv: line 6: reason 'angry' is not one of", StringComparison.Ordinal));
        Assert.Contains(result.Problems, p => p.StartsWith("old.csv: line 7: created_at 'yesterday'", StringComparison.Ordinal));
        var bounced = (await list.FindAsync("bounced@example.com", Ct))!;
        Assert.Equal(SuppressionReason.Bounced, bounced.Reason);
        Assert.Equal(new DateTimeOffset(2025, 1, 31, 8, 0, 0, TimeSpan.Zero), bounced.CreatedAt);
        Assert.DoesNotContain('\n', bounced.Detail!);
        Assert.DoesNotContain('\r', bounced.Detail!);

        var exported = new StringWriter();
        await list.ExportCsvAsync(exported, Ct);
        var lines = exported.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("email,reason,source,detail,created_at", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.Contains("persian@example.com,complained,old-tool,شکایت کاربر 🙅,", lines[2]);

        // An export read into another store gives the same list.
        await using var other = await DigestWorld.CreateAsync();
        var again = await other.App.Get<SuppressionList>().ImportCsvAsync(new StringReader(exported.ToString()), "export.csv", Ct);
        Assert.Equal((2, 0, 0), (again.Added, again.AlreadyListed, again.Problems.Count));
        Assert.Equal(await list.ListAsync(Ct), await other.App.Get<SuppressionList>().ListAsync(Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_csv_without_an_email_header_is_refused_naming_the_file_and_the_columns()
    {
        await using var world = await DigestWorld.CreateAsync();
        var result = await world.App.Get<SuppressionList>().ImportCsvAsync(new StringReader("reader@example.com,bounced\n"), "list.csv", Ct);
        Assert.Equal(0, result.Added);
        Assert.StartsWith("list.csv: line 1 must be a header row naming at least an 'email' column", Assert.Single(result.Problems));
        Assert.Empty(await world.App.Get<SuppressionList>().ListAsync(Ct));
    }

    private static async Task<long> CountDeliveriesAsync(DigestWorld world)
    {
        await using var connection = await world.App.Get<Database>().OpenAsync(Ct);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM deliveries");
    }
}
