using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MimeKit;
using Syndicator.Deliveries;
using Syndicator.Digests;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Digests;

/// <summary>
/// <see cref="MailConnection"/> opens its socket with a blocking connect (so that the socket stays blocking): a relay
/// that refuses, or one whose connect never completes, must still end the attempt promptly and say so, and a
/// cancellation must end a connect under way.
/// </summary>
public sealed class MailConnectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static MimeMessage Message()
    {
        var message = new MimeMessage([MailboxAddress.Parse("news@example.com")], [MailboxAddress.Parse("читатель@example.com")], "Заголовок 📬",
            new TextPart("plain") { Text = "Hello" });
        message.MessageId = "connect-test@example.com";
        return message;
    }

    /// <summary>A port nothing listens on: bound, then closed.</summary>
    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>
    /// A listener that never accepts and whose queue is full: Linux drops further SYNs, so a connect to it neither
    /// succeeds nor fails until the client gives up.
    /// </summary>
    private sealed class FullListener : IDisposable
    {
        private readonly Socket listener = new(SocketType.Stream, ProtocolType.Tcp);
        private readonly List<Socket> fillers = [];

        public FullListener()
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(0);
            for (var i = 0; i < 3; i++)
            {
                var filler = new Socket(SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                try { filler.Connect(listener.LocalEndPoint!); }
                catch (SocketException) { /* in progress */ }
                fillers.Add(filler);
            }
            Thread.Sleep(200);
        }

        public int Port => ((IPEndPoint)listener.LocalEndPoint!).Port;

        public void Dispose()
        {
            foreach (var filler in fillers) filler.Dispose();
            listener.Dispose();
        }
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_refused_connection_is_a_transient_smtp_failure_at_once()
    {
        var port = ClosedPort();
        await using var connection = new MailConnection(new SmtpOptions { Host = "127.0.0.1", Port = port, Security = SmtpSecurity.None, TimeoutSeconds = 30 }, Path.GetTempPath());
        var clock = Stopwatch.StartNew();

        var result = await connection.SendAsync(Message(), null, Task.FromResult(true), Ct);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed.TotalSeconds:0.0} s");
        var transient = Assert.IsType<DeliveryOutcome.Transient>(result.Outcome);
        Assert.StartsWith($"smtp: 127.0.0.1:{port}: {nameof(SocketException)}", transient.Error);
        Assert.False(result.HardBounce);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_connect_that_never_completes_ends_at_the_timeout_as_a_transient_failure()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("A full accept queue drops SYNs on Linux; other systems may refuse instead.");
        using var relay = new FullListener();
        await using var connection = new MailConnection(new SmtpOptions { Host = "127.0.0.1", Port = relay.Port, Security = SmtpSecurity.None, TimeoutSeconds = 1 }, Path.GetTempPath());
        var clock = Stopwatch.StartNew();

        var result = await connection.SendAsync(Message(), null, Task.FromResult(true), Ct);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed.TotalSeconds:0.0} s against a 1 s timeout");
        var transient = Assert.IsType<DeliveryOutcome.Transient>(result.Outcome);
        Assert.StartsWith($"smtp: 127.0.0.1:{relay.Port}: {nameof(SocketException)}", transient.Error);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_cancellation_ends_a_connect_under_way_as_a_cancellation_not_a_failure()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("A full accept queue drops SYNs on Linux; other systems may refuse instead.");
        using var relay = new FullListener();
        await using var connection = new MailConnection(new SmtpOptions { Host = "127.0.0.1", Port = relay.Port, Security = SmtpSecurity.None, TimeoutSeconds = 60 }, Path.GetTempPath());
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromMilliseconds(500));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connection.SendAsync(Message(), null, Task.FromResult(true), deadline.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed.TotalSeconds:0.0} s against a 60 s timeout");
    }
}
