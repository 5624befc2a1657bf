using System.Net;
using System.Net.Sockets;
using Syndicator.Digests;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>
/// <see cref="RelayStream"/> against a real loopback socket, blocking as <see cref="MailConnection"/> keeps it: what
/// MailKit writes is gathered, sent whole and in order at a flush or before a read, a silent relay still times out,
/// and a cut from another thread ends a read under way.
/// </summary>
public sealed class RelayStreamTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(RelayStream Stream, Socket Relay, IDisposable Cleanup)> ConnectAsync()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.Connect((IPEndPoint)listener.LocalEndpoint);
        var relay = await listener.AcceptSocketAsync(Ct);
        listener.Stop();
        var stream = new RelayStream(client);
        return (stream, relay, new Both(stream, relay));
    }

    private sealed class Both(IDisposable a, IDisposable b) : IDisposable
    {
        public void Dispose()
        {
            a.Dispose();
            b.Dispose();
        }
    }

    private static async Task<byte[]> ReceiveAsync(Socket relay, int count)
    {
        var received = new byte[count];
        var at = 0;
        while (at < count)
        {
            var n = await relay.ReceiveAsync(received.AsMemory(at), SocketFlags.None, Ct);
            if (n == 0) throw new EndOfStreamException($"the connection ended after {at} of {count} bytes");
            at += n;
        }
        return received;
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Writes_of_every_size_arrive_whole_and_in_order_and_nothing_goes_before_a_flush()
    {
        var (stream, relay, cleanup) = await ConnectAsync();
        using var owned = cleanup;
        // Pieces from one byte to past the gathering limit (64 KB), a message's worth and more: Persian, emoji, CRLF, NUL.
        var text = "سلام دنیا 🚀 \r\n.\r\n\0 "u8.ToArray();
        var sizes = new[] { 1, 7, 4096, 4096, 2852, 70_000, 3, 65_536, 131_072, 12 };
        var sent = new List<byte>();
        stream.Write(text);
        sent.AddRange(text);
        // Nothing is sent until MailKit flushes or reads.
        await Task.Delay(200, Ct);
        Assert.Equal(0, relay.Available);
        foreach (var size in sizes)
        {
            var piece = Enumerable.Range(0, size).Select(i => (byte)(i * 31 + size)).ToArray();
            if (size % 2 == 0) stream.Write(piece);
            else stream.Write(piece, 0, piece.Length);
            sent.AddRange(piece);
        }
        stream.Flush();
        Assert.Equal(sent.ToArray(), await ReceiveAsync(relay, sent.Count));
        // A flush with nothing gathered sends nothing.
        stream.Flush();
        await Task.Delay(100, Ct);
        Assert.Equal(0, relay.Available);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_read_sends_what_is_gathered_first_so_a_command_is_never_left_waiting_for_its_answer()
    {
        var (stream, relay, cleanup) = await ConnectAsync();
        using var owned = cleanup;
        stream.ReadTimeout = stream.WriteTimeout = 10_000;
        stream.Write("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"u8);
        var answering = Task.Run(async () =>
        {
            var command = await ReceiveAsync(relay, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n".Length);
            await relay.SendAsync("250 2.1.0 Ok\r\n"u8.ToArray(), SocketFlags.None, Ct);
            return command;
        }, Ct);
        var buffer = new byte[64];
        var read = stream.Read(buffer, 0, buffer.Length);
        Assert.Equal("250 2.1.0 Ok\r\n", System.Text.Encoding.ASCII.GetString(buffer, 0, read));
        Assert.Equal("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n", System.Text.Encoding.ASCII.GetString(await answering));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_silent_relay_times_out_and_the_connection_is_closed()
    {
        var (stream, relay, cleanup) = await ConnectAsync();
        using var owned = cleanup;
        stream.ReadTimeout = 300;
        stream.Write("DATA\r\n"u8);
        Assert.Throws<TimeoutException>(() => stream.Read(new byte[16], 0, 16));
        Assert.False(stream.CanRead);
        // The relay got the command before the client gave up on its answer, then saw the connection close.
        Assert.Equal("DATA\r\n"u8.ToArray(), await ReceiveAsync(relay, 6));
        Assert.Equal(0, await relay.ReceiveAsync(new byte[1], SocketFlags.None, Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_cut_from_another_thread_ends_a_read_under_way_and_every_later_write_fails()
    {
        var (stream, relay, cleanup) = await ConnectAsync();
        using var owned = cleanup;
        stream.ReadTimeout = stream.WriteTimeout = 30_000;
        stream.Write("QUIT\r\n"u8);
        var reading = Task.Factory.StartNew(() => stream.Read(new byte[16], 0, 16), Ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.Equal("QUIT\r\n"u8.ToArray(), await ReceiveAsync(relay, 6));
        await Task.Delay(200, Ct);
        Assert.False(reading.IsCompleted);
        var cut = System.Diagnostics.Stopwatch.StartNew();
        stream.Cut();
        // The relay said nothing: the read ends with the connection, long before its 30 s timeout.
        Assert.Equal(0, await reading.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.True(cut.Elapsed < TimeSpan.FromSeconds(5));
        stream.Write("RSET\r\n"u8);
        Assert.Throws<IOException>(() => stream.Flush());
        Assert.False(stream.CanWrite);
        Assert.Equal(0, await relay.ReceiveAsync(new byte[1], SocketFlags.None, Ct));
    }
}
