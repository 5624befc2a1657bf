using System.Data.Common;
using System.Globalization;
using CsvHelper;
using CsvHelper.Configuration;
using Dapper;
using Syndicator.Storage;

namespace Syndicator.Digests;

/// <summary>Why an address is on the suppression list.</summary>
public enum SuppressionReason
{
    /// <summary>The reader unsubscribed (link, one-click, or a mail to the List-Unsubscribe address).</summary>
    Unsubscribed,
    /// <summary>A hard bounce (5.x.x) after the relay accepted the message, or soft bounces past Digests:Feedback:SoftBounceLimit.</summary>
    Bounced,
    /// <summary>The reader marked a digest as spam (an ARF report or a relay's complaint event).</summary>
    Complained,
    /// <summary>The publisher put it there (CSV import or CLI).</summary>
    Manual,
}

/// <summary>One entry: the address as stored (lower case), why, where Syndicator learned it, and when.</summary>
public sealed record Suppression(string Email, SuppressionReason Reason, string Source, string? Detail, DateTimeOffset CreatedAt)
{
    public override string ToString() =>
        $"{Email} is on the suppression list ({SuppressionList.Column(Reason)} {CreatedAt:yyyy-MM-dd HH:mm} UTC, from {Source}{(Detail is null ? "" : ": " + Detail)})";
}

/// <summary>What a CSV import of the suppression list did; <see cref="Problems"/> name the line and the fix.</summary>
public sealed record SuppressionImport(int Added, int AlreadyListed, IReadOnlyList<string> Problems);

/// <summary>
/// The addresses Syndicator never mails again, whatever brings them back: <see cref="Subscriptions"/> refuses to add or
/// sign them up, and <see cref="EmailChannel"/> checks the list before every message it sends. Only the publisher
/// lifts an entry (<c>syndicator suppressions lift</c>). The first reason recorded for an address stays: a later
/// unsubscribe does not hide that the address complained.
/// </summary>
public sealed class SuppressionList(Database database, TimeProvider time)
{
    private const string Columns = "email AS Email, reason AS Reason, source AS Source, detail AS Detail, created_at AS CreatedAt";

    public static string Column(SuppressionReason reason) => reason.ToString().ToLowerInvariant();

    public async Task<Suppression?> FindAsync(string email, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await FindAsync(connection, null, email, cancellationToken);
    }

    internal async Task<Suppression?> FindAsync(DbConnection connection, DbTransaction? transaction, string email, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<Row>(new CommandDefinition($"SELECT {Columns} FROM suppressions WHERE email = @email",
            new { email = SubscriberAddress.Normalize(email) }, transaction, cancellationToken: cancellationToken))).Select(r => r.ToSuppression()).FirstOrDefault();

    /// <summary>The listed ones among <paramref name="emails"/>, by normalised address.</summary>
    internal async Task<IReadOnlyDictionary<string, Suppression>> FindManyAsync(DbConnection connection, IReadOnlyCollection<string> emails, CancellationToken cancellationToken)
    {
        var parameters = new DynamicParameters();
        return (await connection.QueryAsync<Row>(new CommandDefinition(
                $"SELECT {Columns} FROM suppressions WHERE {SqlList.KeyIn(parameters, "email", "emails", emails.Select(SubscriberAddress.Normalize).Distinct(), database.Dialect)}",
                parameters, cancellationToken: cancellationToken)))
            .ToDictionary(r => r.Email, r => r.ToSuppression(), StringComparer.Ordinal);
    }

    /// <summary>Adds <paramref name="email"/> unless it is listed already. True when this call listed it.</summary>
    public async Task<bool> AddAsync(string email, SuppressionReason reason, string source, string? detail, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await AddAsync(connection, null, email, reason, source, detail, cancellationToken);
    }

    internal async Task<bool> AddAsync(DbConnection connection, DbTransaction? transaction, string email, SuppressionReason reason, string source, string? detail,
        CancellationToken cancellationToken, DateTimeOffset? at = null) =>
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO suppressions (email, reason, source, detail, created_at) VALUES (@email, @reason, @source, @detail, @at)
            ON CONFLICT (email) DO NOTHING
            """, new { email = SubscriberAddress.Normalize(email), reason = Column(reason), source, detail = Clip(detail), at = (at ?? time.GetUtcNow()).ToStoredPrecision() },
            transaction, cancellationToken: cancellationToken)) == 1;

    /// <summary>
    /// Takes <paramref name="email"/> off the list (the publisher's decision, e.g. a reader who asked to come back) and
    /// resets the subscriber's soft-bounce count. The subscriber's state is left as it is: they sign up again, or the
    /// publisher adds them. False when the address was not listed.
    /// </summary>
    public async Task<bool> LiftAsync(string email, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var normalized = SubscriberAddress.Normalize(email);
        var lifted = await connection.ExecuteAsync(new CommandDefinition("DELETE FROM suppressions WHERE email = @normalized", new { normalized }, transaction, cancellationToken: cancellationToken)) == 1;
        await connection.ExecuteAsync(new CommandDefinition("UPDATE subscribers SET soft_bounces = 0 WHERE email = @normalized", new { normalized }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return lifted;
    }

    public async Task<IReadOnlyList<Suppression>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<Row>(new CommandDefinition($"SELECT {Columns} FROM suppressions ORDER BY email", cancellationToken: cancellationToken)))
            .Select(r => r.ToSuppression()).ToList();
    }

    /// <summary>Writes the list as CSV: <c>email,reason,source,detail,created_at</c> (ISO 8601, UTC), one address a row.</summary>
    public async Task ExportCsvAsync(TextWriter writer, CancellationToken cancellationToken)
    {
        await using var csv = new CsvWriter(writer, CultureInfo.InvariantCulture, leaveOpen: true);
        foreach (var header in new[] { "email", "reason", "source", "detail", "created_at" }) csv.WriteField(header);
        await csv.NextRecordAsync();
        foreach (var entry in await ListAsync(cancellationToken))
        {
            csv.WriteField(entry.Email);
            csv.WriteField(Column(entry.Reason));
            csv.WriteField(entry.Source);
            csv.WriteField(entry.Detail ?? "");
            csv.WriteField(entry.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            await csv.NextRecordAsync();
        }
    }

    /// <summary>
    /// Reads a CSV with a header row and at least an <c>email</c> column (reason, source, detail and created_at are
    /// optional: an export of this or another tool's list). A row with a bad address or an unknown reason is reported
    /// with its line and skipped; the rest are added. Addresses already listed keep their entry.
    /// </summary>
    public async Task<SuppressionImport> ImportCsvAsync(TextReader reader, string fileName, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        int added = 0, listed = 0;
        using var csv = new CsvReader(reader, new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            PrepareHeaderForMatch = a => a.Header.Trim().ToLowerInvariant(), MissingFieldFound = null, HeaderValidated = null, TrimOptions = TrimOptions.Trim,
        });
        if (!await csv.ReadAsync() || !csv.ReadHeader() || csv.HeaderRecord is not { } header || !header.Any(h => h.Trim().Equals("email", StringComparison.OrdinalIgnoreCase)))
            return new SuppressionImport(0, 0, [$"{fileName}: line 1 must be a header row naming at least an 'email' column (email,reason,source,detail,created_at)"]);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        while (await csv.ReadAsync())
        {
            var line = csv.Parser.RawRow;
            var email = csv.GetField("email") ?? "";
            if (SubscriberAddress.Problem(email) is { } problem)
            {
                problems.Add($"{fileName}: line {line}: {problem}; row skipped");
                continue;
            }
            var reasonText = csv.GetField("reason");
            var reason = SuppressionReason.Manual;
            if (!string.IsNullOrWhiteSpace(reasonText) && !Enum.TryParse(reasonText, true, out reason))
            {
                problems.Add($"{fileName}: line {line}: reason '{Shown(reasonText)}' is not one of unsubscribed, bounced, complained, manual; row skipped");
                continue;
            }
            DateTimeOffset? at = null;
            var atText = csv.GetField("created_at");
            if (!string.IsNullOrWhiteSpace(atText))
            {
                if (!DateTimeOffset.TryParse(atText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
                {
                    problems.Add($"{fileName}: line {line}: created_at '{Shown(atText)}' is not a date such as 2026-01-31T08:00:00Z; row skipped");
                    continue;
                }
                at = parsed;
            }
            var source = csv.GetField("source");
            if (await AddAsync(connection, transaction, email, reason, string.IsNullOrWhiteSpace(source) ? "import" : Clip(source)!, NullIfEmpty(csv.GetField("detail")), cancellationToken, at)) added++;
            else listed++;
        }
        await transaction.CommitAsync(cancellationToken);
        return new SuppressionImport(added, listed, problems);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>Details come from bounce reports written by strangers: kept to one line and 500 characters.</summary>
    internal static string? Clip(string? value)
    {
        if (value is null) return null;
        var line = string.Join(' ', value.Split((char[])['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        line = new string(line.Where(c => !char.IsControl(c)).ToArray());
        return line.Length <= 500 ? line : line[..500] + "…";
    }

    private static string Shown(string value) => value.Length <= 40 ? value : value[..40] + "…";

    private sealed class Row
    {
        public string Email { get; init; } = "";
        public string Reason { get; init; } = "";
        public string Source { get; init; } = "";
        public string? Detail { get; init; }
        public DateTimeOffset CreatedAt { get; init; }

        public Suppression ToSuppression() => new(Email, Enum.Parse<SuppressionReason>(Reason, true), Source, Detail, CreatedAt);
    }
}
