using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Announcements;
using Syndicator.Announcements.Bluesky;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.Bluesky;

/// <summary>Accounts whose credentials are <c>file:</c> references into a temporary folder, and clients with their own session cache.</summary>
public sealed class BlueskyTestSupport : IDisposable
{
    public TempDir Dir { get; } = new();
    public BlueskySessions Sessions { get; } = new();
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 8, 30, 15, 250, TimeSpan.Zero));

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public SocialAccount Account(string baseUrl, string identifier, string appPassword, string name = "magazine-bluesky")
    {
        var id = Guid.NewGuid().ToString("N");
        return new SocialAccount
        {
            Name = name,
            Network = Network.Bluesky,
            BaseUrl = baseUrl,
            Credentials = new(StringComparer.OrdinalIgnoreCase)
            {
                ["Identifier"] = "file:" + Dir.File($"secrets/{id}/identifier", identifier),
                ["AppPassword"] = "file:" + Dir.File($"secrets/{id}/app_password", appPassword),
            },
        };
    }

    public BlueskyClient Client(HttpClient? http = null) =>
        new(http ?? Http, new HostingEnvironment { ContentRootPath = Dir.Path }, Time, Sessions);

    public static ComposedPost Post(string key, string? imageUrl = null, string? text = null, string url = "https://magazine.example/articles/regional-mystique") =>
        new(text ?? $"The regime is losing its regional mystique {url}", url, "Losing the regional mystique",
            "Why the old deterrent no longer impresses anyone.", imageUrl, "en", key);

    public void Dispose()
    {
        Http.Dispose();
        Dir.Dispose();
    }
}
