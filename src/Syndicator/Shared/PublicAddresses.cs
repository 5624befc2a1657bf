using System.Net;
using System.Net.Sockets;

namespace Syndicator.Shared;

/// <summary>
/// Connections to addresses someone else names (an image URL in an article, an ActivityPub keyId): only to public
/// addresses unless a trial configuration allows private ones. The check is on the address actually connected to,
/// not on the URL, which is what keeps DNS rebinding and redirects to 169.254.169.254 or localhost out.
/// </summary>
public static class PublicAddresses
{
    /// <summary>A handler that resolves the host itself and connects only to public addresses (unless <paramref name="allowPrivate"/>).</summary>
    /// <param name="refusal">The error for a host with no public address, from its name and what it resolved to.</param>
    public static SocketsHttpHandler Handler(bool allowPrivate, int maxRedirects, Func<string, IReadOnlyList<IPAddress>, string> refusal) => new()
    {
        AllowAutoRedirect = true,
        MaxAutomaticRedirections = maxRedirects,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var host = context.DnsEndPoint.Host;
            var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
            var usable = allowPrivate ? addresses : addresses.Where(IsPublic).ToArray();
            if (usable.Length == 0) throw new HttpRequestException(refusal(host, addresses));
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(usable, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>False for loopback, private (RFC 1918, fc00::/7), link-local, CGNAT, multicast, broadcast and unspecified addresses.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast)) return false;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal);
        var b = address.GetAddressBytes();
        return !(b[0] == 10 || b[0] == 0 || b[0] == 127 || b[0] >= 224
            || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] >= 64 && b[1] <= 127));
    }
}
