using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Syndicator.Shared;

namespace Syndicator.Announcements;

/// <summary>An article's image as downloaded: its bytes and the type they really are (read from their first bytes).</summary>
public sealed record FetchedImage(string SourceUrl, byte[] Bytes, string MediaType);

/// <summary>
/// Downloads an article's image for a post. Bounded: at most <c>maxBytes</c> (each network's own limit) read, the
/// whole download within Announcements:ImageTimeoutSeconds (15 by default), at most <see cref="MaxRedirects"/> redirects, http and https only.
/// The bytes must be a JPEG, PNG, GIF or WebP whatever the server calls them. The connection is refused to
/// loopback, private, link-local and other non-public addresses (checked on the address really connected to, so a
/// name that resolves there or a redirect that leads there is caught too) unless Site:AllowLocalUrls is set. Every
/// failure is returned as a reason, never thrown: an image never stops a post.
/// </summary>
public sealed class ImageFetcher(HttpClient http, IOptions<AnnouncementOptions> options)
{
    public const int MaxRedirects = 3;

    private TimeSpan Timeout => TimeSpan.FromSeconds(options.Value.ImageTimeoutSeconds);

    public async Task<(FetchedImage? Image, string? Problem)> FetchAsync(string url, int maxBytes, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            return (null, $"the image address {Shown.Value(url)} is not an http(s) URL");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
                return (null, $"the image {url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            var declared = response.Content.Headers.ContentType?.MediaType;
            if (declared is null || !declared.StartsWith("image/", StringComparison.OrdinalIgnoreCase))
                return (null, $"the image {url} is served as {declared ?? "no type"}, not as an image");
            if (response.Content.Headers.ContentLength > maxBytes)
                return (null, $"the image {url} is {response.Content.Headers.ContentLength:N0} bytes, more than the {maxBytes:N0} bytes the network takes");
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, timeout.Token)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > maxBytes) return (null, $"the image {url} is more than the {maxBytes:N0} bytes the network takes");
            }
            var bytes = buffer.ToArray();
            return Sniff(bytes) is { } type
                ? (new FetchedImage(url, bytes, type), null)
                : (null, $"the image {url} ({declared}) is not a JPEG, PNG, GIF or WebP image");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"the image {url} did not arrive within {Timeout.TotalSeconds:N0} seconds");
        }
        catch (HttpRequestException e)
        {
            return (null, $"the image {url} could not be downloaded: {e.InnerException?.Message ?? e.Message}");
        }
        catch (IOException e)
        {
            return (null, $"the image {url} could not be downloaded: {e.Message}");
        }
    }

    /// <summary>The image type the bytes are, by their signature; null for anything else (an HTML error page, say).</summary>
    public static string? Sniff(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) ? "image/jpeg"
        : bytes.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) ? "image/png"
        : bytes.StartsWith("GIF87a"u8) || bytes.StartsWith("GIF89a"u8) ? "image/gif"
        : bytes.Length >= 12 && bytes.StartsWith("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8) ? "image/webp"
        : null;

    /// <summary>The handler behind the fetcher's HttpClient: redirects bounded, connections only to public addresses unless <paramref name="allowLocal"/>.</summary>
    public static SocketsHttpHandler Handler(bool allowLocal) => PublicAddresses.Handler(allowLocal, MaxRedirects, (host, _) =>
        $"{host} is a loopback, private or otherwise non-public address, which images are never fetched from (Site:AllowLocalUrls allows it on a trial machine)");
}
