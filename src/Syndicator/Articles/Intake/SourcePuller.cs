using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quartz;
using Syndicator.Articles.Import;
using Syndicator.Scheduling;
using Syndicator.Storage;

namespace Syndicator.Articles.Intake;

/// <summary>What one poll of a source did. <see cref="Failure"/>: the source could not be read at all (unreachable, an error, not a feed).</summary>
public sealed record PullReport(string Source, int Created, int Updated, int Unchanged, int Refused, bool NotModified, string? Failure, IReadOnlyList<string> Problems)
{
    public override string ToString() =>
        Failure is not null ? $"{Source}: failed: {Failure}"
        : NotModified ? $"{Source}: not modified"
        : $"{Source}: {Created} new, {Updated} updated, {Unchanged} unchanged, {Refused} refused" + (Problems.Count == 0 ? "" : $" ({string.Join("; ", Problems)})");
}

/// <summary>
/// Polls a feed or a WordPress site: a conditional GET (If-None-Match, If-Modified-Since) that a 304 ends, then every
/// entry whose content differs from what the source said last time goes through <see cref="ArticleIntake"/>. An entry
/// unchanged at the source is never imported again; a refused entry is reported and the others still go in.
/// </summary>
public sealed class SourcePuller(
    IHttpClientFactory httpClients,
    IOptions<IntakeOptions> options,
    IOptions<ImportOptions> importOptions,
    ArticleIntake intake,
    Database database,
    TimeProvider time,
    ILogger<SourcePuller> logger)
{
    public const string HttpClientName = "intake";

    /// <summary>The sources whose interval has passed since their last poll (never polled: due).</summary>
    public async Task<IReadOnlyList<PullSourceOptions>> DueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        var polled = (await connection.QueryAsync<PolledRow>(new CommandDefinition(
            "SELECT source AS Source, last_polled_at AS PolledAt FROM intake_sources", cancellationToken: cancellationToken))).ToDictionary(r => r.Source, r => r.PolledAt);
        return options.Value.Sources.Where(s => s.Enabled
            && (!polled.TryGetValue(s.Name, out var at) || at is null || at.Value.AddMinutes(s.IntervalMinutes) <= now)).ToList();
    }

    public async Task<PullReport> PullAsync(PullSourceOptions source, CancellationToken cancellationToken)
    {
        var report = await FetchAndImportAsync(source, cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO intake_sources (source, last_polled_at, last_outcome) VALUES (@Source, @now, @outcome)
            ON CONFLICT (source) DO UPDATE SET last_polled_at = excluded.last_polled_at, last_outcome = excluded.last_outcome
            """, new { report.Source, now = time.GetUtcNow().ToStoredPrecision(), outcome = report.ToString() }, cancellationToken: cancellationToken));
        if (report.Failure is not null) logger.LogWarning("Intake source {Source}: {Failure}", source.Name, report.Failure);
        return report;
    }

    private async Task<PullReport> FetchAndImportAsync(PullSourceOptions source, CancellationToken cancellationToken)
    {
        var url = new Uri(source.FetchUrl);
        var (etag, lastModified) = await ValidatorsAsync(source.Name, cancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd(source.Kind == PullKind.WordPress ? "application/json" : "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8");
        if (etag is not null && EntityTagHeaderValue.TryParse(etag, out var tag)) request.Headers.IfNoneMatch.Add(tag);
        if (lastModified is not null && DateTimeOffset.TryParse(lastModified, out var since)) request.Headers.IfModifiedSince = since;

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.PullTimeoutSeconds));
        byte[] body;
        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return Failed(source, $"could not reach {url}: {(e is OperationCanceledException ? $"no answer within {options.Value.PullTimeoutSeconds} s (Intake:PullTimeoutSeconds)" : e.Message)}");
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotModified) return new PullReport(source.Name, 0, 0, 0, 0, true, null, []);
            if (!response.IsSuccessStatusCode)
                return Failed(source, $"{url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            // A feed holds many articles: ten times one file's limit.
            var max = importOptions.Value.MaxFileBytes * 10;
            try
            {
                await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
                using var buffer = new MemoryStream();
                var chunk = new byte[64 * 1024];
                int read;
                while ((read = await stream.ReadAsync(chunk, timeout.Token)) > 0)
                {
                    if (buffer.Length + read > max) return Failed(source, $"{url} answered more than {max:N0} bytes (10 × Import:MaxFileBytes)");
                    buffer.Write(chunk, 0, read);
                }
                body = buffer.ToArray();
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                return Failed(source, $"the answer from {url} broke off: {e.Message}");
            }
            etag = response.Headers.ETag?.ToString();
            lastModified = response.Content.Headers.LastModified?.ToString("R");
        }

        IReadOnlyList<PullEntry> entries;
        try
        {
            entries = PullEntries.Read(source.Kind, body, url, source.Author);
        }
        catch (PullFormatException e)
        {
            return Failed(source, $"{url}: {e.Message}");
        }

        int created = 0, updated = 0, unchanged = 0, refused = 0;
        var problems = new List<string>();
        var actor = IntakeActor.Source(source.Name);
        foreach (var entry in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(entry.ArticleJson)));
            if (await KnownHashAsync(source.Name, entry.Id, cancellationToken) == hash)
            {
                unchanged++;
                continue;
            }
            try
            {
                var draft = intake.Parse(entry.ArticleJson, $"pull:{source.Name}:{entry.Id}", ".json").Single();
                var result = await intake.PublishAsync(draft, actor, hash, cancellationToken);
                await RememberAsync(source.Name, entry.Id, result.Article.Id, hash, cancellationToken);
                if (result.Action == "created") created++;
                else if (result.Action == "unchanged") unchanged++;
                else updated++;
            }
            catch (ArticleRejectedException e)
            {
                refused++;
                var problem = $"entry {entry.Id} (\"{Shared.Shown.Value(entry.Title, 60)}\"): {e.Message}";
                problems.Add(problem);
                await intake.RecordRefusalAsync(null, actor, problem, cancellationToken);
            }
        }
        await SaveValidatorsAsync(source.Name, etag, lastModified, cancellationToken);
        return new PullReport(source.Name, created, updated, unchanged, refused, false, null, problems);
    }

    private sealed class PolledRow
    {
        public string Source { get; init; } = "";
        public DateTimeOffset? PolledAt { get; init; }
    }

    private static PullReport Failed(PullSourceOptions source, string failure) => new(source.Name, 0, 0, 0, 0, false, failure, []);

    private async Task<(string? ETag, string? LastModified)> ValidatorsAsync(string source, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<(string?, string?)>(new CommandDefinition(
            "SELECT etag, last_modified FROM intake_sources WHERE source = @source", new { source }, cancellationToken: cancellationToken));
    }

    private async Task SaveValidatorsAsync(string source, string? etag, string? lastModified, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO intake_sources (source, etag, last_modified) VALUES (@source, @etag, @lastModified)
            ON CONFLICT (source) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified
            """, new { source, etag, lastModified }, cancellationToken: cancellationToken));
    }

    private async Task<string?> KnownHashAsync(string source, string entryId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT entry_hash FROM intake_entries WHERE source = @source AND entry_id = @entryId", new { source, entryId }, cancellationToken: cancellationToken));
    }

    private async Task RememberAsync(string source, string entryId, string articleId, string hash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO intake_entries (source, entry_id, article_id, entry_hash, seen_at) VALUES (@source, @entryId, @articleId, @hash, @now)
            ON CONFLICT (source, entry_id) DO UPDATE SET article_id = excluded.article_id, entry_hash = excluded.entry_hash, seen_at = excluded.seen_at
            """, new { source, entryId, articleId, hash, now = time.GetUtcNow().ToStoredPrecision() }, cancellationToken: cancellationToken));
    }
}

/// <summary>Polls every source that is due; one source failing never stops the others, and each says how it went in the job's history.</summary>
[DisallowConcurrentExecution]
public sealed class IntakePullJob(SourcePuller puller) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var due = await puller.DueAsync(cancellationToken);
        if (due.Count == 0)
        {
            context.Result = JobRunReport.Skipped("no source due");
            return;
        }
        var reports = new List<PullReport>();
        foreach (var source in due) reports.Add(await puller.PullAsync(source, cancellationToken));
        var summary = string.Join(" | ", reports);
        var failed = reports.Count(r => r.Failure is not null);
        var refused = reports.Sum(r => r.Refused);
        context.Result = (failed == reports.Count ? JobRunReport.Failed(summary) : failed + refused > 0 ? JobRunReport.PartlyFailed(summary) : JobRunReport.Succeeded(summary))
            .With("created", reports.Sum(r => r.Created)).With("updated", reports.Sum(r => r.Updated)).With("refused", refused).With("failed", failed);
    }
}
