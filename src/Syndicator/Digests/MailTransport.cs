using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MimeKit;
using Syndicator.Deliveries;
using Syndicator.Shared;

namespace Syndicator.Digests;

/// <summary>What one SMTP attempt came to; <see cref="HardBounce"/> when the server refused the recipient for good (5xx).</summary>
public sealed record MailResult(DeliveryOutcome Outcome, bool HardBounce);

/// <summary>
/// One SMTP connection through MailKit (STARTTLS or implicit TLS, authentication per config), reused for many
/// messages; errors start with "smtp:" and are classed: 4xx and connection failures transient, 5xx permanent.
/// A connection lost, a timeout or a cancellation after the end of a message's data was written is neither: the
/// relay may have stored the message before its answer was lost, so the attempt is unconfirmed.
/// The conversation runs on a thread of the connection's own, with blocking reads and writes: each of the relay's
/// answers (three per message) then wakes that thread straight from the socket. Asynchronous reads woke the runtime's
/// socket thread, which queued the rest of the exchange to the thread pool, whose workers spun looking for work in
/// between: over four connections on two cores, a fifth of a message's CPU (issue 15).
/// </summary>
public sealed class MailConnection : IAsyncDisposable
{
    private readonly SmtpOptions options;
    private readonly string contentRoot;
    private readonly DataEndWatch watch = new();
    private readonly SmtpClient client;
    private readonly ConnectionThread thread = new("smtp relay");
    /// <summary>The relay connection's stream, for a cancellation on another thread to cut.</summary>
    private volatile RelayStream? stream;

    public MailConnection(SmtpOptions options, string contentRoot)
    {
        this.options = options;
        this.contentRoot = contentRoot;
        client = new SmtpClient(watch) { Timeout = options.TimeoutSeconds * 1000 };
    }

    /// <param name="envelopeFrom">The return path (MAIL FROM) when it is not the From address: a VERP address that names the delivery.</param>
    /// <param name="handOver">
    /// The delivery's hand-over mark, being written: the end of the message's data (after which the relay may keep it)
    /// is not written before the mark has answered true. When the message ends with a spliced part the mark is written
    /// while the relay takes the envelope and the rest of the message; otherwise it is awaited before the exchange
    /// starts. A mark that answers false or fails throws <see cref="HandOverNotMarkedException"/> with nothing handed
    /// over: MailKit then drops the connection in the middle of the data, which the relay discards.
    /// </param>
    /// <param name="cancellationToken">Cancelled, it cuts the connection at once, also in the middle of a read or a write.</param>
    public Task<MailResult> SendAsync(MimeMessage message, string? envelopeFrom, Task<bool> handOver, CancellationToken cancellationToken) =>
        thread.Run(() => Send(message, envelopeFrom, handOver, cancellationToken));

    private MailResult Send(MimeMessage message, string? envelopeFrom, Task<bool> handOver, CancellationToken cancellationToken)
    {
        watch.Reset();
        var last = message.Body;
        while (last is Multipart { Count: > 0 } multipart) last = multipart[^1];
        var held = last as EncodedTextPart;
        // Blocking waits are this thread's to make: it is the connection's own, not one of the thread pool's.
        if (held is null) HandOverNotMarkedException.ThrowUnlessMarkedAsync(handOver).GetAwaiter().GetResult();
        else held.EndWaitsFor = handOver;
        try
        {
            using var cut = cancellationToken.Register(static c => ((MailConnection)c!).stream?.Cut(), this);
            if (!client.IsConnected) Connect(cancellationToken);
            if (envelopeFrom is null) client.Send(message, cancellationToken);
            else client.Send(message, new MailboxAddress("", envelopeFrom), message.To.Mailboxes, cancellationToken);
            return new MailResult(new DeliveryOutcome.Sent(message.MessageId, null), false);
        }
        catch (Exception e) when (watch.DataEndWritten && e is not SmtpCommandException)
        {
            Drop();
            return new MailResult(new DeliveryOutcome.Unconfirmed(
                $"smtp: {options.Host}:{options.Port}: the whole message was written, then {e.GetType().Name} before the relay's answer: {e.Message}", message.MessageId), false);
        }
        catch (SmtpCommandException e)
        {
            var code = (int)e.StatusCode;
            var error = $"smtp: {options.Host} answered {code} to {(e.ErrorCode == SmtpErrorCode.RecipientNotAccepted ? "RCPT TO " + e.Mailbox?.Address : e.ErrorCode.ToString())}: {e.Message}";
            return code >= 500
                ? new MailResult(new DeliveryOutcome.Permanent(error), e.ErrorCode == SmtpErrorCode.RecipientNotAccepted)
                : new MailResult(new DeliveryOutcome.Transient(error), false);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is not HandOverNotMarkedException)
        {
            // Cut by the cancellation before the end of the data: nothing was handed over.
            Drop();
            throw new OperationCanceledException($"smtp: {options.Host}:{options.Port}: the send was cancelled before the end of the message", e, cancellationToken);
        }
        catch (Exception e) when (e is SmtpProtocolException or IOException or SocketException or ServiceNotConnectedException or AuthenticationException or SslHandshakeException
                                   or OperationCanceledException)
        {
            Drop();
            return new MailResult(new DeliveryOutcome.Transient($"smtp: {options.Host}:{options.Port}: {e.GetType().Name}: {e.Message}"), false);
        }
        finally
        {
            if (held is not null) held.EndWaitsFor = null;
        }
    }

    private void Connect(CancellationToken cancellationToken)
    {
        if (options.AcceptAnyCertificate) client.ServerCertificateValidationCallback = (_, _, _, _) => true;
        var security = options.Security.ToSocketOptions();
        // MailKit's own socket leaves Nagle's algorithm on: each message then waits ~40 ms for the relay's delayed
        // ACK before its final lines go out, which caps a connection near 20 messages a second.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // A blocking connect, so that the socket stays blocking: after any asynchronous call on a socket, .NET keeps
            // it non-blocking, and a blocking read then waits for the runtime's socket thread to see the answer first.
            // Closing the socket ends the connect, for the timeout or the caller's cancellation.
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            using (connectTimeout.Token.Register(static s => ((Socket)s!).Dispose(), socket))
            {
                connectTimeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
                try
                {
                    socket.Connect(options.Host!, options.Port);
                }
                catch (Exception) when (connectTimeout.IsCancellationRequested)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new SocketException((int)SocketError.TimedOut);
                }
            }
            // Published with a full fence, then the token checked: a cancellation that came before the callback could
            // see this stream cuts it here, one that comes after finds it there.
            var relay = new RelayStream(socket);
            Interlocked.Exchange(ref stream, relay);
            if (cancellationToken.IsCancellationRequested) relay.Cut();
            client.Connect(relay, options.Host!, options.Port, security, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        if (!string.IsNullOrEmpty(options.UserName))
            client.Authenticate(options.UserName, Secrets.Resolve(options.Password ?? "", contentRoot, "Digests:Smtp:Password"), cancellationToken);
        // With SIZE (which Postfix and most relays offer) MailKit writes every message once into a counter, only to
        // put its length on MAIL FROM, before writing it again to the relay. A digest is some 11 KB against limits of
        // megabytes, and a relay checks its limit at the end of DATA anyway (552: a permanent failure, as at MAIL FROM).
        // Cleared after AUTH, as MailKit asks the relay's extensions again then.
        client.Capabilities &= ~SmtpCapabilities.Size;
    }

    private void Drop()
    {
        try
        {
            if (client.IsConnected) client.Disconnect(false);
        }
        catch (Exception e) when (e is IOException or SocketException or SmtpProtocolException)
        {
            // Already broken; the next message connects afresh.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await thread.Run(() =>
        {
            try
            {
                if (client.IsConnected) client.Disconnect(true);
            }
            catch (Exception e) when (e is IOException or SocketException or SmtpProtocolException or ServiceNotConnectedException or TimeoutException)
            {
                // Closing politely is best effort.
            }
            client.Dispose();
            return true;
        });
        thread.Dispose();
    }
}

/// <summary>
/// A thread that runs what it is given, in order, one at a time. What awaits a result resumes on this thread, as
/// a socket completion would resume on the thread that saw it: a sending lane thus runs on its connection's thread,
/// and hands it its next message from there.
/// </summary>
internal sealed class ConnectionThread : IDisposable
{
    private readonly System.Collections.Concurrent.BlockingCollection<Action> work = new();

    public ConnectionThread(string name) => new Thread(() =>
    {
        foreach (var item in work.GetConsumingEnumerable()) item();
        // Nothing is added once the work is complete (Dispose), so the last reader frees the collection.
        work.Dispose();
    }) { IsBackground = true, Name = name }.Start();

    /// <summary>Runs <paramref name="action"/> on the thread, in the caller's execution context (its trace and log scope).</summary>
    public Task<T> Run<T>(Func<T> action)
    {
        var result = new TaskCompletionSource<T>();
        var context = ExecutionContext.Capture();
        work.Add(() =>
        {
            T value;
            try
            {
                value = context is null ? action() : RunIn(context, action);
            }
            catch (Exception e)
            {
                result.SetException(e);
                return;
            }
            result.SetResult(value);
        });
        return result.Task;
    }

    private static T RunIn<T>(ExecutionContext context, Func<T> action)
    {
        var value = default(T)!;
        ExecutionContext.Run(context, _ => value = action(), null);
        return value;
    }

    /// <summary>The thread ends once what it was given is done.</summary>
    public void Dispose() => work.CompleteAdding();
}

/// <summary>
/// The relay connection's socket as MailKit's stream, with what MailKit writes gathered until it flushes or reads.
/// MailKit hands its socket 4 KB at a time, so an 11 KB digest was three sends, and on a loopback or LAN relay each
/// send is a system call that also runs the relay's side of TCP: with the envelope and DATA, five sends per message
/// and the largest kernel cost of sending (a fifth of the lanes' samples). A protocol never waits for an answer to
/// something unsent: every read sends what is gathered first. Timeouts and errors as MailKit's own stream has them:
/// <see cref="TimeoutException"/> after ReadTimeout or WriteTimeout, socket errors as <see cref="IOException"/>, and
/// the connection closed after either. Blocking only (see <see cref="MailConnection"/>): MailKit's synchronous calls
/// are the only ones it gets, and its socket must never see an asynchronous one.
/// </summary>
internal sealed class RelayStream(Socket socket) : Stream
{
    /// <summary>More than a digest: a larger message goes out in pieces of this size.</summary>
    private const int Gather = 64 * 1024;

    private byte[] pending = new byte[16 * 1024];
    private int length;
    private bool open = true;

    public override bool CanRead => open;
    public override bool CanWrite => open;
    public override bool CanSeek => false;
    public override bool CanTimeout => open;
    public override int ReadTimeout { get; set; } = Timeout.Infinite;
    public override int WriteTimeout { get; set; } = Timeout.Infinite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (length + buffer.Length > Gather) Flush();
        if (buffer.Length >= Gather) Send(buffer);
        else Append(buffer);
    }

    public override void Flush()
    {
        var count = length;
        length = 0;
        if (count > 0) Send(pending.AsSpan(0, count));
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        Flush();
        try
        {
            socket.ReceiveTimeout = ReadTimeout == Timeout.Infinite ? 0 : ReadTimeout;
            return socket.Receive(buffer, offset, count, SocketFlags.None);
        }
        catch (SocketException e)
        {
            throw Failed(e, ReadTimeout);
        }
    }

    private void Append(ReadOnlySpan<byte> buffer)
    {
        if (length + buffer.Length > pending.Length) Array.Resize(ref pending, Math.Min(Gather, Math.Max(2 * pending.Length, length + buffer.Length)));
        buffer.CopyTo(pending.AsSpan(length));
        length += buffer.Length;
    }

    private void Send(ReadOnlySpan<byte> buffer)
    {
        try
        {
            socket.SendTimeout = WriteTimeout == Timeout.Infinite ? 0 : WriteTimeout;
            while (!buffer.IsEmpty) buffer = buffer[socket.Send(buffer)..];
        }
        catch (SocketException e)
        {
            throw Failed(e, WriteTimeout);
        }
    }

    /// <summary>Ends the connection from another thread: a read or write under way returns at once, and every later one fails.</summary>
    public void Cut()
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }

    /// <summary>The connection is closed after any failure; what to throw for it.</summary>
    private Exception Failed(SocketException e, int timeout)
    {
        Close();
        return e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock
            ? new TimeoutException($"Operation timed out after {timeout} milliseconds", e)
            : new IOException(e.Message, e);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && open)
        {
            open = false;
            socket.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// A message stopped before the end of its data because its hand-over mark answered false (another node holds the
/// claim: <see cref="Exception.InnerException"/> is null) or failed (the inner exception says why). Nothing was handed over.
/// </summary>
public sealed class HandOverNotMarkedException(Exception? cause)
    : Exception(cause is null ? "The claim was taken over before the message was handed over." : $"Marking the hand-over failed: {cause.Message}", cause)
{
    /// <summary>Waits for the mark; throws unless it answered true.</summary>
    internal static async Task ThrowUnlessMarkedAsync(Task<bool> handOver)
    {
        bool marked;
        try
        {
            marked = await handOver;
        }
        catch (Exception e)
        {
            throw new HandOverNotMarkedException(e);
        }
        if (!marked) throw new HandOverNotMarkedException(null);
    }
}

/// <summary>
/// Follows the SMTP conversation through MailKit's protocol log (which sees it in clear, inside TLS) to know one
/// thing: whether the end of the current message's data has been written to the relay. Before that, a failure
/// cannot have delivered the message (a relay discards an unfinished DATA); after it, the relay may have stored it.
/// </summary>
internal sealed class DataEndWatch : IProtocolLogger
{
    private static readonly byte[] DataEnd = "\r\n.\r\n"u8.ToArray();
    private readonly byte[] tail = new byte[DataEnd.Length];
    private int tailLength;
    private volatile bool awaitingGoAhead;
    private volatile bool inData;

    public bool DataEndWritten { get; private set; }

    public IAuthenticationSecretDetector? AuthenticationSecretDetector { get; set; }

    public void Reset()
    {
        awaitingGoAhead = inData = DataEndWritten = false;
        tailLength = 0;
    }

    public void LogConnect(Uri uri)
    {
    }

    public void LogClient(byte[] buffer, int offset, int count)
    {
        if (DataEndWritten || count == 0) return;
        if (inData)
        {
            // Keep the last five bytes written: the data ends with CRLF "." CRLF.
            for (var i = Math.Max(offset, offset + count - DataEnd.Length); i < offset + count; i++)
            {
                if (tailLength == tail.Length) Array.Copy(tail, 1, tail, 0, --tailLength);
                tail[tailLength++] = buffer[i];
            }
            if (tailLength == tail.Length && tail.AsSpan().SequenceEqual(DataEnd)) DataEndWritten = true;
            return;
        }
        var text = buffer.AsSpan(offset, count);
        // With PIPELINING, DATA may be the last of several commands in one write.
        if (StartsWith(text, "DATA\r\n"u8) || text.IndexOf("\r\nDATA\r\n"u8) >= 0) awaitingGoAhead = true;
        // CHUNKING: the last BDAT carries the end of the message with it.
        else if (StartsWith(text, "BDAT"u8) && text.IndexOf(" LAST"u8) >= 0) DataEndWritten = true;
    }

    public void LogServer(byte[] buffer, int offset, int count)
    {
        if (!awaitingGoAhead) return;
        // Pipelined replies may come together or one by one: the go-ahead is the line that starts with 354.
        var text = buffer.AsSpan(offset, count);
        if (StartsWith(text, "354"u8) || text.IndexOf("\n354"u8) >= 0)
        {
            awaitingGoAhead = false;
            inData = true;
            tailLength = 0;
        }
    }

    private static bool StartsWith(ReadOnlySpan<byte> text, ReadOnlySpan<byte> prefix) =>
        text.Length >= prefix.Length && System.Text.Ascii.EqualsIgnoreCase(text[..prefix.Length], prefix);

    public void Dispose()
    {
    }
}

/// <summary>The embedded default: with no SMTP host, each message is written to the pickup folder as {delivery}.eml.</summary>
public sealed class PickupFolder(IOptions<DigestOptions> options, IHostEnvironment environment)
{
    public string Path => System.IO.Path.GetFullPath(options.Value.PickupPath, environment.ContentRootPath);

    /// <summary>Written atomically under a name fixed by the delivery, so a repeated attempt replaces rather than duplicates.</summary>
    public async Task<DeliveryOutcome> WriteAsync(long deliveryId, MimeMessage message, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path);
        var target = System.IO.Path.Combine(Path, $"{deliveryId:D8}.eml");
        var temp = System.IO.Path.Combine(Path, $".{deliveryId}.{Guid.NewGuid():N}.tmp");
        await message.WriteToAsync(temp, cancellationToken);
        File.Move(temp, target, overwrite: true);
        return new DeliveryOutcome.Sent(message.MessageId, target);
    }
}
