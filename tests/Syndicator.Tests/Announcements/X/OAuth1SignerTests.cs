using System.Net.Http.Json;
using Microsoft.Extensions.Time.Testing;
using Syndicator.Announcements.X;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.X;

public sealed class OAuth1SignerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static OAuth1Signer Signer(long timestamp, string nonce) =>
        new(new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(timestamp)), () => nonce);

    // X's "Creating a signature" / "Authorizing a request" worked example (docs.x.com, fundamentals/authentication/oauth-1-0a).
    private static class XDocs
    {
        public static readonly OAuth1Credentials Credentials = new(
            "xvz1evFS4wEEPTGEFPHBog",
            "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE");
        public const string Nonce = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg";
        public const long Timestamp = 1318622958;
        public const string Status = "Hello Ladies + Gentlemen, a signed OAuth request!";
        public static readonly KeyValuePair<string, string>[] Body = [new("status", Status)];
    }

    [Fact]
    public void The_X_docs_example_gives_the_documented_parameter_string_base_string_signing_key_and_signature()
    {
        // The 1.1 revision of the page; its signature was computed for the api.twitter.com host the page then used
        // (the current page shows api.x.com in the prose but still prints this signature).
        var signed = Signer(XDocs.Timestamp, XDocs.Nonce).Sign("POST", new Uri("https://api.twitter.com/1.1/statuses/update.json?include_entities=true"), XDocs.Credentials, XDocs.Body);

        Assert.Equal(
            "include_entities=true&oauth_consumer_key=xvz1evFS4wEEPTGEFPHBog&oauth_nonce=kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg&oauth_signature_method=HMAC-SHA1&oauth_timestamp=1318622958&oauth_token=370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb&oauth_version=1.0&status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21",
            OAuth1Signer.NormalizeParameters([
                new("status", XDocs.Status), new("include_entities", "true"), new("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
                new("oauth_nonce", XDocs.Nonce), new("oauth_signature_method", "HMAC-SHA1"), new("oauth_timestamp", "1318622958"),
                new("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"), new("oauth_version", "1.0")]));
        Assert.Equal(
            "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521",
            signed.BaseString);
        Assert.Equal("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw&LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE", OAuth1Signer.SigningKey(XDocs.Credentials.ConsumerSecret, XDocs.Credentials.TokenSecret));
        Assert.Equal("hCtSmYh+iHYCEqBWrE7C7hYmtUk=", signed.Signature);
    }

    [Fact]
    public void The_X_authorizing_a_request_header_is_reproduced_byte_for_byte_for_the_original_v1_url()
    {
        // "Authorizing a request" prints oauth_signature tnnArxj06cWHq44gCs1OSKk/jLY=, the signature of the page's
        // original revision, which posted to https://api.twitter.com/1/statuses/update.json.
        var signed = Signer(XDocs.Timestamp, XDocs.Nonce).Sign("POST", new Uri("https://api.twitter.com/1/statuses/update.json?include_entities=true"), XDocs.Credentials, XDocs.Body);

        Assert.Equal(
            "OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", oauth_nonce=\"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg\", oauth_signature=\"tnnArxj06cWHq44gCs1OSKk%2FjLY%3D\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1318622958\", oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\", oauth_version=\"1.0\"",
            signed.AuthorizationHeader);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_form_encoded_body_is_signed_from_the_request_itself_and_the_header_is_set()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://api.twitter.com/1.1/statuses/update.json?include_entities=true")
        {
            Content = new FormUrlEncodedContent(XDocs.Body), // writes "+" for spaces, which must decode back to spaces
        };

        var signed = await Signer(XDocs.Timestamp, XDocs.Nonce).SignAsync(request, XDocs.Credentials, Ct);

        Assert.Equal("hCtSmYh+iHYCEqBWrE7C7hYmtUk=", signed.Signature);
        Assert.Equal("OAuth", request.Headers.Authorization!.Scheme);
        Assert.Contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\"", request.Headers.Authorization.Parameter);
    }

    [Fact(Timeout = TestTimeouts.Default)]
    public async Task A_json_body_is_not_part_of_the_signature_only_the_query_and_oauth_parameters_are()
    {
        var uri = new Uri("https://api.x.com/2/tweets");
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = JsonContent.Create(new { text = "status" }) };

        var signed = await Signer(XDocs.Timestamp, XDocs.Nonce).SignAsync(request, XDocs.Credentials, Ct);

        Assert.Equal(Signer(XDocs.Timestamp, XDocs.Nonce).Sign("POST", uri, XDocs.Credentials).Signature, signed.Signature);
        Assert.DoesNotContain("text", signed.BaseString);
        Assert.Equal(
            "POST&https%3A%2F%2Fapi.x.com%2F2%2Ftweets&oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0",
            signed.BaseString);
    }

    [Fact]
    public void Query_parameters_are_signed_so_a_different_query_gives_a_different_signature()
    {
        var signer = Signer(XDocs.Timestamp, XDocs.Nonce);

        var twenty = signer.Sign("GET", new Uri("https://api.x.com/2/users/1/tweets?max_results=20&tweet.fields=entities"), XDocs.Credentials);
        var five = signer.Sign("GET", new Uri("https://api.x.com/2/users/1/tweets?max_results=5&tweet.fields=entities"), XDocs.Credentials);

        Assert.Contains("max_results%3D20%26oauth_consumer_key", twenty.BaseString);
        Assert.EndsWith("oauth_version%3D1.0%26tweet.fields%3Dentities", twenty.BaseString);
        Assert.NotEqual(twenty.Signature, five.Signature);
    }

    // RFC 5849 §1.2: the three requests of the photos.example.net / printer.example.com walkthrough (no oauth_version).
    [Fact]
    public void RFC_5849_section_1_2_temporary_credentials_request_signature_matches()
    {
        var signer = Signer(137131200, "wIjqoS");

        var signed = signer.Sign("POST", new Uri("https://photos.example.net/initiate"), new OAuth1Credentials("dpf43f3p2l4k3l03", "kd94hf93k423kf44", null, null),
            protocolParameters: [new("oauth_callback", "http://printer.example.com/ready")], includeVersion: false);

        Assert.Equal("74KNZJeDHnMBp0EMJ9ZHt/XKycU=", signed.Signature);
        Assert.Contains("oauth_callback=\"http%3A%2F%2Fprinter.example.com%2Fready\"", signed.AuthorizationHeader);
        Assert.Contains("oauth_signature=\"74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D\"", signed.AuthorizationHeader);
        Assert.DoesNotContain("oauth_token", signed.AuthorizationHeader);
    }

    [Fact]
    public void RFC_5849_section_1_2_token_request_signature_matches()
    {
        var signer = Signer(137131201, "walatlh");

        var signed = signer.Sign("POST", new Uri("https://photos.example.net/token"), new OAuth1Credentials("dpf43f3p2l4k3l03", "kd94hf93k423kf44", "hh5s93j4hdidpola", "hdhd0244k9j7ao03"),
            protocolParameters: [new("oauth_verifier", "hfdp7dh39dks9884")], includeVersion: false);

        Assert.Equal("gKgrFCywp7rO0OXSjdot/IHF7IU=", signed.Signature);
    }

    [Fact]
    public void RFC_5849_section_1_2_protected_resource_request_signature_matches()
    {
        var signer = Signer(137131202, "chapoH");

        // The RFC sends this one without TLS (the other two say HTTPS); its signature is for the http:// base URI.
        var signed = signer.Sign("GET", new Uri("http://photos.example.net/photos?file=vacation.jpg&size=original"), new OAuth1Credentials("dpf43f3p2l4k3l03", "kd94hf93k423kf44", "nnch734d00sl2jdk", "pfkkdhi9sl3r4s00"), includeVersion: false);

        Assert.Equal("GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal", signed.BaseString);
        Assert.Equal("MdpQcU8iPSUjWoN/UDMsK2sui9I=", signed.Signature);
        Assert.Contains("oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\"", signed.AuthorizationHeader);
    }

    [Fact]
    public void RFC_5849_section_3_4_1_example_gives_the_exact_normalized_parameters_and_base_string()
    {
        // POST /request?b5=%3D%253D&a3=a&c%40=&a2=r%20b, Host: example.com, form body "c2&a3=2+q".
        var uri = new Uri("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b");
        var body = OAuth1Signer.ParseForm("c2&a3=2+q");
        KeyValuePair<string, string>[] oauth =
        [
            new("oauth_consumer_key", "9djdj82h48djs9d2"), new("oauth_token", "kkk9d7dh3k39sjv7"), new("oauth_signature_method", "HMAC-SHA1"),
            new("oauth_timestamp", "137131201"), new("oauth_nonce", "7d8f3e4a"), new("oauth_signature", "djosJKDKJSD8743243/jdk33klY="),
        ];

        Assert.Equal(
            [new("b5", "=%3D"), new("a3", "a"), new("c@", ""), new("a2", "r b")],
            OAuth1Signer.ParseForm(uri.Query));
        Assert.Equal([new("c2", ""), new("a3", "2 q")], body);
        Assert.Equal(
            "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7",
            OAuth1Signer.NormalizeParameters(OAuth1Signer.ParseForm(uri.Query).Concat(body).Concat(oauth.Where(p => p.Key != "oauth_signature"))));
        Assert.Equal(
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7",
            OAuth1Signer.BaseString("POST", uri, oauth.Concat(body)));
    }

    [Fact]
    public void RFC_5849_section_3_1_request_signs_with_both_secrets_to_the_value_an_independent_hmac_gives()
    {
        // RFC 5849 §3.1 prints oauth_signature "bYT5CMsGcbgUdFHObYMEfcx6bsw=" for this request (client secret
        // j49sk3j29djd, token secret dh893hdasih9), but no implementation reproduces that value from the RFC's own
        // base string; the value below is HMAC-SHA1 of the RFC's base string computed independently (Python hmac).
        var signed = Signer(137131201, "7d8f3e4a").Sign("POST", new Uri("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"),
            new OAuth1Credentials("9djdj82h48djs9d2", "j49sk3j29djd", "kkk9d7dh3k39sjv7", "dh893hdasih9"), OAuth1Signer.ParseForm("c2&a3=2+q"), includeVersion: false);

        Assert.StartsWith("POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da", signed.BaseString);
        Assert.Equal("r6/TJjbCOr97/+UU0NsvSne7s5g=", signed.Signature);
    }

    [Theory]
    [InlineData("http://EXAMPLE.COM:80/r%20v/X?id=123", "http://example.com/r%20v/X")] // RFC 5849 §3.4.1.2
    [InlineData("https://www.example.net:8080/?q=1", "https://www.example.net:8080/")] // RFC 5849 §3.4.1.2
    [InlineData("HTTPS://API.X.COM:443/2/tweets#frag", "https://api.x.com/2/tweets")]
    [InlineData("http://127.0.0.1:5123/2/users/me", "http://127.0.0.1:5123/2/users/me")]
    public void The_base_string_URI_lowercases_scheme_and_host_drops_default_ports_and_the_query(string uri, string expected)
    {
        Assert.Equal(expected, OAuth1Signer.BaseStringUri(new Uri(uri)));
    }

    [Theory]
    [InlineData("Ladies + Gentlemen", "Ladies%20%2B%20Gentlemen")]
    [InlineData("An encoded string!", "An%20encoded%20string%21")]
    [InlineData("Dogs, Cats & Mice", "Dogs%2C%20Cats%20%26%20Mice")]
    [InlineData("☃", "%E2%98%83")]
    [InlineData("é", "%C3%A9")]
    [InlineData("😀", "%F0%9F%98%80")]
    [InlineData("a b", "a%20b")]
    [InlineData("ABCXYZabcxyz0189-._~", "ABCXYZabcxyz0189-._~")]
    [InlineData(":/?#[]@!$&'()*+,;=", "%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D")]
    [InlineData("%\"<>\\^`{|}", "%25%22%3C%3E%5C%5E%60%7B%7C%7D")]
    [InlineData("\n\t", "%0A%09")]
    public void Percent_encoding_keeps_only_unreserved_characters_with_uppercase_hex_of_utf8_and_spaces_as_percent_20(string value, string expected)
    {
        Assert.Equal(expected, OAuth1Signer.Encode(value));
    }

    [Fact]
    public void A_request_parameter_named_realm_is_signed_like_any_other()
    {
        var baseString = OAuth1Signer.BaseString("GET", new Uri("https://api.example/r?realm=query"), [new("realm", "body"), new("oauth_nonce", "n")]);

        Assert.EndsWith("&oauth_nonce%3Dn%26realm%3Dbody%26realm%3Dquery", baseString);
    }

    [Fact]
    public void Parameters_sharing_a_name_are_sorted_by_value_and_names_by_byte_order()
    {
        var normalized = OAuth1Signer.NormalizeParameters([new("b", "2"), new("a", "z"), new("B", "1"), new("a", "y"), new("a_", "x"), new("a", "")]);

        Assert.Equal("B=1&a=&a=y&a=z&a_=x&b=2", normalized);
    }

    [Fact]
    public void The_authorization_header_is_sorted_quoted_encoded_and_comma_separated_and_parses_back()
    {
        var header = OAuth1Signer.AuthorizationHeader([new("oauth_token", "t k"), new("oauth_consumer_key", "c/k"), new("oauth_nonce", "n=1")]);

        Assert.Equal("OAuth oauth_consumer_key=\"c%2Fk\", oauth_nonce=\"n%3D1\", oauth_token=\"t%20k\"", header);
        var parsed = OAuth1Signer.ParseAuthorizationHeader(header + ", realm=\"Example\"");
        Assert.NotNull(parsed);
        Assert.Equal("c/k", parsed["oauth_consumer_key"]);
        Assert.Equal("t k", parsed["oauth_token"]);
        Assert.Equal("Example", parsed["realm"]);
        Assert.Null(OAuth1Signer.ParseAuthorizationHeader("Bearer abc"));
        Assert.Null(OAuth1Signer.ParseAuthorizationHeader("OAuth oauth_token=unquoted"));
    }

    [Fact]
    public void The_timestamp_comes_from_the_time_provider_and_the_nonce_is_fresh_for_every_request()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var signer = new OAuth1Signer(time);
        var uri = new Uri("https://api.x.com/2/users/me");

        var first = OAuth1Signer.ParseAuthorizationHeader(signer.Sign("GET", uri, XDocs.Credentials).AuthorizationHeader)!;
        time.Advance(TimeSpan.FromSeconds(42));
        var second = OAuth1Signer.ParseAuthorizationHeader(signer.Sign("GET", uri, XDocs.Credentials).AuthorizationHeader)!;

        Assert.Equal("1700000000", first["oauth_timestamp"]);
        Assert.Equal("1700000042", second["oauth_timestamp"]);
        Assert.NotEqual(first["oauth_nonce"], second["oauth_nonce"]);
        Assert.Matches("^[0-9a-f]{32}$", first["oauth_nonce"]);
    }

    [Fact]
    public void The_credentials_never_show_their_secrets_when_printed()
    {
        var text = XDocs.Credentials.ToString();

        Assert.DoesNotContain(XDocs.Credentials.ConsumerSecret, text);
        Assert.DoesNotContain(XDocs.Credentials.TokenSecret!, text);
    }
}
