using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Syndicator.Hosting;
using Syndicator.Scheduling;
using Syndicator.Tests.Support;
using Syndicator.Web;

namespace Syndicator.Tests.Web;

/// <summary>
/// <c>/feeds/</c> over real HTTP: the real app started on a free loopback port with the feed folder in a temporary
/// directory, which the tests fill with files of their own (the scheduled jobs are off, so nothing else writes there).
/// </summary>
public sealed class FeedHttpTests
{
    private const int TestTimeout = 30_000;

    /// <summary>Big enough to be compressed, and compressible.</summary>
    private static readonly byte[] Rss = Encoding.UTF8.GetBytes(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>The Opinion Magazine</title>" +
        string.Concat(Enumerable.Range(1, 40).Select(i => $"<item><title>Column {i}</title><link>https://magazine.example/column-{i}</link><description>Why local papers still matter, part {i}.</description></item>")) +
        "</channel></rss>\n");

    private static readonly DateTime Modified = new(2025, 3, 14, 15, 9, 26, 535, DateTimeKind.Utc);
    private static readonly DateTimeOffset ModifiedToTheSecond = new(2025, 3, 14, 15, 9, 26, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> FiveKinds => new()
    {
        { "site/rss.xml", "application/rss+xml; charset=utf-8" },
        { "site/atom.xml", "application/atom+xml; charset=utf-8" },
        { "site/feed.json", "application/feed+json; charset=utf-8" },
        { "feeds.opml", "text/x-opml; charset=utf-8" },
        { "index.html", "text/html; charset=utf-8" },
    };

    /// <summary>Feeds are answered ahead of routing: the methods, the 405 and the case-blind prefix stay what the route table gave.</summary>
    [Fact(Timeout = TestTimeout)]
    public async Task Other_methods_get_405_naming_GET_and_HEAD_and_the_prefix_matches_in_any_case()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss);

        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch, HttpMethod.Options })
        {
            using var request = new HttpRequestMessage(method, "/feeds/site/rss.xml") { Content = new StringContent("<rss/>") };
            using var response = await server.Http.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
            Assert.Equal(["GET", "HEAD"], response.Content.Headers.Allow.Order());
        }
        foreach (var path in new[] { "/FEEDS/site/rss.xml", "/Feeds/site/rss.xml" })
        {
            using var response = await server.Http.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Rss, await response.Content.ReadAsByteArrayAsync(Ct));
        }
        // A name that only starts like the prefix is not under it.
        using var other = await server.Http.GetAsync("/feedsite/rss.xml", Ct);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    /// <summary>
    /// ASP.NET Core opens a log scope and an Activity per request whenever its hosting category is enabled at any
    /// level; it is off by default (feeds cost less CPU) and on as soon as the configuration names it.
    /// </summary>
    [Fact(Timeout = TestTimeout)]
    public async Task Request_log_scopes_are_off_unless_the_configuration_names_the_hosting_category()
    {
        const string Category = "Microsoft.AspNetCore.Hosting.Diagnostics";
        await using (var quiet = await FeedServer.StartAsync(TestContext.Current.CancellationToken))
        {
            var logger = quiet.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Category);
            Assert.False(logger.IsEnabled(LogLevel.Critical));
            Assert.True(quiet.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Microsoft.AspNetCore.Server.Kestrel").IsEnabled(LogLevel.Warning));
        }
        await using var named = await FeedServer.StartAsync(Ct, new() { [$"Logging:LogLevel:{Category}"] = "Information" });
        Assert.True(named.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Category).IsEnabled(LogLevel.Information));
    }

    [Theory(Timeout = TestTimeout), MemberData(nameof(FiveKinds))]
    public async Task Each_kind_of_feed_file_is_served_with_its_content_type_and_exact_bytes(string path, string contentType)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        var bytes = Encoding.UTF8.GetBytes($"content of {path}: ünïcödé");
        server.Write(path, bytes);

        using var response = await server.Http.GetAsync("/feeds/" + path, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.ToString());
        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("/feeds")]
    [InlineData("/feeds/")]
    public async Task The_feeds_folder_itself_serves_index_html(string url)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("index.html", "<!doctype html><title>Feeds</title>"u8.ToArray());

        using var response = await server.Http.GetAsync(url, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("<!doctype html><title>Feeds</title>", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_feed_carries_a_strong_etag_of_its_bytes_its_last_modified_to_the_second_and_cache_headers()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss, Modified);

        using var response = await server.Http.GetAsync("/feeds/site/rss.xml", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var etag = response.Headers.ETag;
        Assert.NotNull(etag);
        Assert.False(etag.IsWeak);
        Assert.Equal(IdentityETag(Rss), etag.Tag);
        Assert.Equal(ModifiedToTheSecond, response.Content.Headers.LastModified);
        Assert.Equal("public, max-age=300", response.Headers.CacheControl?.ToString());
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Two_files_with_the_same_bytes_have_the_same_etag_and_a_different_file_another()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("authors/ada/rss.xml", Rss);
        server.Write("tags/press/rss.xml", Rss);
        server.Write("tags/local/rss.xml", [.. Rss, (byte)'\n']);

        var ada = await server.ETagOfAsync("/feeds/authors/ada/rss.xml");
        var press = await server.ETagOfAsync("/feeds/tags/press/rss.xml");
        var local = await server.ETagOfAsync("/feeds/tags/local/rss.xml");

        Assert.Equal(ada, press);
        Assert.NotEqual(ada, local);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("{0}")]
    [InlineData("W/{0}")]
    [InlineData("\"something-else\", {0}")]
    [InlineData("\"something-else\",W/{0} , \"more\"")]
    [InlineData("*")]
    public async Task A_matching_if_none_match_gets_304_with_no_body_and_the_same_validators(string ifNoneMatch)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/atom.xml", Rss, Modified);
        var etag = await server.ETagOfAsync("/feeds/site/atom.xml");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/feeds/site/atom.xml");
        request.Headers.TryAddWithoutValidation("If-None-Match", string.Format(ifNoneMatch, etag));
        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(etag, response.Headers.ETag?.Tag);
        Assert.Equal("public, max-age=300", response.Headers.CacheControl?.ToString());
        Assert.Equal(ModifiedToTheSecond, response.Content.Headers.LastModified);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task An_if_none_match_that_does_not_match_gets_200_even_when_if_modified_since_would_match()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss, Modified);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/feeds/site/rss.xml");
        request.Headers.TryAddWithoutValidation("If-None-Match", "\"an-old-version\"");
        request.Headers.IfModifiedSince = ModifiedToTheSecond.AddHours(1);
        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Rss, await response.Content.ReadAsByteArrayAsync(Ct));
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(86_400)]
    public async Task An_if_modified_since_at_or_after_last_modified_gets_304(int secondsAfter)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/feed.json", Rss, Modified);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/feeds/site/feed.json");
        request.Headers.IfModifiedSince = ModifiedToTheSecond.AddSeconds(secondsAfter);
        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(IdentityETag(Rss), response.Headers.ETag?.Tag);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task An_if_modified_since_before_last_modified_gets_200_with_the_file()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/feed.json", Rss, Modified);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/feeds/site/feed.json");
        request.Headers.IfModifiedSince = ModifiedToTheSecond.AddSeconds(-1);
        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Rss, await response.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_file_replaced_after_a_reader_fetched_it_is_sent_again_with_a_new_etag_and_last_modified()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss, Modified);
        var first = await server.ETagOfAsync("/feeds/site/rss.xml");
        var changed = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Rss).Replace("Column 1<", "Column one<", StringComparison.Ordinal));
        server.Write("site/rss.xml", changed, Modified.AddMinutes(5));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/feeds/site/rss.xml");
        request.Headers.TryAddWithoutValidation("If-None-Match", first);
        request.Headers.IfModifiedSince = ModifiedToTheSecond;
        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(changed, await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(IdentityETag(changed), response.Headers.ETag?.Tag);
        Assert.NotEqual(first, response.Headers.ETag?.Tag);
        Assert.Equal(ModifiedToTheSecond.AddMinutes(5), response.Content.Headers.LastModified);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_gzip_response_decompresses_to_the_original_bytes_and_has_an_etag_of_its_own()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss);

        using var response = await server.GetAsync("/feeds/site/rss.xml", acceptEncoding: "gzip");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        Assert.Equal("application/rss+xml; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var body = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.True(body.Length < Rss.Length, $"{body.Length} compressed bytes for {Rss.Length}");
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
        Assert.Equal(Rss, Decompress(new GZipStream(new MemoryStream(body), CompressionMode.Decompress)));
        Assert.Equal(IdentityETag(Rss)[..^1] + "-gz\"", response.Headers.ETag?.Tag);
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("br")]
    [InlineData("gzip, deflate, br")]
    [InlineData("gzip, deflate, br, zstd")]
    [InlineData("*")]
    public async Task Brotli_is_preferred_when_accepted_and_decompresses_to_the_original_bytes(string acceptEncoding)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/atom.xml", Rss);

        using var response = await server.GetAsync("/feeds/site/atom.xml", acceptEncoding);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["br"], response.Content.Headers.ContentEncoding);
        var body = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(Rss, Decompress(new BrotliStream(new MemoryStream(body), CompressionMode.Decompress)));
        Assert.Equal(IdentityETag(Rss)[..^1] + "-br\"", response.Headers.ETag?.Tag);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("br;q=0, gzip", "gzip")]
    [InlineData("gzip;q=1.0, br;q=0.5", "gzip")]
    [InlineData("*;q=0, gzip", "gzip")]
    [InlineData("br;q=0, gzip;q=0", null)]
    [InlineData("gzip;q=0.5, identity", null)]
    [InlineData("identity", null)]
    [InlineData("deflate, zstd", null)]
    [InlineData("identity;q=0, gzip", "gzip")]
    [InlineData("gzip;q=0, identity;q=0", null)] // nothing acceptable: the file as it is rather than a 406 a feed reader would not expect
    [InlineData("", null)]
    [InlineData("GZIP;Q=0.5", "gzip")]
    public async Task The_weights_in_accept_encoding_are_respected(string acceptEncoding, string? expected)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss);

        using var response = await server.GetAsync("/feeds/site/rss.xml", acceptEncoding);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected is null ? [] : [expected], response.Content.Headers.ContentEncoding);
        if (expected is null) Assert.Equal(Rss, await response.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_huge_accept_encoding_and_more_distinct_values_than_are_remembered_each_get_the_coding_they_ask_for()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss);
        // 8 KB of codings nobody offers before the one that counts, then 100 distinct values (64 are remembered), alternating answers.
        var huge = string.Join(", ", Enumerable.Range(0, 600).Select(i => $"x-coding-{i};q=0.9")) + ", gzip;q=0.1";
        using (var response = await server.GetAsync("/feeds/site/rss.xml", huge))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        }
        for (var i = 0; i < 100; i++)
        {
            var refuse = i % 2 == 0;
            using var response = await server.GetAsync("/feeds/site/rss.xml", $"x-{i}, gzip;q={(refuse ? "0" : "0.5")}, identity;q=0.{(refuse ? 5 : 1)}");
            Assert.Equal(refuse ? [] : ["gzip"], response.Content.Headers.ContentEncoding);
            Assert.Equal(Rss, Decoded(response, await response.Content.ReadAsByteArrayAsync(Ct)));
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Without_accept_encoding_the_file_is_sent_as_it_is()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("feeds.opml", Rss);

        using var response = await server.GetAsync("/feeds/feeds.opml", acceptEncoding: null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal(Rss, await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(IdentityETag(Rss), response.Headers.ETag?.Tag);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task If_none_match_only_matches_the_representation_actually_served()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss);
        string brotli;
        using (var first = await server.GetAsync("/feeds/site/rss.xml", "br"))
            brotli = first.Headers.ETag!.Tag;

        using var sameCoding = await server.GetAsync("/feeds/site/rss.xml", "br", ifNoneMatch: brotli);
        using var otherCoding = await server.GetAsync("/feeds/site/rss.xml", "gzip", ifNoneMatch: brotli);
        using var identity = await server.GetAsync("/feeds/site/rss.xml", null, ifNoneMatch: brotli);

        Assert.Equal(HttpStatusCode.NotModified, sameCoding.StatusCode);
        Assert.Equal(brotli, sameCoding.Headers.ETag?.Tag);
        Assert.Equal(HttpStatusCode.OK, otherCoding.StatusCode);
        Assert.Equal(["gzip"], otherCoding.Content.Headers.ContentEncoding);
        Assert.Equal(HttpStatusCode.OK, identity.StatusCode);
        Assert.Equal(Rss, await identity.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_replaced_file_is_compressed_afresh_rather_than_served_from_the_cache()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss, Modified);
        using (var before = await server.GetAsync("/feeds/site/rss.xml", "br"))
            Assert.Equal(Rss, Decompress(new BrotliStream(await before.Content.ReadAsStreamAsync(Ct), CompressionMode.Decompress)));
        var changed = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Rss).Replace("Column 2<", "Column two<", StringComparison.Ordinal));
        server.Write("site/rss.xml", changed, Modified.AddSeconds(1));

        using var after = await server.GetAsync("/feeds/site/rss.xml", "br");

        Assert.Equal(changed, Decompress(new BrotliStream(await after.Content.ReadAsStreamAsync(Ct), CompressionMode.Decompress)));
        Assert.Equal(IdentityETag(changed)[..^1] + "-br\"", after.Headers.ETag?.Tag);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(null)]
    [InlineData("gzip")]
    [InlineData("br")]
    public async Task Head_returns_the_headers_of_get_without_a_body(string? acceptEncoding)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss, Modified);
        using var get = await server.GetAsync("/feeds/site/rss.xml", acceptEncoding);
        var getBody = await get.Content.ReadAsByteArrayAsync(Ct);

        using var request = new HttpRequestMessage(HttpMethod.Head, "/feeds/site/rss.xml");
        if (acceptEncoding is not null) request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        using var head = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(getBody.Length, head.Content.Headers.ContentLength);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.Equal(get.Content.Headers.ContentEncoding, head.Content.Headers.ContentEncoding);
        Assert.Equal("application/rss+xml; charset=utf-8", head.Content.Headers.ContentType?.ToString());
        Assert.Equal(ModifiedToTheSecond, head.Content.Headers.LastModified);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Head_with_a_matching_etag_gets_304()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("index.html", Rss);
        var etag = await server.ETagOfAsync("/feeds/index.html");

        using var request = new HttpRequestMessage(HttpMethod.Head, "/feeds/index.html");
        request.Headers.TryAddWithoutValidation("If-None-Match", etag);
        using var response = await server.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("/feeds/site/missing.xml")]
    [InlineData("/feeds/nowhere/rss.xml")]
    [InlineData("/feeds/site")] // a directory
    [InlineData("/feeds/site/")]
    [InlineData("/feeds/.hidden.xml")]
    [InlineData("/feeds/site/.rss.xml.0123456789abcdef.tmp")] // the builder's temporary file, before its rename
    [InlineData("/feeds/.git/config")]
    [InlineData("/feeds/site//rss.xml")]
    public async Task A_missing_hidden_or_non_file_path_is_404(string url)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss);
        server.Write(".hidden.xml", Rss);
        server.Write("site/.rss.xml.0123456789abcdef.tmp", Rss);
        server.Write(".git/config", Rss);

        var (status, response) = await server.RawGetAsync(url);

        Assert.True(status == 404, response);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("/feeds/..%2Fappsettings.json")]
    [InlineData("/feeds/..%2fsecret.txt")]
    [InlineData("/feeds/../x")]
    [InlineData("/feeds/../secret.txt")]
    [InlineData("/feeds/%2E%2E/secret.txt")]
    [InlineData("/feeds/%2e%2e%2fsecret.txt")]
    [InlineData("/feeds/..%5Csecret.txt")]
    [InlineData("/feeds/site/..%2F..%2Fsecret.txt")]
    [InlineData("/feeds/site%2F..%2F..%2Fsecret.txt")]
    [InlineData("/feeds/..%252Fsecret.txt")]
    [InlineData("/feeds/%2Fetc%2Fpasswd")]
    [InlineData("/feeds//etc/passwd")]
    [InlineData("/feeds/{secret}")]
    public async Task A_path_that_leaves_the_feed_folder_is_404_and_reveals_nothing(string url)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss);
        var secret = Path.Combine(Path.GetDirectoryName(server.Output)!, "secret.txt");
        File.WriteAllText(secret, "TOP SECRET");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(server.Output)!, "appsettings.json"), "TOP SECRET");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(server.Output)!, "x"), "TOP SECRET");

        var (status, response) = await server.RawGetAsync(url.Replace("{secret}", Uri.EscapeDataString(secret), StringComparison.Ordinal));

        Assert.True(status == 404, response);
        Assert.DoesNotContain("TOP SECRET", response);
        Assert.DoesNotContain("root:", response);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_symbolic_link_is_not_followed_even_to_a_file_in_the_folder()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("site/rss.xml", Rss);
        var outside = Path.Combine(Path.GetDirectoryName(server.Output)!, "secret.txt");
        File.WriteAllText(outside, "TOP SECRET");
        try
        {
            File.CreateSymbolicLink(Path.Combine(server.Output, "site", "atom.xml"), outside);
            File.CreateSymbolicLink(Path.Combine(server.Output, "feeds.opml"), Path.Combine(server.Output, "site", "rss.xml"));
            Directory.CreateSymbolicLink(Path.Combine(server.Output, "tags"), Path.Combine(server.Output, "site"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Assert.Skip($"This system does not let the test create symbolic links: {e.Message}");
        }

        var (toOutside, body) = await server.RawGetAsync("/feeds/site/atom.xml");
        var (toInside, _) = await server.RawGetAsync("/feeds/feeds.opml");
        var (throughFolder, _) = await server.RawGetAsync("/feeds/tags/rss.xml");

        Assert.True(toOutside == 404, body);
        Assert.DoesNotContain("TOP SECRET", body);
        Assert.Equal(404, toInside);
        Assert.Equal(404, throughFolder);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_missing_feed_folder_answers_404_rather_than_failing()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        Directory.Delete(server.Output, recursive: true);

        using var index = await server.Http.GetAsync("/feeds/", Ct);
        using var rss = await server.Http.GetAsync("/feeds/site/rss.xml", Ct);

        Assert.Equal(HttpStatusCode.NotFound, index.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, rss.StatusCode);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_reader_never_sees_half_a_file_while_it_is_replaced_over_and_over()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        var versions = Enumerable.Range(0, 4).Select(v => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Rss).Replace("<title>Column", $"<title>v{v} Column", StringComparison.Ordinal))).ToArray();
        server.Write("site/rss.xml", versions[0]);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var writer = Task.Run(() =>
        {
            for (var i = 1; !stop.IsCancellationRequested; i++) server.Write("site/rss.xml", versions[i % versions.Length], Modified.AddSeconds(i));
        }, Ct);
        try
        {
            for (var i = 0; i < 150; i++)
            {
                using var response = await server.GetAsync("/feeds/site/rss.xml", i % 3 == 0 ? "br" : i % 3 == 1 ? "gzip" : null);
                var body = await response.Content.ReadAsByteArrayAsync(Ct);
                var coding = response.Content.Headers.ContentEncoding.SingleOrDefault();
                var content = coding switch
                {
                    "br" => Decompress(new BrotliStream(new MemoryStream(body), CompressionMode.Decompress)),
                    "gzip" => Decompress(new GZipStream(new MemoryStream(body), CompressionMode.Decompress)),
                    _ => body,
                };
                Assert.Contains(versions, v => v.AsSpan().SequenceEqual(content));
                var suffix = coding switch { "br" => "-br", "gzip" => "-gz", _ => "" };
                Assert.Equal(IdentityETag(content)[..^1] + suffix + "\"", response.Headers.ETag?.Tag);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }
    }

    /// <summary>A compressible feed of about <paramref name="kilobytes"/> KB whose every line names <paramref name="version"/>, so no two versions share bytes.</summary>
    private static byte[] BigFeed(string version, int kilobytes)
    {
        var text = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>");
        for (var i = 0; text.Length < kilobytes * 1024; i++)
            text.Append($"<item><title>{version} item {i} — گزارش {i} 報告</title><guid>{Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(version + i)))}</guid></item>\n");
        return Encoding.UTF8.GetBytes(text.Append("</channel></rss>\n").ToString());
    }

    private static byte[] Decoded(HttpResponseMessage response, byte[] body) => response.Content.Headers.ContentEncoding.SingleOrDefault() switch
    {
        "br" => Decompress(new BrotliStream(new MemoryStream(body), CompressionMode.Decompress)),
        "gzip" => Decompress(new GZipStream(new MemoryStream(body), CompressionMode.Decompress)),
        _ => body,
    };

    [Fact(Timeout = TestTimeout)]
    public async Task Memory_stays_within_the_feed_cache_however_many_files_are_served_and_evicted_files_are_served_again()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken, new() { ["Http:FeedCacheMegabytes"] = "1" });
        var files = Enumerable.Range(0, 60).Select(i => ($"tags/tag-{i}/rss.xml", BigFeed($"tag {i}", 60))).ToList();
        foreach (var (path, bytes) in files) server.Write(path, bytes);

        foreach (var coding in new string?[] { null, "gzip", "br" })
        {
            foreach (var (path, bytes) in files)
            {
                using var response = await server.GetAsync("/feeds/" + path, coding);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(bytes, Decoded(response, await response.Content.ReadAsByteArrayAsync(Ct)));
                Assert.InRange(server.Cache.Size, 0, 1024 * 1024);
            }
        }

        // 60 files of 60 KB are 3.6 MB before compression: most were dropped, and the first ones come back from disk intact.
        Assert.InRange(server.Cache.Count, 1, 30);
        using var again = await server.GetAsync("/feeds/" + files[0].Item1, "br");
        Assert.Equal(files[0].Item2, Decoded(again, await again.Content.ReadAsByteArrayAsync(Ct)));
        Assert.Equal(IdentityETag(files[0].Item2)[..^1] + "-br\"", again.Headers.ETag?.Tag);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_file_larger_than_an_eighth_of_the_cache_is_streamed_whole_uncompressed_with_its_etag_and_answers_304_and_head()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken, new() { ["Http:FeedCacheMegabytes"] = "1" });
        var huge = BigFeed("huge", 3 * 1024); // 3 MB: three times the whole cache
        server.Write("site/rss.xml", huge, Modified);

        using var get = await server.GetAsync("/feeds/site/rss.xml", "gzip, br");
        var body = await get.Content.ReadAsByteArrayAsync(Ct);
        using var head = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/feeds/site/rss.xml"), Ct);
        using var notModified = await server.GetAsync("/feeds/site/rss.xml", null, IdentityETag(huge));

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Empty(get.Content.Headers.ContentEncoding);
        Assert.Equal(huge, body);
        Assert.Equal(IdentityETag(huge), get.Headers.ETag?.Tag);
        Assert.Equal(ModifiedToTheSecond, get.Content.Headers.LastModified);
        Assert.Equal("application/rss+xml; charset=utf-8", get.Content.Headers.ContentType?.ToString());
        Assert.Equal(huge.Length, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.InRange(server.Cache.Size, 0, FeedFileCache.EntryOverhead);

        var replaced = BigFeed("huge, replaced", 3 * 1024);
        server.Write("site/rss.xml", replaced, Modified.AddSeconds(1));
        using var stale = await server.GetAsync("/feeds/site/rss.xml", null, IdentityETag(huge));
        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        Assert.Equal(replaced, await stale.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(IdentityETag(replaced), stale.Headers.ETag?.Tag);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("authors/مریم-احمدی/rss.xml")]
    [InlineData("tags/日本語のタグ/atom.xml")]
    [InlineData("tags/한국어/feed.json")]
    [InlineData("tags/رسانه‌های-محلی/rss.xml")] // a zero-width non-joiner, as Persian writes it
    [InlineData("tags/🗞️-news/rss.xml")]
    public async Task Scopes_named_in_any_script_are_served_by_their_percent_encoded_utf8_path(string path)
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write(path, Rss);
        var encoded = "/feeds/" + string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

        using var plain = await server.GetAsync(encoded, null);
        using var gzip = await server.GetAsync(encoded, "gzip");
        var (raw, _) = await server.RawGetAsync(encoded);

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(Rss, await plain.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(Rss, Decoded(gzip, await gzip.Content.ReadAsByteArrayAsync(Ct)));
        Assert.Equal(200, raw);
        Assert.Contains(plain.Content.Headers.ContentType?.MediaType, new[] { "application/rss+xml", "application/atom+xml", "application/feed+json" });
    }

    [Fact(Timeout = TestTimeout)]
    public async Task An_encoded_slash_inside_a_non_latin_name_does_not_reach_another_folder()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("tags/کتاب/rss.xml", Rss);

        var (joined, response) = await server.RawGetAsync("/feeds/tags%2F" + Uri.EscapeDataString("کتاب") + "%2Frss.xml");
        var (dotted, _) = await server.RawGetAsync("/feeds/tags/" + Uri.EscapeDataString("کتاب") + "/..%2F..%2Ffeeds.opml");

        // Kestrel leaves %2F encoded; the endpoint decodes it once and then treats it as the separator it names, so
        // the path is the same file, never a name with a slash in it; a dot segment after decoding is refused.
        Assert.True(joined == 200, response);
        Assert.Equal(404, dotted);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Every_answer_from_memory_follows_a_replacement_at_once_in_every_coding()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        var first = BigFeed("first", 40);
        var second = BigFeed("second", 44);
        server.Write("site/rss.xml", first, Modified);
        foreach (var coding in new string?[] { null, "gzip", "br" })
        {
            using var warm = await server.GetAsync("/feeds/site/rss.xml", coding);
            Assert.Equal(first, Decoded(warm, await warm.Content.ReadAsByteArrayAsync(Ct)));
        }

        server.Write("site/rss.xml", second, Modified); // same modification time: the length alone tells them apart

        foreach (var coding in new string?[] { null, "gzip", "br" })
        {
            using var after = await server.GetAsync("/feeds/site/rss.xml", coding, IdentityETag(first));
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
            Assert.Equal(second, Decoded(after, await after.Content.ReadAsByteArrayAsync(Ct)));
        }
    }

    /// <summary>A scope named in Persian and CJK with an emoji: the path a reader sends, percent-encoded UTF-8.</summary>
    private const string NonLatinFeed = "tags/گزارش‌های-محلی-日本-🗞️/rss.xml";

    private static string Encoded(string path) => "/feeds/" + string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    [Fact(Timeout = TestTimeout)]
    public async Task Large_bodies_go_out_with_sendfile_as_one_chunk_and_keep_alive_serves_every_kind_of_request_after_them()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        var feed = BigFeed("sendfile", 200);
        server.Write(NonLatinFeed, feed, Modified);
        var url = Encoded(NonLatinFeed);
        await using var connection = await server.ConnectAsync();

        var plain = await connection.ExchangeAsync("GET", url);
        var gzip = await connection.ExchangeAsync("GET", url, "Accept-Encoding: gzip");
        var br = await connection.ExchangeAsync("GET", url, "Accept-Encoding: br");
        var head = await connection.ExchangeAsync("HEAD", url, "Accept-Encoding: gzip");
        var byETag = await connection.ExchangeAsync("GET", url, $"If-None-Match: {plain.Header("ETag")}");
        var byDate = await connection.ExchangeAsync("GET", url, "Accept-Encoding: gzip", $"If-Modified-Since: {plain.Header("Last-Modified")}");
        var again = await connection.ExchangeAsync("GET", url);

        // Large enough for sendfile: each body is one chunk, no Content-Length, and decodes to the file.
        foreach (var response in new[] { plain, gzip, br, again })
        {
            Assert.Equal(200, response.Status);
            Assert.Equal("chunked", response.Header("Transfer-Encoding"));
            Assert.Null(response.Header("Content-Length"));
            Assert.Equal(1, response.Chunks);
        }
        Assert.Equal(feed, plain.Body);
        Assert.Equal(feed, again.Body);
        Assert.Equal(feed, Decompress(new GZipStream(new MemoryStream(gzip.Body), CompressionMode.Decompress)));
        Assert.Equal(feed, Decompress(new BrotliStream(new MemoryStream(br.Body), CompressionMode.Decompress)));
        Assert.Equal(IdentityETag(feed), plain.Header("ETag"));
        Assert.Equal(IdentityETag(feed)[..^1] + "-gz\"", gzip.Header("ETag"));
        Assert.Equal("nosniff", plain.Header("X-Content-Type-Options"));
        // HEAD has no body to send: the headers of the gzip GET, with its length.
        Assert.Equal(200, head.Status);
        Assert.Empty(head.Body);
        Assert.Equal(gzip.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), head.Header("Content-Length"));
        Assert.Equal(gzip.Header("ETag"), head.Header("ETag"));
        Assert.Equal(304, byETag.Status);
        Assert.Empty(byETag.Body);
        Assert.Equal(304, byDate.Status);
        Assert.Equal(gzip.Header("ETag"), byDate.Header("ETag"));
        Assert.Equal(7, connection.Responses); // all on the one connection
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_reader_slower_than_the_socket_gets_the_rest_of_a_sendfile_body_and_its_next_answer_on_the_same_connection()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        // 6 MB against a 4 KB receive window: the socket cannot take the body at once, so the first sendfile stops short
        // and the rest goes out as the reader drains it.
        var feed = BigFeed("slow reader گزارش 東京 🐢", 6 * 1024);
        server.Write(NonLatinFeed, feed, Modified);
        var url = Encoded(NonLatinFeed);
        await using var connection = await server.ConnectAsync(receiveBufferBytes: 4096);
        var waitedBefore = FeedFileSpool.Waited;

        await connection.SendAsync(Request("GET", url));
        // Read nothing until the server has found the socket full (at most 10 s; it takes a moment).
        for (var polls = 0; FeedFileSpool.Waited == waitedBefore && polls < 1000; polls++) await Task.Delay(10, Ct);
        var slow = await connection.ReadResponseAsync("GET");
        var next = await connection.ExchangeAsync("GET", url, "Accept-Encoding: gzip, br;q=0");

        Assert.True(FeedFileSpool.Waited > waitedBefore, "the first sendfile took the whole body: the test did not reach the asynchronous rest");
        Assert.Equal(200, slow.Status);
        Assert.Equal(1, slow.Chunks);
        Assert.Equal(feed, slow.Body);
        Assert.Equal(200, next.Status);
        Assert.Equal("gzip", next.Header("Content-Encoding"));
        Assert.Equal(feed, Decompress(new GZipStream(new MemoryStream(next.Body), CompressionMode.Decompress)));
        Assert.Equal(2, connection.Responses);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Pipelined_requests_get_their_answers_whole_and_in_order_around_sendfile_bodies()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        var big = BigFeed("pipelined", 300);
        server.Write("site/rss.xml", big, Modified);
        server.Write("site/atom.xml", Rss, Modified);
        var etag = IdentityETag(big);
        await using var connection = await server.ConnectAsync();

        // Eight requests in one write, before any answer: Kestrel reads them one after another from its buffer.
        await connection.SendAsync(
            Request("GET", "/feeds/site/rss.xml"), Request("GET", "/feeds/site/atom.xml"), Request("GET", "/feeds/site/rss.xml", "Accept-Encoding: gzip"),
            Request("HEAD", "/feeds/site/rss.xml"), Request("GET", "/feeds/site/rss.xml", $"If-None-Match: {etag}"), Request("GET", "/feeds/site/missing.xml"),
            Request("GET", "/feeds/site/rss.xml", "Accept-Encoding: br"), Request("GET", "/feeds/site/rss.xml"));
        var answers = new List<RawResponse>();
        foreach (var method in new[] { "GET", "GET", "GET", "HEAD", "GET", "GET", "GET", "GET" }) answers.Add(await connection.ReadResponseAsync(method));

        Assert.Equal([200, 200, 200, 200, 304, 404, 200, 200], answers.Select(a => a.Status));
        Assert.Equal(big, answers[0].Body);
        Assert.Equal(Rss, answers[1].Body);
        Assert.Equal(Rss.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), answers[1].Header("Content-Length")); // small: through Kestrel
        Assert.Equal(big, Decompress(new GZipStream(new MemoryStream(answers[2].Body), CompressionMode.Decompress)));
        Assert.Empty(answers[3].Body);
        Assert.Equal(big, Decompress(new BrotliStream(new MemoryStream(answers[6].Body), CompressionMode.Decompress)));
        Assert.Equal(big, answers[7].Body);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_file_replaced_or_removed_after_sendfile_served_it_is_answered_from_its_new_state_on_the_same_connection()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        var first = BigFeed("first", 100);
        var second = BigFeed("second", 100);
        server.Write(NonLatinFeed, first, Modified);
        var url = Encoded(NonLatinFeed);
        await using var connection = await server.ConnectAsync();

        var before = await connection.ExchangeAsync("GET", url, "Accept-Encoding: gzip");
        server.Write(NonLatinFeed, second, Modified); // the same modification time: only the length tells the versions apart
        var replaced = await connection.ExchangeAsync("GET", url, "Accept-Encoding: gzip", $"If-None-Match: {before.Header("ETag")}");
        var plain = await connection.ExchangeAsync("GET", url);
        server.Change(() => File.Delete(Path.Combine(server.Output, NonLatinFeed)));
        var removed = await connection.ExchangeAsync("GET", url);
        var removedConditional = await connection.ExchangeAsync("GET", url, $"If-None-Match: {plain.Header("ETag")}");

        Assert.Equal(first, Decompress(new GZipStream(new MemoryStream(before.Body), CompressionMode.Decompress)));
        Assert.Equal(200, replaced.Status);
        Assert.Equal(second, Decompress(new GZipStream(new MemoryStream(replaced.Body), CompressionMode.Decompress)));
        Assert.Equal(second, plain.Body);
        Assert.Equal(1, plain.Chunks);
        Assert.Equal(404, removed.Status);
        Assert.Equal(404, removedConditional.Status);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Http_1_0_and_sendfile_switched_off_get_content_length_bodies()
    {
        var feed = BigFeed("copied", 64);
        await using (var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken))
        {
            server.Write("site/rss.xml", feed);
            await using var connection = await server.ConnectAsync();
            await connection.SendAsync("GET /feeds/site/rss.xml HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            var old = await connection.ReadResponseAsync("GET");
            Assert.Equal(200, old.Status);
            Assert.Equal(feed.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), old.Header("Content-Length"));
            Assert.Equal(feed, old.Body);
        }

        await using (var off = await FeedServer.StartAsync(TestContext.Current.CancellationToken, new() { ["Http:SendFile"] = "false" }))
        {
            off.Write("site/rss.xml", feed);
            await using var connection = await off.ConnectAsync();
            var first = await connection.ExchangeAsync("GET", "/feeds/site/rss.xml");
            var second = await connection.ExchangeAsync("GET", "/feeds/site/rss.xml", "Accept-Encoding: gzip");
            Assert.Equal(feed.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), first.Header("Content-Length"));
            Assert.Null(first.Header("Transfer-Encoding"));
            Assert.Equal(feed, first.Body);
            Assert.Equal(feed, Decompress(new GZipStream(new MemoryStream(second.Body), CompressionMode.Decompress)));
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Readers_hanging_up_while_a_body_goes_out_with_sendfile_log_no_application_error_and_the_next_reader_gets_it_whole()
    {
        var logs = new LogCapture();
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken, logs: logs);
        var feed = BigFeed("گزارش 東京 🌃", 600);
        server.Write("site/rss.xml", feed);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                using var client = new TcpClient();
                await client.ConnectAsync(server.Address.Host, server.Address.Port, Ct);
                // A small receive buffer and a reset instead of a close: the send is cut off in the middle.
                client.ReceiveBufferSize = 4096;
                client.LingerState = new LingerOption(true, 0);
                await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"GET /feeds/site/rss.xml HTTP/1.1\r\nHost: {server.Address.Authority}\r\n\r\n"), Ct);
                if (i % 2 == 0) await client.GetStream().ReadAtLeastAsync(new byte[1024], 1, throwOnEndOfStream: false, Ct);
            }
        }, Ct)));

        await using var connection = await server.ConnectAsync();
        var response = await connection.ExchangeAsync("GET", "/feeds/site/rss.xml", "X-Plain: 1");
        Assert.Equal(200, response.Status);
        Assert.Equal(feed, response.Body);
        // Kestrel's "unhandled exception was thrown by the application" is an error; a reader that hangs up is not one.
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Many_readers_at_once_each_get_whole_bodies_while_the_file_is_replaced_and_evicted()
    {
        // A cache of 1 MiB holds a handful of these: entries (and their in-memory files) are dropped while sends from them run.
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken, new() { ["Http:FeedCacheMegabytes"] = "1" });
        var versions = Enumerable.Range(0, 3).Select(v => BigFeed($"v{v}", 100)).ToArray();
        var others = Enumerable.Range(0, 12).Select(i => ($"tags/t{i}/rss.xml", BigFeed($"t{i}", 100))).ToArray();
        server.Write("site/rss.xml", versions[0]);
        foreach (var (path, bytes) in others) server.Write(path, bytes);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var writer = Task.Run(async () =>
        {
            for (var i = 1; !stop.IsCancellationRequested; i++)
            {
                server.Write("site/rss.xml", versions[i % versions.Length], Modified.AddSeconds(i));
                await Task.Delay(5, CancellationToken.None);
            }
        }, Ct);
        try
        {
            var readers = Enumerable.Range(0, 6).Select(r => Task.Run(async () =>
            {
                await using var connection = await server.ConnectAsync();
                for (var i = 0; i < 20; i++)
                {
                    var (path, expected) = i % 2 == 0 ? ("site/rss.xml", (byte[]?)null) : others[(r + i) % others.Length];
                    var response = await connection.ExchangeAsync("GET", "/feeds/" + path, i % 3 == 0 ? "Accept-Encoding: gzip" : "X-Plain: 1");
                    var body = response.Header("Content-Encoding") == "gzip" ? Decompress(new GZipStream(new MemoryStream(response.Body), CompressionMode.Decompress)) : response.Body;
                    Assert.Equal(200, response.Status);
                    if (expected is null) Assert.Contains(versions, v => v.AsSpan().SequenceEqual(body));
                    else Assert.Equal(expected, body);
                }
            }, Ct)).ToArray();
            await Task.WhenAll(readers);
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }
        Assert.InRange(server.Cache.Size, 0, 1024 * 1024);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_path_looked_at_once_is_trusted_until_the_kernel_reports_a_change_below_the_folder()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        var first = BigFeed("first", 20);
        var second = BigFeed("second", 20);
        server.Write(NonLatinFeed, first, Modified);
        var url = Encoded(NonLatinFeed);
        await using var connection = await server.ConnectAsync();
        var etag = (await connection.ExchangeAsync("GET", url)).Header("ETag");

        var before = server.Endpoint.DiskLooks;
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 20; i++) Assert.Equal(304, (await connection.ExchangeAsync("GET", url, $"If-None-Match: {etag}")).Status);
        var looks = server.Endpoint.DiskLooks - before;
        var seconds = (int)elapsed.Elapsed.TotalSeconds;
        server.Write(NonLatinFeed, second, Modified);
        var after = await connection.ExchangeAsync("GET", url, $"If-None-Match: {etag}");

        Assert.True(server.Endpoint.ChangesSeen >= 0, "the feed folder is watched");
        Assert.InRange(looks, 0, 1 + seconds); // none, or one per second passed (Http:FeedRecheckMilliseconds), not one per request
        Assert.Equal(200, after.Status);
        Assert.Equal(second, after.Body);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task With_rechecks_off_every_request_looks_at_the_disk_and_sees_a_replacement_without_waiting_for_a_report()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken, new() { ["Http:FeedRecheckMilliseconds"] = "0" });
        var first = BigFeed("first", 20);
        var second = BigFeed("second", 24);
        server.Write("site/rss.xml", first, Modified);
        await using var connection = await server.ConnectAsync();
        var etag = (await connection.ExchangeAsync("GET", "/feeds/site/rss.xml")).Header("ETag");

        var before = server.Endpoint.DiskLooks;
        for (var i = 0; i < 5; i++) Assert.Equal(304, (await connection.ExchangeAsync("GET", "/feeds/site/rss.xml", $"If-None-Match: {etag}")).Status);
        var looks = server.Endpoint.DiskLooks - before;
        server.Write("site/rss.xml", second, Modified, awaitReport: false);
        var after = await connection.ExchangeAsync("GET", "/feeds/site/rss.xml", $"If-None-Match: {etag}");

        Assert.Equal(5, looks);
        Assert.Equal(200, after.Status);
        Assert.Equal(second, after.Body);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_folder_swapped_for_a_symbolic_link_after_it_was_served_is_refused_once_reported()
    {
        await using var server = await FeedServer.StartAsync(TestContext.Current.CancellationToken);
        server.Write("tags/کتاب/rss.xml", Rss);
        var outside = Path.Combine(Path.GetDirectoryName(server.Output)!, "elsewhere");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "rss.xml"), "TOP SECRET");
        var url = Encoded("tags/کتاب/rss.xml");
        var (before, _) = await server.RawGetAsync(url);

        try
        {
            server.Change(() =>
            {
                Directory.Move(Path.Combine(server.Output, "tags", "کتاب"), Path.Combine(server.Output, "tags", "old"));
                Directory.CreateSymbolicLink(Path.Combine(server.Output, "tags", "کتاب"), outside);
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Assert.Skip($"This system does not let the test create symbolic links: {e.Message}");
        }
        var (after, body) = await server.RawGetAsync(url);

        Assert.Equal(200, before);
        Assert.True(after == 404, body);
        Assert.DoesNotContain("TOP SECRET", body);
    }

    private static string Request(string method, string target, params string[] headers) =>
        $"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{string.Concat(headers.Select(h => h + "\r\n"))}\r\n";

    private static string IdentityETag(byte[] bytes) => "\"" + Convert.ToBase64String(SHA256.HashData(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_') + "\"";

    private static byte[] Decompress(Stream decompressing)
    {
        using (decompressing)
        {
            using var output = new MemoryStream();
            decompressing.CopyTo(output);
            return output.ToArray();
        }
    }

    /// <summary>The real app, started on a free loopback port, serving a temporary feed folder.</summary>
    private sealed class FeedServer : IAsyncDisposable
    {
        private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

        private readonly TempDir dir;
        private readonly WebApplication app;

        private FeedServer(TempDir dir, WebApplication app, Uri address, CancellationToken cancellationToken)
        {
            this.dir = dir;
            Ct = cancellationToken;
            this.app = app;
            Address = address;
            Http = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, UseCookies = false })
            {
                BaseAddress = address,
                Timeout = TimeSpan.FromSeconds(10),
            };
        }

        /// <summary>The files the endpoint keeps in memory.</summary>
        public FeedFileCache Cache => app.Services.GetRequiredService<FeedFileEndpoint>().Cache;

        public IServiceProvider Services => app.Services;

        /// <summary>The test's token; every request made through the server is cancelled with it.</summary>
        public CancellationToken Ct { get; }

        public Uri Address { get; }
        public HttpClient Http { get; }
        public string Output => Path.Combine(dir.Path, "site", "feeds");

        public static async Task<FeedServer> StartAsync(CancellationToken cancellationToken, Dictionary<string, string?>? extra = null, LogCapture? logs = null)
        {
            var dir = new TempDir();
            var settings = new Dictionary<string, string?>
            {
                ["Http:Urls"] = "http://127.0.0.1:0",
                ["Feeds:OutputPath"] = Path.Combine(dir.Path, "site", "feeds"),
                ["Storage:Provider"] = "Sqlite",
                ["Storage:ConnectionString"] = $"Data Source={Path.Combine(dir.Path, "t.db")};Pooling=False",
                ["Import:SamplesPath"] = "",
                ["Import:InboxPath"] = Path.Combine(dir.Path, "inbox"),
            };
            // Nothing but the test writes to the feed folder: the feed builder would otherwise put its own files there.
            // (A disabled job still needs exactly one of Cron and IntervalSeconds to pass validation.)
            foreach (var job in JobCatalog.Names)
            {
                settings[$"Jobs:{job}:Enabled"] = "false";
                settings[$"Jobs:{job}:Cron"] = null;
                settings[$"Jobs:{job}:IntervalSeconds"] = "3600";
            }
            foreach (var (key, value) in extra ?? []) settings[key] = value;
            Directory.CreateDirectory(settings["Feeds:OutputPath"]!);

            var app = SyndicatorHost.Build([], config => config.AddInMemoryCollection(settings),
                logs is null ? null : services => services.AddSingleton<ILoggerProvider>(logs));
            try
            {
                // A start that never ends fails as such, rather than as the test's timeout.
                try
                {
                    await app.StartAsync(cancellationToken).WaitAsync(StartTimeout, cancellationToken);
                }
                catch (TimeoutException)
                {
                    throw new TimeoutException($"The app serving {settings["Feeds:OutputPath"]} did not start within {StartTimeout.TotalSeconds:0} s.");
                }
                var address = app.Urls.Select(u => new Uri(u)).Single(u => u.Port != 0);
                return new FeedServer(dir, app, address, cancellationToken);
            }
            catch
            {
                await app.DisposeAsync();
                dir.Dispose();
                throw;
            }
        }

        public FeedFileEndpoint Endpoint => app.Services.GetRequiredService<FeedFileEndpoint>();

        /// <summary>
        /// Writes a file the way the builder does (a hidden temporary file, then a rename), optionally with a given
        /// modification time, and returns once the kernel has reported the rename to the endpoint (unless
        /// <paramref name="awaitReport"/> is false): a change is seen from that report on, a moment after the rename.
        /// </summary>
        public void Write(string relativePath, byte[] bytes, DateTime? modifiedUtc = null, bool awaitReport = true)
        {
            var before = Endpoint.ChangesSeen;
            var path = Path.Combine(Output, relativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
            File.WriteAllBytes(temp, bytes);
            if (modifiedUtc is { } modified) File.SetLastWriteTimeUtc(temp, modified);
            File.Move(temp, path, overwrite: true);
            if (awaitReport) AwaitReport(before);
        }

        /// <summary>Changes the folder with <paramref name="change"/> and returns once the kernel has reported it to the endpoint.</summary>
        public void Change(Action change)
        {
            var before = Endpoint.ChangesSeen;
            change();
            AwaitReport(before);
        }

        /// <summary>Waits (at most 10 s) for a change report after <paramref name="before"/>; nothing to wait for while the folder is not watched yet.</summary>
        private void AwaitReport(long before)
        {
            if (before < 0) return;
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Endpoint.ChangesSeen <= before)
            {
                if (waited.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("The feed folder's watcher reported no change within 10 s.");
                Thread.Sleep(1);
            }
        }

        public async Task<HttpResponseMessage> GetAsync(string url, string? acceptEncoding, string? ifNoneMatch = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (acceptEncoding is not null) request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
            if (ifNoneMatch is not null) request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
            return await Http.SendAsync(request, Ct);
        }

        public async Task<string> ETagOfAsync(string url)
        {
            using var response = await Http.GetAsync(url, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return response.Headers.ETag?.Tag ?? throw new InvalidOperationException($"{url} has no ETag.");
        }

        /// <summary>A keep-alive connection of its own, for requests written and responses read byte for byte.</summary>
        public async Task<RawConnection> ConnectAsync(int? receiveBufferBytes = null)
        {
            var client = new TcpClient();
            if (receiveBufferBytes is { } bytes) client.ReceiveBufferSize = bytes; // before connecting: it sets the window offered
            await client.ConnectAsync(Address.Host, Address.Port, Ct);
            return new RawConnection(client, Ct);
        }

        /// <summary>
        /// Sends <paramref name="target"/> exactly as written, over a plain socket: HttpClient would resolve <c>..</c>
        /// and re-encode the path before it left the machine. Returns the status code and the whole response.
        /// </summary>
        public async Task<(int Status, string Response)> RawGetAsync(string target)
        {
            // Bounded like Http (10 s), and failing with what came back: the answer ends when the server closes the connection.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(Http.Timeout);
            using var received = new MemoryStream();
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(Address.Host, Address.Port, deadline.Token);
                await using var stream = client.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {Address.Authority}\r\nConnection: close\r\n\r\n"), deadline.Token);
                await stream.CopyToAsync(received, deadline.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                throw new TimeoutException($"GET {target}: {Address} did not answer and close the connection (Connection: close) within {Http.Timeout.TotalSeconds:0} s; " +
                    $"{received.Length} byte(s) came: {Encoding.Latin1.GetString(received.ToArray())}");
            }
            var response = Encoding.Latin1.GetString(received.ToArray());
            var status = response.Split(' ', 3) is [_, var code, ..] && int.TryParse(code, out var parsed) ? parsed : -1;
            return (status, $"GET {target} -> {response}");
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            try
            {
                await app.StopAsync(CancellationToken.None);
            }
            finally
            {
                await app.DisposeAsync();
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                dir.Dispose();
            }
        }
    }

    private sealed record RawResponse(int Status, Dictionary<string, string> Headers, byte[] Body, int Chunks)
    {
        public string? Header(string name) => Headers.GetValueOrDefault(name);
    }

    /// <summary>
    /// HTTP/1.1 over a plain socket, read by hand: HttpClient would hide the framing (chunks or Content-Length) and
    /// could not pipeline. Parses exactly what RFC 9112 allows here: a status line, header fields, then a body by
    /// Content-Length, by chunks, or none (HEAD, 304, 404 with length 0).
    /// </summary>
    private sealed class RawConnection(TcpClient client, CancellationToken ct) : IAsyncDisposable
    {
        private readonly NetworkStream stream = client.GetStream();
        private readonly List<byte> buffer = [];

        public int Responses { get; private set; }

        public Task SendAsync(params string[] requests) => stream.WriteAsync(Encoding.UTF8.GetBytes(string.Concat(requests)), ct).AsTask();

        public async Task<RawResponse> ExchangeAsync(string method, string target, params string[] headers)
        {
            await SendAsync(Request(method, target, headers));
            return await ReadResponseAsync(method);
        }

        public async Task<RawResponse> ReadResponseAsync(string method)
        {
            var head = Encoding.Latin1.GetString(await ReadUntilAsync("\r\n\r\n"u8.ToArray()));
            var lines = head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
            Responses++;
            if (method == "HEAD" || status is 304 or 204) return new RawResponse(status, headers, [], 0);
            if (headers.TryGetValue("Transfer-Encoding", out var te))
            {
                Assert.Equal("chunked", te);
                var body = new List<byte>();
                var chunks = 0;
                while (true)
                {
                    var size = Convert.ToInt32(Encoding.ASCII.GetString(await ReadUntilAsync("\r\n"u8.ToArray())), 16);
                    if (size == 0) break;
                    chunks++;
                    body.AddRange(await ReadExactlyAsync(size));
                    Assert.Equal("\r\n"u8.ToArray(), await ReadExactlyAsync(2));
                }
                Assert.Equal("\r\n"u8.ToArray(), await ReadExactlyAsync(2)); // no trailer fields
                return new RawResponse(status, headers, [.. body], chunks);
            }
            var length = int.Parse(headers["Content-Length"], System.Globalization.CultureInfo.InvariantCulture);
            return new RawResponse(status, headers, await ReadExactlyAsync(length), 0);
        }

        /// <summary>The bytes up to <paramref name="delimiter"/>, which is consumed and not returned.</summary>
        private async Task<byte[]> ReadUntilAsync(byte[] delimiter)
        {
            while (true)
            {
                var at = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer).IndexOf(delimiter);
                if (at >= 0)
                {
                    var found = buffer.GetRange(0, at).ToArray();
                    buffer.RemoveRange(0, at + delimiter.Length);
                    return found;
                }
                await FillAsync();
            }
        }

        private async Task<byte[]> ReadExactlyAsync(int count)
        {
            while (buffer.Count < count) await FillAsync();
            var bytes = buffer.GetRange(0, count).ToArray();
            buffer.RemoveRange(0, count);
            return bytes;
        }

        private async Task FillAsync()
        {
            var chunk = new byte[64 * 1024];
            var read = await stream.ReadAsync(chunk, ct);
            if (read == 0) throw new EndOfStreamException($"The server closed the connection after {Responses} response(s) with {buffer.Count} byte(s) unread.");
            buffer.AddRange(chunk.AsSpan(0, read));
        }

        public async ValueTask DisposeAsync()
        {
            await stream.DisposeAsync();
            client.Dispose();
        }
    }
}
