using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MimeKit;
using Syndicator.Announcements;
using Syndicator.Deliveries;

namespace Syndicator.Digests;

/// <summary>What one SMTP attempt came to; <see cref="HardBounce"/> when the server refused the recipient for good (5xx).</summary>
public sealed record MailResult(DeliveryOutcome Outcome, bool HardBounce);

/// <summary>
/// One SMTP connection through MailKit (STARTTLS or implicit TLS, authentication per config), reused for many
/// messages; errors start with "smtp:" and are classed: 4xx and connection failures transient, 5xx permanent.
/// </summary>
public sealed class MailConnection(SmtpOptions options, string contentRoot) : IAsyncDisposable
{
    private readonly SmtpClient client = new() { Timeout = options.TimeoutSeconds * 1000 };

    public async Task<MailResult> SendAsync(MimeMessage message, CancellationToken cancellationToken)
    {
        try
        {
            if (!client.IsConnected) await ConnectAsync(cancellationToken);
            await client.SendAsync(message, cancellationToken);
            return new MailResult(new DeliveryOutcome.Sent(message.MessageId, null), false);
        }
        catch (SmtpCommandException e)
        {
            var code = (int)e.StatusCode;
            var error = $"smtp: {options.Host} answered {code} to {(e.ErrorCode == SmtpErrorCode.RecipientNotAccepted ? "RCPT TO " + e.Mailbox?.Address : e.ErrorCode.ToString())}: {e.Message}";
            return code >= 500
                ? new MailResult(new DeliveryOutcome.Permanent(error), e.ErrorCode == SmtpErrorCode.RecipientNotAccepted)
                : new MailResult(new DeliveryOutcome.Transient(error), false);
        }
        catch (Exception e) when (e is SmtpProtocolException or IOException or SocketException or ServiceNotConnectedException or AuthenticationException or SslHandshakeException
                                   || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            await DropAsync();
            return new MailResult(new DeliveryOutcome.Transient($"smtp: {options.Host}:{options.Port}: {e.GetType().Name}: {e.Message}"), false);
        }
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        if (options.AcceptAnyCertificate) client.ServerCertificateValidationCallback = (_, _, _, _) => true;
        var security = options.Security switch
        {
            SmtpSecurity.StartTls => SecureSocketOptions.StartTls,
            SmtpSecurity.Tls => SecureSocketOptions.SslOnConnect,
            SmtpSecurity.None => SecureSocketOptions.None,
            _ => SecureSocketOptions.StartTlsWhenAvailable,
        };
        // MailKit's own socket leaves Nagle's algorithm on: each message then waits ~40 ms for the relay's delayed
        // ACK before its final lines go out, which caps a connection near 20 messages a second.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
            await socket.ConnectAsync(options.Host!, options.Port, connectTimeout.Token);
            await client.ConnectAsync(socket, options.Host!, options.Port, security, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        if (!string.IsNullOrEmpty(options.UserName))
            await client.AuthenticateAsync(options.UserName, Secrets.Resolve(options.Password ?? "", contentRoot, "Digests:Smtp:Password"), cancellationToken);
    }

    private async Task DropAsync()
    {
        try
        {
            if (client.IsConnected) await client.DisconnectAsync(false);
        }
        catch (Exception e) when (e is IOException or SocketException or SmtpProtocolException)
        {
            // Already broken; the next message connects afresh.
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (client.IsConnected) await client.DisconnectAsync(true);
        }
        catch (Exception e) when (e is IOException or SocketException or SmtpProtocolException or ServiceNotConnectedException)
        {
            // Closing politely is best effort.
        }
        client.Dispose();
    }
}

/// <summary>The embedded default: with no SMTP host, each message is written to the pickup folder as {delivery}.eml.</summary>
public sealed class PickupFolder(IOptions<DigestOptions> options, IHostEnvironment environment)
{
    public string Path => System.IO.Path.GetFullPath(options.Value.PickupPath, environment.ContentRootPath);

    /// <summary>Written atomically under a name fixed by the delivery, so a repeated attempt replaces rather than duplicates.</summary>
    public async Task<MailResult> WriteAsync(long deliveryId, MimeMessage message, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path);
        var target = System.IO.Path.Combine(Path, $"{deliveryId:D8}.eml");
        var temp = System.IO.Path.Combine(Path, $".{deliveryId}.{Guid.NewGuid():N}.tmp");
        await message.WriteToAsync(temp, cancellationToken);
        File.Move(temp, target, overwrite: true);
        return new MailResult(new DeliveryOutcome.Sent(message.MessageId, target), false);
    }
}
