using System.Net.Sockets;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using Syndicator.Shared;

namespace Syndicator.Digests.Feedback;

/// <summary>What one pass over the feedback folder did.</summary>
public sealed record MailboxPass(int Seen, int Recorded, int AlreadyRecorded, int LeftAlone, int Failed)
{
    /// <summary>How many of the messages seen are still in the folder (left alone, or failed).</summary>
    public int Kept => LeftAlone + Failed;


    public override string ToString() => $"{Seen} message(s): {Recorded} recorded, {AlreadyRecorded} seen before, {LeftAlone} left alone, {Failed} failed";
}

/// <summary>
/// The feedback mailbox over IMAP (MailKit's <see cref="ImapClient"/>, configured under Digests:Feedback:Imap like
/// Digests:Smtp). A pass reads every message in the folder, classifies it (<see cref="FeedbackClassifier"/>), records
/// what is ours (<see cref="FeedbackRecorder"/>) and moves it to the handled folder (made when missing). Nothing is
/// deleted, and a message that is not ours (a person's mail, an auto-reply, a bounce of someone else's message) is not
/// touched: not moved, not flagged, not even marked read (bodies are fetched with BODY.PEEK).
/// </summary>
public sealed class FeedbackMailbox(
    FeedbackClassifier classifier,
    FeedbackRecorder recorder,
    IOptions<DigestOptions> options,
    IHostEnvironment environment,
    ILogger<FeedbackMailbox> logger)
{
    private ImapOptions Imap => options.Value.Feedback.Imap;

    public bool Configured => !string.IsNullOrWhiteSpace(Imap.Host);

    /// <summary>Connects, makes one pass, and disconnects.</summary>
    public async Task<MailboxPass> PassOnceAsync(CancellationToken cancellationToken)
    {
        using var client = await ConnectAsync(cancellationToken);
        var pass = await PassAsync(client, cancellationToken);
        await client.DisconnectAsync(true, cancellationToken);
        return pass;
    }

    internal async Task<ImapClient> ConnectAsync(CancellationToken cancellationToken)
    {
        var client = new ImapClient { Timeout = Imap.TimeoutSeconds * 1000 };
        try
        {
            if (Imap.AcceptAnyCertificate) client.ServerCertificateValidationCallback = (_, _, _, _) => true;
            var security = Imap.Security.ToSocketOptions();
            await client.ConnectAsync(Imap.Host!, Imap.Port, security, cancellationToken);
            await client.AuthenticateAsync(Imap.UserName ?? "", Secrets.Resolve(Imap.Password ?? "", environment.ContentRootPath, "Digests:Feedback:Imap:Password"), cancellationToken);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>One pass over the folder, which stays selected afterwards (for IDLE).</summary>
    internal async Task<MailboxPass> PassAsync(ImapClient client, CancellationToken cancellationToken)
    {
        var folder = await client.GetFolderAsync(Imap.Folder, cancellationToken);
        if (!folder.IsOpen || folder.Access != FolderAccess.ReadWrite) await folder.OpenAsync(FolderAccess.ReadWrite, cancellationToken);
        var summaries = folder.Count == 0 ? [] : await folder.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.Size, cancellationToken);
        IMailFolder? handled = null;
        int recorded = 0, seenBefore = 0, leftAlone = 0, failed = 0;
        var maxBytes = Imap.MaxMessageMegabytes * 1024L * 1024;
        foreach (var summary in summaries)
        {
            var where = $"{folder.FullName} UID {summary.UniqueId.Id} (UIDVALIDITY {folder.UidValidity})";
            try
            {
                if (summary.Size > maxBytes)
                {
                    logger.LogWarning("Feedback mailbox: {Where} is {Size} bytes, more than Digests:Feedback:Imap:MaxMessageMegabytes; left alone", where, summary.Size);
                    leftAlone++;
                    continue;
                }
                // GetMessage fetches BODY.PEEK[]: a message left alone stays unread for the person who checks the mailbox.
                var message = await folder.GetMessageAsync(summary.UniqueId, cancellationToken);
                var verdict = classifier.Classify(message);
                if (verdict.Event is not { } feedback)
                {
                    logger.LogDebug("Feedback mailbox: {Where} left alone: {Reason}", where, verdict.Reason);
                    leftAlone++;
                    continue;
                }
                // A report's own Message-ID makes a copy of it (delivered twice, or put back by hand) the same event.
                var source = string.IsNullOrWhiteSpace(message.MessageId)
                    ? $"imap:{folder.FullName}:{folder.UidValidity}:{summary.UniqueId.Id}"
                    : $"message-id:{message.MessageId}";
                var outcome = await recorder.RecordAsync(feedback, source, "mailbox", cancellationToken);
                if (outcome.Result == FeedbackResult.NotOurs)
                {
                    logger.LogDebug("Feedback mailbox: {Where} left alone: {Reason}", where, outcome.Detail);
                    leftAlone++;
                    continue;
                }
                handled ??= await HandledFolderAsync(client, cancellationToken);
                await folder.MoveToAsync(summary.UniqueId, handled, cancellationToken);
                if (outcome.Result == FeedbackResult.Recorded) recorded++; else seenBefore++;
            }
            catch (Exception e) when (e is not OperationCanceledException && client.IsConnected && e is ImapCommandException or FormatException or InvalidOperationException or MimeKit.ParseException)
            {
                // One bad message does not stop the pass; it stays where it is for the next one or a person.
                logger.LogWarning("Feedback mailbox: {Where} could not be handled ({Error}: {Message}); left in place", where, e.GetType().Name, e.Message);
                failed++;
            }
        }
        return new MailboxPass(summaries.Count, recorded, seenBefore, leftAlone, failed);
    }

    private async Task<IMailFolder> HandledFolderAsync(ImapClient client, CancellationToken cancellationToken)
    {
        try
        {
            return await client.GetFolderAsync(Imap.HandledFolder, cancellationToken);
        }
        catch (FolderNotFoundException)
        {
            var root = client.GetFolder(client.PersonalNamespaces[0]);
            logger.LogInformation("Feedback mailbox: creating the folder {Folder} for handled messages", Imap.HandledFolder);
            return await root.CreateAsync(Imap.HandledFolder, true, cancellationToken)
                ?? throw new InvalidOperationException($"the IMAP server did not create the folder {Imap.HandledFolder}");
        }
    }
}

/// <summary>
/// Reads the feedback mailbox while the service runs: a pass, then IDLE until the server reports new mail (or
/// Digests:Feedback:Imap:PollSeconds pass), or a plain wait of PollSeconds where the server has no IDLE. A lost
/// connection is logged and retried after PollSeconds. Every node may run it: an event is recorded once whoever
/// reads it first, and a move another node made already fails harmlessly for that message.
/// </summary>
public sealed class FeedbackMailboxService(FeedbackMailbox mailbox, IOptions<DigestOptions> options, TimeProvider time, ILogger<FeedbackMailboxService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!mailbox.Configured) return;
        var poll = TimeSpan.FromSeconds(options.Value.Feedback.Imap.PollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var client = await mailbox.ConnectAsync(stoppingToken);
                while (!stoppingToken.IsCancellationRequested)
                {
                    var pass = await mailbox.PassAsync(client, stoppingToken);
                    if (pass.Recorded + pass.Failed > 0) logger.LogInformation("Feedback mailbox: {Pass}", pass);
                    if (client.Capabilities.HasFlag(ImapCapabilities.Idle)) await IdleAsync(client, pass.Kept, poll, stoppingToken);
                    else await Task.Delay(poll, time, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or SocketException or ImapProtocolException or ImapCommandException or AuthenticationException or SslHandshakeException
                                       or ServiceNotConnectedException or ServiceNotAuthenticatedException or FolderNotFoundException or InvalidOperationException or TimeoutException or OperationCanceledException)
            {
                logger.LogWarning("Feedback mailbox {Host}:{Port}: {Error}: {Message}; trying again in {Seconds} s",
                    options.Value.Feedback.Imap.Host, options.Value.Feedback.Imap.Port, e.GetType().Name, e.Message, poll.TotalSeconds);
                try
                {
                    await Task.Delay(poll, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Waits in IDLE on the folder the pass left selected until a message arrives or <paramref name="poll"/> passes.
    /// IDLE only announces what arrives after it starts (Dovecot does not announce again a message that came while
    /// the pass was moving others), so a NOOP first asks the server for everything new since the pass, and when the
    /// folder holds more than the pass <paramref name="kept"/> there is no wait at all.
    /// </summary>
    private async Task IdleAsync(ImapClient client, int kept, TimeSpan poll, CancellationToken stoppingToken)
    {
        var folder = await client.GetFolderAsync(options.Value.Feedback.Imap.Folder, stoppingToken);
        using var done = new CancellationTokenSource(poll, time);
        void Arrived(object? sender, EventArgs e) => done.Cancel();
        folder.CountChanged += Arrived;
        try
        {
            await client.NoOpAsync(stoppingToken);
            if (folder.Count > kept) return;
            await client.IdleAsync(done.Token, stoppingToken);
        }
        finally
        {
            folder.CountChanged -= Arrived;
        }
    }
}
