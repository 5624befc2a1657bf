using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;

namespace Syndicator.Web;

/// <summary>
/// One body of a <see cref="FeedFile"/> copied once, framed as the response's only chunk, into an anonymous in-memory
/// file (Linux <c>memfd_create</c>), so every later request hands it to the kernel with one <c>sendfile(2)</c> instead
/// of copying it through Kestrel's output pipe and then again into the socket. The bytes never change; the handle is
/// closed when the cache has dropped the entry and the last send from it has finished.
/// </summary>
internal sealed class FeedFileSpool
{
    private const uint MfdCloexec = 1;
    private const int EAgain = 11;
    private const int EIntr = 4;

    private readonly FileStream stream;

    /// <summary>The stream's handle, kept apart: <see cref="FileStream.SafeFileHandle"/> costs an lseek per call (it syncs the position).</summary>
    private readonly SafeFileHandle handle;

    /// <summary>The cache's reference plus one per send in flight; the handle closes when it reaches zero.</summary>
    private int references = 1;

    private FeedFileSpool(SafeFileHandle handle, int length)
    {
        this.handle = handle;
        stream = new FileStream(handle, FileAccess.Read, bufferSize: 0, isAsync: true);
        Length = length;
    }

    /// <summary>Bytes in the spool: the body with its chunk-size line before it and the closing chunk after it.</summary>
    public int Length { get; }

    /// <summary>Sends that found the socket full and finished asynchronously (a slow reader, or a body larger than the socket's buffer).</summary>
    internal static long Waited => Interlocked.Read(ref waited);

    private static long waited;

    /// <summary>
    /// Copies <paramref name="body"/>, framed as one chunk (<c>{length:x}\r\n</c>, the body, <c>\r\n0\r\n\r\n</c>), into
    /// a new anonymous file, so that a single sendfile sends the chunk and the end of the response. The memfd is reopened
    /// read-only through <c>/proc/self/fd</c> for asynchronous use (the socket's sendfile wants a handle opened that
    /// way) and the writable descriptor closed, so nothing can change the bytes afterwards.
    /// </summary>
    /// <exception cref="IOException">The kernel refused (no memfd_create, no /proc, out of descriptors or memory).</exception>
    public static FeedFileSpool Create(byte[] body)
    {
        var head = System.Text.Encoding.ASCII.GetBytes($"{body.Length:x}\r\n");
        var tail = "\r\n0\r\n\r\n"u8;
        var fd = memfd_create("syndicator-feed", MfdCloexec);
        if (fd < 0) throw new IOException($"memfd_create failed with errno {Marshal.GetLastPInvokeError()}.");
        using var writable = new SafeFileHandle(fd, ownsHandle: true);
        RandomAccess.Write(writable, head, 0);
        RandomAccess.Write(writable, body, head.Length);
        RandomAccess.Write(writable, tail, head.Length + body.Length);
        var readable = File.OpenHandle($"/proc/self/fd/{fd}", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
        return new FeedFileSpool(readable, head.Length + body.Length + tail.Length);
    }

    /// <summary>Takes a reference for one send; false once the spool is retired and closing.</summary>
    public bool TryAcquire()
    {
        for (var current = Volatile.Read(ref references); current > 0; current = Volatile.Read(ref references))
            if (Interlocked.CompareExchange(ref references, current + 1, current) == current) return true;
        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref references) == 0) stream.Dispose();
    }

    /// <summary>The cache lets go: the handle closes now, or when the last send in flight ends.</summary>
    public void Retire() => Release();

    /// <summary>
    /// Sends the body as the response's only chunk: Kestrel writes the head, then the kernel sends the chunk, framing
    /// included, from the spool straight to the socket.
    /// </summary>
    /// <remarks>
    /// <para>Safe only because the socket transport runs with <c>MaxWriteBufferSize</c> = 1 (<see cref="FeedFileSendFile.Configure"/>):
    /// a flush then completes only once the transport's send loop has handed every byte Kestrel wrote to the kernel
    /// (it returns a buffer to the pipe only after the socket accepted it), so the file cannot overtake the head.
    /// With any larger limit a flush returns while the head may still wait in the pipe, and wrk saw corrupted
    /// responses (thousands of read errors in 3 s).</para>
    /// <para>Chunked rather than Content-Length: Kestrel counts the body bytes that pass through it and fails a response
    /// that declared more (it never saw these); a response whose application set <c>Transfer-Encoding: chunked</c> is
    /// framed by the application and keeps the connection alive.</para>
    /// <para>The first sendfile is made here, on the request's thread: the socket is non-blocking (the runtime sets it so
    /// at Kestrel's first asynchronous receive; were it not, the call would only wait, never fail), and a feed body
    /// usually fits its send buffer whole, so the request ends without a wait, a timer or a hop to another thread (the
    /// runtime's asynchronous send took an lseek, an fstat and a thread-pool hop per request). Only what the socket
    /// did not take goes out asynchronously.</para>
    /// <para>A send that fails or stalls (below Kestrel's minimum response data rate) aborts the connection: the reader
    /// cannot tell where the body ended, exactly as when Kestrel itself gives up on a slow reader.</para>
    /// </remarks>
    public async Task SendAsync(HttpContext context, Socket socket)
    {
        var response = context.Response;
        response.Headers.TransferEncoding = "chunked";
        await response.StartAsync();
        // The reader went away (or Kestrel aborted the connection): nothing more to send.
        if ((await response.BodyWriter.FlushAsync()).IsCompleted || context.RequestAborted.IsCancellationRequested) return;

        var (offset, error) = SendNow(socket);
        if (error == 0 && offset < Length) error = await SendRestAsync(context, socket, offset);
        if (error != 0) context.Abort();
    }

    /// <summary>
    /// sendfile(2) until the socket has the whole spool or is full; returns how far it got and the errno that stopped
    /// it (0 when done or full).
    /// </summary>
    private (long Sent, int Error) SendNow(Socket socket)
    {
        SafeSocketHandle target;
        try
        {
            target = socket.SafeHandle;
        }
        catch (ObjectDisposedException)
        {
            return (0, -1); // Kestrel closed the socket after the flush (the reader hung up)
        }
        var source = handle;
        bool targetAdded = false, sourceAdded = false;
        try
        {
            target.DangerousAddRef(ref targetAdded);
            source.DangerousAddRef(ref sourceAdded);
            var (outFd, inFd) = ((int)target.DangerousGetHandle(), (int)source.DangerousGetHandle());
            long offset = 0;
            while (offset < Length)
            {
                var sent = sendfile(outFd, inFd, ref offset, (nuint)(Length - offset)); // the kernel moves offset on
                if (sent > 0) continue;
                if (sent == 0) return (offset, -1); // the spool ended early: it cannot, its bytes never change
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EIntr) continue;
                return (offset, errno == EAgain ? 0 : errno);
            }
            return (offset, 0);
        }
        catch (ObjectDisposedException)
        {
            return (0, -1); // closed between taking the handle and using it
        }
        finally
        {
            if (sourceAdded) source.DangerousRelease();
            if (targetAdded) target.DangerousRelease();
        }
    }

    /// <summary>The rest, once the socket has room again, within Kestrel's minimum response data rate; returns 0 or a socket error.</summary>
    private async Task<int> SendRestAsync(HttpContext context, Socket socket, long offset)
    {
        Interlocked.Increment(ref waited);
        var rest = (int)(Length - offset);
        var rate = context.Features.Get<IHttpMinResponseDataRateFeature>()?.MinDataRate;
        using var deadline = rate is null ? null : new CancellationTokenSource(rate.GracePeriod + TimeSpan.FromSeconds((double)rest / rate.BytesPerSecond));
        await using var abort = deadline?.Token.UnsafeRegister(static state => ((HttpContext)state!).Abort(), context);
        using var send = new SendOperation();
        send.SendPacketsElements = [new SendPacketsElement(stream, offset, rest, endOfPacket: true)];
        try
        {
            var error = socket.SendPacketsAsync(send) ? await send.Completion : send.SocketError;
            return error == SocketError.Success ? 0 : (int)error;
        }
        catch (ObjectDisposedException)
        {
            // Kestrel closed the socket meanwhile (the reader hung up): as a failed send, not an application error in the log.
            return (int)SocketError.OperationAborted;
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int memfd_create(string name, uint flags);

    /// <summary>sendfile(2) with a 64-bit offset (off_t on 64-bit Linux; <see cref="FeedFileSendFile.Supported"/> asks for a 64-bit process).</summary>
    [DllImport("libc", SetLastError = true)]
    private static extern nint sendfile(int outFd, int inFd, ref long offset, nuint count);

    private sealed class SendOperation : SocketAsyncEventArgs
    {
        private readonly TaskCompletionSource<SocketError> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<SocketError> Completion => completion.Task;

        protected override void OnCompleted(SocketAsyncEventArgs e) => completion.TrySetResult(e.SocketError);
    }
}

/// <summary>When a feed body goes out with sendfile(2) (<see cref="HttpOptions.SendFile"/>), and the transport setting that makes it safe.</summary>
internal static class FeedFileSendFile
{
    /// <summary>Smaller bodies are copied through Kestrel: a few kilobytes cost less to copy than the extra system calls.</summary>
    public const int MinBytes = 16 * 1024;

    /// <summary>The transport's write buffer that makes a flush wait until the socket has everything (see <see cref="FeedFileSpool.SendAsync"/>).</summary>
    public const long TransportWriteBufferBytes = 1;

    /// <summary>sendfile from an anonymous memory file needs Linux (memfd_create and /proc/self/fd), and a 64-bit process for its 64-bit offset.</summary>
    public static bool Supported(HttpOptions options) => options.SendFile && OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    /// <summary>
    /// Sets the socket transport up for sendfile when <see cref="HttpOptions.SendFile"/> is on: a write buffer of one
    /// byte, so a flush returns once the kernel has every byte written before it. Every response then waits for its
    /// last flush to reach the socket (measured in the bench: a 304 cost 22–24 µs of CPU against 21 µs with the default
    /// 64 KB buffer, inside this machine's noise, while a 249 KB plain 200 went from 166 µs to 72–86 µs), and a
    /// connection holds no unsent bytes in user memory.
    /// </summary>
    public static void Configure(IServiceCollection services, HttpOptions options)
    {
        if (Supported(options)) services.Configure<SocketTransportOptions>(transport => transport.MaxWriteBufferSize = TransportWriteBufferBytes);
    }

    /// <summary>Whether the running server may use sendfile: configured, supported, and the transport set up by <see cref="Configure"/>.</summary>
    public static bool Enabled(IServiceProvider services) =>
        Supported(services.GetRequiredService<IOptions<HttpOptions>>().Value)
        && services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.MaxWriteBufferSize == TransportWriteBufferBytes;

    /// <summary>
    /// The socket it may be sent on: a plain HTTP/1.1 GET on Kestrel's socket transport. HEAD has no body, HTTP/1.0 has
    /// no chunks, HTTP/2 frames its own data and TLS must encrypt every byte, so those are copied through Kestrel.
    /// </summary>
    public static Socket? SocketFor(HttpContext context)
    {
        var request = context.Request;
        // The connection's own TLS feature, not only the scheme: a scheme rewritten by a forwarded-headers middleware
        // must never let plain bytes into an encrypted connection.
        if (!HttpMethods.IsGet(request.Method) || !HttpProtocol.IsHttp11(request.Protocol) || request.IsHttps
            || context.Features.Get<Microsoft.AspNetCore.Http.Features.ITlsConnectionFeature>() is not null) return null;
        return context.Features.Get<IConnectionSocketFeature>()?.Socket;
    }
}
