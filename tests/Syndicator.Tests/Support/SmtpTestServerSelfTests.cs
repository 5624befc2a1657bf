using System.Net;
using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using MimeKit.Text;
using MimeKit.Utils;

namespace Syndicator.Tests.Support;

/// <summary>
/// Proves <see cref="SmtpTestServer"/> (Debian's aiosmtpd on loopback) behaves like a real mail server towards
/// MailKit's own <see cref="SmtpClient"/>, so that "the digest reached the server" means something: envelope and
/// headers arrive as sent, connections are counted, rules refuse recipients with the codes asked for, AUTH and TLS work.
/// </summary>
public sealed class SmtpTestServerSelfTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private static MimeMessage Digest(string to = "reader@example.org", string subject = "Your weekly digest")
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Syndicator", "digest@example.org"));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.MessageId = MimeUtils.GenerateMessageId("example.org");
        message.Body = new TextPart(TextFormat.Plain) { Text = "Three new articles this week.\n" };
        return message;
    }

    private static async Task<SmtpClient> ConnectAsync(SmtpTestServer server, SecureSocketOptions security = SecureSocketOptions.None,
        IProtocolLogger? logger = null)
    {
        var client = logger is null ? new SmtpClient() : new SmtpClient(logger);
        client.Timeout = 20_000;
        client.LocalDomain = "client.test";
        client.CheckCertificateRevocation = false;
        // Tests only: the server's certificate is self-signed. Accept that one certificate and nothing else.
        client.ServerCertificateValidationCallback = (_, certificate, _, _) =>
            server.Certificate is { } expected && certificate is not null && certificate.GetCertHashString() == expected.GetCertHashString();
        await client.ConnectAsync(server.Host, server.Port, security, Ct);
        return client;
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_message_arrives_with_its_envelope_and_headers_intact()
    {
        await using var server = await SmtpTestServer.StartAsync(null, Ct);

        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Syndicator Digest", "digest@example.org"));
        message.To.Add(new MailboxAddress("Ada Lovelace", "ada@example.org"));
        message.Cc.Add(new MailboxAddress("Grace Hopper", "grace@example.org"));
        message.Bcc.Add(new MailboxAddress("Hidden", "hidden@example.org"));
        message.ReplyTo.Add(new MailboxAddress(null, "editor@example.org"));
        message.Subject = "Digest: Ünïcödé & long subject — " + new string('x', 120);
        message.MessageId = "digest-42@example.org";
        message.Date = new DateTimeOffset(2024, 3, 5, 9, 30, 0, TimeSpan.FromHours(1));
        message.Headers.Add("List-Unsubscribe", "<https://example.org/unsubscribe?t=abc>, <mailto:unsubscribe@example.org>");
        message.Headers.Add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
        message.Headers.Add("X-Syndicator-Digest", "weekly/2024-10");
        var body = new BodyBuilder
        {
            TextBody = "Hello Ada,\n.\n.leading dot line\nThree new articles.\n",
            HtmlBody = "<p>Hello <b>Ada</b></p>",
        };
        message.Body = body.ToMessageBody();

        using (var client = await ConnectAsync(server))
        {
            await client.SendAsync(message, Ct);
            await client.DisconnectAsync(quit: true, Ct);
        }

        var received = Assert.Single(await server.WaitForMessagesAsync(1, Wait, Ct));
        Assert.Equal("digest@example.org", received.MailFrom);
        Assert.Equal(["ada@example.org", "grace@example.org", "hidden@example.org"], received.Recipients.Order());
        Assert.Equal(1, received.Connection);
        Assert.Equal("client.test", received.Helo);
        Assert.False(received.Tls);

        var got = received.Message;
        Assert.Equal(message.Subject, got.Subject);
        Assert.Equal("digest-42@example.org", got.MessageId);
        Assert.Equal(message.Date, got.Date);
        Assert.Equal("\"Syndicator Digest\" <digest@example.org>", got.From.ToString());
        Assert.Equal("\"Ada Lovelace\" <ada@example.org>", got.To.ToString());
        Assert.Equal("\"Grace Hopper\" <grace@example.org>", got.Cc.ToString());
        Assert.Empty(got.Bcc); // MailKit leaves Bcc out of the data; the envelope still has the recipient
        Assert.DoesNotContain("hidden@example.org", received.RawText);
        Assert.Equal("<https://example.org/unsubscribe?t=abc>, <mailto:unsubscribe@example.org>", got.Headers["List-Unsubscribe"]);
        Assert.Equal("List-Unsubscribe=One-Click", got.Headers["List-Unsubscribe-Post"]);
        Assert.Equal("weekly/2024-10", got.Headers["X-Syndicator-Digest"]);
        Assert.Equal("Hello Ada,\n.\n.leading dot line\nThree new articles.\n", got.TextBody?.ReplaceLineEndings("\n"));
        Assert.Equal("<p>Hello <b>Ada</b></p>", got.HtmlBody?.Trim());

        // The bytes are what went over the wire after dot-unstuffing: CRLF line ends, and no line of SMTP framing.
        Assert.Contains("\r\nX-Syndicator-Digest: weekly/2024-10\r\n", received.RawText);
        // MailKit dot-stuffed the body's dot lines ("..", "..leading"); the server stored them unstuffed.
        Assert.Contains("\r\nHello Ada,\r\n.\r\n.leading dot line\r\n", received.RawText);
        Assert.DoesNotContain("\n..", received.RawText);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Three_messages_over_one_connection_count_as_one_connection()
    {
        await using var server = await SmtpTestServer.StartAsync(null, Ct);

        using (var client = await ConnectAsync(server))
        {
            for (var i = 1; i <= 3; i++)
                await client.SendAsync(Digest($"reader{i}@example.org", $"Digest {i}"), Ct);
            await client.DisconnectAsync(quit: true, Ct);
        }

        var messages = await server.WaitForMessagesAsync(3, Wait, Ct);
        Assert.Equal(["Digest 1", "Digest 2", "Digest 3"], messages.Select(m => m.Message.Subject));
        Assert.All(messages, m => Assert.Equal(messages[0].Connection, m.Connection));
        Assert.Equal([1, 2, 3], messages.Select(m => m.MessageInConnection));

        var stats = server.Stats;
        Assert.Equal(1, stats.Connections);
        Assert.Equal(3, stats.Messages);
        Assert.Equal(3, stats.MessagesPerConnection[messages[0].Connection]);

        // A second connection is counted as such.
        using (var client = await ConnectAsync(server))
        {
            await client.SendAsync(Digest("reader4@example.org", "Digest 4"), Ct);
            await client.DisconnectAsync(quit: true, Ct);
        }
        var fourth = (await server.WaitForMessagesAsync(4, Wait, Ct))[3];
        Assert.NotEqual(messages[0].Connection, fourth.Connection);
        stats = await server.GetStatsAsync(Ct);
        Assert.Equal(2, stats.Connections);
        Assert.Equal(1, stats.MessagesPerConnection[fourth.Connection]);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_recipient_failed_with_451_once_is_refused_the_first_time_and_accepted_the_second()
    {
        await using var server = await SmtpTestServer.StartAsync(null, Ct);
        server.FailRecipient("Later@Example.org", 451, "4.7.1 try later", times: 1);

        using var client = await ConnectAsync(server);
        var error = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(Digest("later@example.org"), Ct));
        Assert.Equal(451, (int)error.StatusCode);
        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, error.ErrorCode);
        Assert.Equal("later@example.org", error.Mailbox?.Address);
        Assert.Contains("4.7.1 try later", error.Message);
        Assert.Empty(await server.MessagesAsync(Ct));

        // Same connection, second try: accepted.
        await client.SendAsync(Digest("later@example.org"), Ct);
        await client.DisconnectAsync(quit: true, Ct);

        var received = Assert.Single(await server.WaitForMessagesAsync(1, Wait, Ct));
        Assert.Equal(["later@example.org"], received.Recipients);
        var rejection = Assert.Single(server.Stats.Rejections);
        Assert.Equal(("rcpt", "later@example.org", "451 4.7.1 try later"), (rejection.Kind, rejection.Address, rejection.Reply));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_recipient_failed_with_550_is_refused_every_time()
    {
        await using var server = await SmtpTestServer.StartAsync(null, Ct);
        server.FailRecipient("gone@example.org", 550, "5.1.1 no such user");

        using var client = await ConnectAsync(server);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var error = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(Digest("gone@example.org"), Ct));
            Assert.Equal(550, (int)error.StatusCode);
            Assert.Equal(SmtpErrorCode.RecipientNotAccepted, error.ErrorCode);
        }
        // Others are still accepted on the same connection.
        await client.SendAsync(Digest("present@example.org"), Ct);
        await client.DisconnectAsync(quit: true, Ct);

        var received = Assert.Single(await server.WaitForMessagesAsync(1, Wait, Ct));
        Assert.Equal(["present@example.org"], received.Recipients);
        Assert.Equal(3, server.Stats.Rejections.Count);

        // Clearing the rules lets the address through.
        server.ClearRules();
        using var again = await ConnectAsync(server);
        await again.SendAsync(Digest("gone@example.org"), Ct);
        await again.DisconnectAsync(quit: true, Ct);
        Assert.Equal(2, (await server.WaitForMessagesAsync(2, Wait, Ct)).Count);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_data_failure_refuses_the_whole_message()
    {
        await using var server = await SmtpTestServer.StartAsync(null, Ct);
        server.FailData("spamtrap@example.org", 554, "5.6.0 content rejected", times: 1);

        using var client = await ConnectAsync(server);
        var error = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(Digest("spamtrap@example.org"), Ct));
        Assert.Equal(554, (int)error.StatusCode);
        Assert.Equal(SmtpErrorCode.MessageNotAccepted, error.ErrorCode);

        await client.SendAsync(Digest("spamtrap@example.org"), Ct);
        await client.DisconnectAsync(quit: true, Ct);
        Assert.Single(await server.WaitForMessagesAsync(1, Wait, Ct));
        Assert.Equal("data", Assert.Single(server.Stats.Rejections).Kind);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_drop_at_the_recipient_ends_the_connection_after_mail_from_and_stores_nothing()
    {
        await using var server = await SmtpTestServer.StartAsync(null, Ct);
        server.DropAtRecipient("vanishing@example.org", times: 1);

        using var client = await ConnectAsync(server);
        await Assert.ThrowsAnyAsync<Exception>(() => client.SendAsync(Digest("vanishing@example.org"), Ct));
        Assert.False(client.IsConnected);
        Assert.Empty(await server.MessagesAsync(Ct));
        Assert.Equal("dropped_at_rcpt", Assert.Single(server.Stats.Rejections).Kind);

        // Only that many times: the next connection gets the message through.
        using var again = await ConnectAsync(server);
        await again.SendAsync(Digest("vanishing@example.org"), Ct);
        await again.DisconnectAsync(quit: true, Ct);
        Assert.Single(await server.WaitForMessagesAsync(1, Wait, Ct));
    }

    [Theory(Timeout = TestTimeouts.Default)]
    [InlineData("PLAIN")]
    [InlineData("LOGIN")]
    public async Task Wrong_credentials_get_535_and_right_ones_are_accepted(string mechanism)
    {
        await using var server = await SmtpTestServer.StartAsync(new SmtpTestServerOptions { Auth = ("digest", "s3cret:with colon") }, Ct);
        using var wire = new MemoryStream();

        using (var logger = new ProtocolLogger(wire, leaveOpen: true))
        using (var client = await ConnectAsync(server, logger: logger))
        {
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Authentication));
            Assert.Contains(mechanism, client.AuthenticationMechanisms);

            // Mail before AUTH is refused with 530, which MailKit reports as ServiceNotAuthenticatedException.
            var unauthenticated = await Assert.ThrowsAsync<ServiceNotAuthenticatedException>(() => client.SendAsync(Digest(), Ct));
            Assert.Equal("5.7.0 Authentication required", unauthenticated.Message);

            await Assert.ThrowsAsync<AuthenticationException>(() =>
                client.AuthenticateAsync(Mechanism(mechanism, "digest", "wrong"), Ct));
            Assert.False(client.IsAuthenticated);

            await client.AuthenticateAsync(Mechanism(mechanism, "digest", "s3cret:with colon"), Ct);
            Assert.True(client.IsAuthenticated);
            await client.SendAsync(Digest(), Ct);
            await client.DisconnectAsync(quit: true, Ct);
        }

        var transcript = System.Text.Encoding.UTF8.GetString(wire.ToArray());
        Assert.Contains("S: 530 5.7.0 Authentication required", transcript);
        Assert.Contains("S: 535 5.7.8 Authentication credentials invalid", transcript);
        Assert.Contains("S: 235 2.7.0 Authentication successful", transcript);

        var received = Assert.Single(await server.WaitForMessagesAsync(1, Wait, Ct));
        Assert.Equal("digest", received.AuthenticatedUser);
        var stats = server.Stats;
        Assert.Equal((1, 1), (stats.AuthSuccesses, stats.AuthFailures));
        Assert.Equal("digest", Assert.Single(stats.ConnectionDetails).AuthenticatedUser);

        static SaslMechanism Mechanism(string name, string user, string password)
        {
            var credentials = new NetworkCredential(user, password);
            return name == "PLAIN" ? new SaslMechanismPlain(credentials) : new SaslMechanismLogin(credentials);
        }
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task StartTls_upgrades_the_connection_and_then_offers_auth()
    {
        await using var server = await SmtpTestServer.StartAsync(
            new SmtpTestServerOptions { StartTls = true, RequireStartTls = true, Auth = ("digest", "s3cret") }, Ct);
        Assert.NotNull(server.Certificate);

        // Without STARTTLS the server refuses mail.
        using (var plain = await ConnectAsync(server, SecureSocketOptions.None))
        {
            Assert.True(plain.Capabilities.HasFlag(SmtpCapabilities.StartTLS));
            Assert.False(plain.Capabilities.HasFlag(SmtpCapabilities.Authentication)); // AUTH only after STARTTLS
            // 530, which MailKit reports as ServiceNotAuthenticatedException.
            var error = await Assert.ThrowsAsync<ServiceNotAuthenticatedException>(() => plain.SendAsync(Digest(), Ct));
            Assert.Equal("Must issue a STARTTLS command first", error.Message);
            await plain.DisconnectAsync(quit: true, Ct);
        }

        using (var client = await ConnectAsync(server, SecureSocketOptions.StartTls))
        {
            Assert.True(client.IsSecure);
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Authentication));
            await client.AuthenticateAsync("digest", "s3cret", Ct);
            await client.SendAsync(Digest(), Ct);
            await client.SendAsync(Digest("second@example.org"), Ct);
            await client.DisconnectAsync(quit: true, Ct);
        }

        var messages = await server.WaitForMessagesAsync(2, Wait, Ct);
        Assert.All(messages, m => Assert.True(m.Tls));
        Assert.All(messages, m => Assert.Equal("digest", m.AuthenticatedUser));
        var stats = server.Stats;
        Assert.Equal(2, stats.Connections); // the STARTTLS upgrade is the same connection
        Assert.Equal(2, stats.MessagesPerConnection[messages[0].Connection]);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_client_that_does_not_trust_the_self_signed_certificate_is_refused_by_its_own_tls()
    {
        await using var server = await SmtpTestServer.StartAsync(new SmtpTestServerOptions { StartTls = true }, Ct);
        using var client = new SmtpClient { Timeout = 20_000, CheckCertificateRevocation = false };
        await Assert.ThrowsAsync<SslHandshakeException>(() =>
            client.ConnectAsync(server.Host, server.Port, SecureSocketOptions.StartTls, Ct));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Implicit_tls_works_from_the_first_byte()
    {
        await using var server = await SmtpTestServer.StartAsync(
            new SmtpTestServerOptions { ImplicitTls = true, Auth = ("digest", "s3cret") }, Ct);

        using (var client = await ConnectAsync(server, SecureSocketOptions.SslOnConnect))
        {
            Assert.True(client.IsSecure);
            await client.AuthenticateAsync("digest", "s3cret", Ct);
            await client.SendAsync(Digest(), Ct);
            await client.DisconnectAsync(quit: true, Ct);
        }

        var received = Assert.Single(await server.WaitForMessagesAsync(1, Wait, Ct));
        Assert.True(received.Tls);
        Assert.Equal("digest", received.AuthenticatedUser);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Disposing_stops_the_server_and_frees_its_port()
    {
        var server = await SmtpTestServer.StartAsync(null, Ct);
        var port = server.Port;
        var mailDirectory = server.MailDirectory;
        Assert.True(Directory.Exists(mailDirectory));
        using (var client = await ConnectAsync(server))
            await client.DisconnectAsync(quit: true, Ct);

        await server.DisposeAsync();

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(() => socket.ConnectAsync(IPAddress.Loopback, port, Ct).AsTask());
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.False(Directory.Exists(mailDirectory));
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task WaitForMessages_times_out_with_what_it_has()
    {
        await using var server = await SmtpTestServer.StartAsync(null, Ct);
        var error = await Assert.ThrowsAsync<TimeoutException>(() => server.WaitForMessagesAsync(1, TimeSpan.FromMilliseconds(200), Ct));
        Assert.Contains("got 0", error.Message);
    }
}
