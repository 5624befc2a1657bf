using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using MimeKit;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Shared;

namespace Syndicator.Web;

/// <summary>
/// <c>/status/digests</c>: the next digest as it will be sent (for a subscriber chosen by address, or a sample reader),
/// its HTML in a sandboxed frame and its text beside it; a test send to an address of the publisher's choice
/// (<see cref="DigestTestSend"/>, recorded as nobody's digest); and what became of each digest run
/// (<see cref="DigestReports"/>). Behind <see cref="DashboardAccess"/> like every page under /status.
/// </summary>
internal static class DigestPages
{
    public const string Path = Dashboard.Path + "/digests";
    private const int RunsShown = 30;

    /// <summary>
    /// The digest's HTML is the publisher's template filled with articles and names from outside: it is shown in a frame
    /// that runs no script, submits no form, and is its own opaque origin (sandbox), with its own policy that lets it
    /// load the images a mail client would and nothing else.
    /// </summary>
    private const string PreviewPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/digests", PageAsync);
        group.MapGet("/digests/preview", PreviewHtmlAsync);
        group.MapPost("/digests/test-send", TestSendAsync);
    }

    private static async Task<IResult> PageAsync(HttpContext context, string? subscriber, DigestPreview preview, DigestReports reports, DashboardAccess access,
        IOptions<SiteOptions> site, CancellationToken ct) =>
        await RenderAsync(context, subscriber, null, preview, reports, access, site.Value, ct);

    private static async Task<IResult> PreviewHtmlAsync(HttpContext context, string? subscriber, DigestPreview preview, CancellationToken ct)
    {
        var result = await PreviewAsync(preview, subscriber, ct);
        var headers = context.Response.Headers;
        headers[HeaderNames.ContentSecurityPolicy] = PreviewPolicy;
        headers.XFrameOptions = "SAMEORIGIN";
        var html = result.Message?.HtmlBody
            ?? $"<!DOCTYPE html><p style=\"font-family:sans-serif\">{DashboardPages.E(result.Message is null ? result.Problem : "This digest has no HTML part.")}</p>";
        return Results.Content(html, "text/html; charset=utf-8");
    }

    private static async Task<IResult> TestSendAsync(HttpContext context, DigestTestSend testSend, DigestPreview preview, DigestReports reports, DashboardAccess access,
        IOptions<SiteOptions> site, CancellationToken ct)
    {
        var request = context.Request;
        var form = request.HasFormContentType ? await request.ReadFormAsync(ct) : FormCollection.Empty;
        if (access.CheckForm(request, form) is { } refusal)
            return Html(DashboardPages.Layout("Not sent", site.Value.Title, null,
                $"<section><h2>The test digest was not sent</h2><p>{DashboardPages.E(refusal)}</p><p><a href=\"{Path}\">Back to the digests page</a></p></section>", Path), StatusCodes.Status403Forbidden);
        var to = form["to"].ToString().Trim();
        Notice notice;
        if (SubscriberAddress.Problem(to) is { } problem) notice = new Notice($"Not sent: the address to send to {problem}.", false, StatusCodes.Status400BadRequest);
        else
        {
            var outcome = await testSend.SendAsync(to, ct);
            notice = outcome is DeliveryOutcome.Sent sent
                ? new Notice($"A test digest went to {to} ({sent.RemoteId}). It is nobody's digest: no delivery was recorded.", true, StatusCodes.Status200OK)
                : new Notice($"The test digest to {to} was not sent: {Reason(outcome)}", false, StatusCodes.Status502BadGateway);
        }
        return await RenderAsync(context, form["subscriber"], notice, preview, reports, access, site.Value, ct);
    }

    private sealed record Notice(string Text, bool Ok, int Status);

    private static async Task<IResult> RenderAsync(HttpContext context, string? subscriber, Notice? notice, DigestPreview preview, DigestReports reports,
        DashboardAccess access, SiteOptions site, CancellationToken ct)
    {
        subscriber = string.IsNullOrWhiteSpace(subscriber) ? null : subscriber.Trim();
        var result = await PreviewAsync(preview, subscriber, ct);
        IReadOnlyList<DigestRunReport>? runs = null;
        string? runsProblem = null;
        try
        {
            runs = await reports.ListAsync(RunsShown, ct);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException)
        {
            runsProblem = $"The digest runs could not be read: {e.Message}";
        }

        var body = new StringBuilder();
        if (notice is not null) body.Append($"<p class=\"notice{(notice.Ok ? "" : " warn")}\" role=\"status\" data-test-send=\"{(notice.Ok ? "sent" : "refused")}\">{DashboardPages.E(notice.Text)}</p>");
        body.Append(PreviewSection(subscriber, result));
        body.Append(TestSendSection(subscriber, access.CsrfToken));
        body.Append("<section id=\"runs\"><h2>Digest runs</h2>");
        body.Append(runs is null ? $"<p class=\"notice warn\">{DashboardPages.E(runsProblem)}</p>" : RunsTable(runs));
        body.Append("</section>");

        // The page frames its own preview (same origin); the security headers forbid frames everywhere else.
        var headers = context.Response.Headers;
        headers[HeaderNames.ContentSecurityPolicy] = headers[HeaderNames.ContentSecurityPolicy].ToString() + "; frame-src 'self'";
        return Html(DashboardPages.Layout("Digests", site.Title, null, body.ToString(), Path), notice?.Status ?? StatusCodes.Status200OK);
    }

    private static Task<DigestPreviewResult> PreviewAsync(DigestPreview preview, string? subscriber, CancellationToken ct) =>
        string.IsNullOrWhiteSpace(subscriber) ? preview.SampleAsync(DigestPreview.SampleAddress, ct) : preview.ForSubscriberAsync(subscriber, ct);

    private static string PreviewSection(string? subscriber, DigestPreviewResult result)
    {
        var sb = new StringBuilder("<section id=\"preview\"><h2>Next digest</h2>");
        sb.Append($"""
            <form method="get" action="{Path}"><p><label>Subscriber's address <input type="text" name="subscriber" value="{DashboardPages.E(subscriber)}" maxlength="254" size="36"></label>
            <button type="submit">Preview</button> <span class="small muted">empty: a sample reader who follows everything, with the newest articles</span></p></form>
            """);
        if (result.Problem is not null) sb.Append($"<p class=\"notice warn\" data-preview-problem>{DashboardPages.E(result.Problem)}</p>");
        if (result.Message is { } message)
        {
            sb.Append($"""
                <dl data-preview="{(subscriber is null ? "sample" : "subscriber")}" data-articles="{result.Articles}">
                <dt>To</dt><dd data-to>{DashboardPages.E(message.To.ToString())}</dd>
                <dt>Subject</dt><dd data-subject>{DashboardPages.E(message.Subject)}</dd>
                <dt>Articles</dt><dd>{result.Articles:N0}</dd>
                <dt>List-Id</dt><dd class="small">{DashboardPages.E(message.Headers[HeaderId.ListId])}</dd>
                </dl>
                <h3>HTML</h3>
                <iframe title="The digest's HTML" sandbox src="{Path}/preview{(subscriber is null ? "" : "?subscriber=" + Uri.EscapeDataString(subscriber))}" style="width:100%;height:36rem;border:1px solid #d8dee4;background:#fff"></iframe>
                <h3>Text</h3>
                <pre data-text style="white-space:pre-wrap;background:#f6f8fa;border:1px solid #d8dee4;padding:.8rem;max-height:36rem;overflow:auto">{DashboardPages.E(message.TextBody)}</pre>
                """);
        }
        sb.Append("</section>");
        return sb.ToString();
    }

    private static string TestSendSection(string? subscriber, string csrf) => $"""
        <section id="test-send"><h2>Test send</h2>
        <p class="small muted">Sends the sample digest (the newest articles) to the address you give, through the relay. It is nobody's digest: no delivery is recorded and no reader's next digest changes.</p>
        <form method="post" action="{Path}/test-send"><input type="hidden" name="{DashboardAccess.CsrfField}" value="{DashboardPages.E(csrf)}"><input type="hidden" name="subscriber" value="{DashboardPages.E(subscriber)}">
        <p><label>Send to <input type="email" name="to" required maxlength="254" size="36"></label> <button type="submit">Send test digest</button></p></form>
        </section>
        """;

    private static string RunsTable(IReadOnlyList<DigestRunReport> runs)
    {
        if (runs.Count == 0) return "<p class=\"muted\">No digest has been planned yet.</p>";
        var sb = new StringBuilder("<table><thead><tr><th>Run</th><th>Frequency</th><th>Planned at</th>");
        foreach (var (name, _) in Columns) sb.Append($"<th class=\"num\">{name}</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var run in runs)
        {
            sb.Append($"<tr data-run=\"{DashboardPages.E(run.Period)}\" data-frequency=\"{DashboardPages.E(run.Frequency)}\"><td>{DashboardPages.E(run.Period)}</td><td>{DashboardPages.E(run.Frequency)}</td><td class=\"small\">{DashboardPages.Utc(run.PlannedAt)}</td>");
            foreach (var (name, count) in Columns)
                sb.Append($"<td class=\"num\" data-count=\"{name.Replace(' ', '-')}\">{count(run).ToString("N0", CultureInfo.InvariantCulture)}</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table><p class=\"small muted\">Bounces, complaints and unsubscribes count when the feedback mailbox or a relay's webhook ties them to one of the run's e-mails; an unsubscribe by link names the reader, not the digest, and is not counted here.</p>");
        return sb.ToString();
    }

    private static readonly (string Name, Func<DigestRunReport, long> Count)[] Columns =
    [
        ("planned", r => r.Planned), ("sent", r => r.Sent), ("failed", r => r.Failed), ("unconfirmed", r => r.Unconfirmed), ("waiting", r => r.Waiting),
        ("soft bounced", r => r.SoftBounced), ("hard bounced", r => r.HardBounced), ("complained", r => r.Complained), ("unsubscribed", r => r.Unsubscribed),
    ];

    private static string Reason(DeliveryOutcome outcome) => outcome switch
    {
        DeliveryOutcome.Permanent p => p.Error,
        DeliveryOutcome.Transient t => t.Error,
        DeliveryOutcome.Unconfirmed u => u.Error,
        _ => outcome.ToString(),
    };

    private static IResult Html(string html, int status) => Results.Content(html, "text/html; charset=utf-8", statusCode: status);
}
