using System.Security.Cryptography;
using System.Text;
using Syndicator.ActivityPub;

namespace Syndicator.Tests.ActivityPub;

/// <summary>
/// RFC 9421 reading against the RFC's own example (appendix B.2.3, rsa-pss-sha512 with the B.1.2 test key, and
/// B.2.3's RFC 9530 Content-Digest), and against what a hostile sender could put in the headers. rsa-v1_5-sha256,
/// which has no vector in the RFC, is checked with Fedify as the oracle (FedifyInteropTests).
/// </summary>
public sealed class MessageSignatureTests
{
    // RFC 9421 appendix B.1.2, test-key-rsa-pss (published test data).
    private const string TestKeyRsaPss = """
        -----BEGIN PUBLIC KEY-----
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
        +QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
        oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
        gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
        Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
        aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
        2wIDAQAB
        -----END PUBLIC KEY-----
        """;

    private const string B23Input = "sig-b23=(\"date\" \"@method\" \"@path\" \"@query\" \"@authority\" \"content-type\" \"content-digest\" \"content-length\");created=1618884473;keyid=\"test-key-rsa-pss\"";
    private const string B23Signature = "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:";
    private const string B23ContentDigest = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
    private static readonly byte[] B23Body = Encoding.UTF8.GetBytes("{\"hello\": \"world\"}");

    private static Dictionary<string, string> B23Headers() => new()
    {
        ["host"] = "example.com",
        ["date"] = "Tue, 20 Apr 2021 02:07:55 GMT",
        ["content-type"] = "application/json",
        ["content-digest"] = B23ContentDigest,
        ["content-length"] = "18",
    };

    private static SignedMessage Message(Dictionary<string, string> headers, string target = "https://example.com/foo?param=Value&Pet=dog", string method = "POST") =>
        new(method, target, name => headers.GetValueOrDefault(name));

    private static MessageSignature B23() => MessageSignatures.Parse(B23Input, B23Signature, out var problem) ?? throw new InvalidOperationException(problem);

    [Fact]
    public void The_RFC_9421_B_2_3_example_verifies_with_its_signature_base_and_its_Content_Digest()
    {
        var signature = B23();
        Assert.Equal("sig-b23", signature.Label);
        Assert.Equal("test-key-rsa-pss", signature.KeyId);
        Assert.Equal(1618884473, signature.Created);
        Assert.Null(signature.Algorithm);
        var signatureBase = MessageSignatures.SignatureBase(signature, Message(B23Headers()), out var problem);
        // The base exactly as RFC 9421 B.2.3 prints it.
        Assert.Equal("""
            "date": Tue, 20 Apr 2021 02:07:55 GMT
            "@method": POST
            "@path": /foo
            "@query": ?param=Value&Pet=dog
            "@authority": example.com
            "content-type": application/json
            "content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:
            "content-length": 18
            "@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"
            """.ReplaceLineEndings("\n"), signatureBase);
        Assert.Equal("", problem);
        // The example names no alg; the key is RSA-PSS, so the verifier is told the algorithm as RFC 9421 3.2 allows.
        Assert.Null(MessageSignatures.Verify(signature with { Algorithm = "rsa-pss-sha512" }, signatureBase!, TestKeyRsaPss));
        Assert.Null(MessageSignatures.CheckContentDigest(B23ContentDigest, B23Body));
    }

    [Fact]
    public void The_B_2_3_example_altered_anywhere_is_refused()
    {
        var signature = B23() with { Algorithm = "rsa-pss-sha512" };
        string? Verified(Dictionary<string, string> headers, string target = "https://example.com/foo?param=Value&Pet=dog", string method = "POST", MessageSignature? other = null)
        {
            var used = other ?? signature;
            var signatureBase = MessageSignatures.SignatureBase(used, Message(headers, target, method), out var problem);
            return signatureBase is null ? problem : MessageSignatures.Verify(used, signatureBase, TestKeyRsaPss);
        }
        var laterDate = B23Headers();
        laterDate["date"] = "Tue, 20 Apr 2021 02:07:56 GMT";
        Assert.NotNull(Verified(laterDate));
        Assert.NotNull(Verified(B23Headers(), target: "https://example.com/foo?param=Value&Pet=cat"));
        Assert.NotNull(Verified(B23Headers(), target: "https://evil.example/foo?param=Value&Pet=dog"));
        Assert.NotNull(Verified(B23Headers(), method: "PUT"));
        // The same signature claimed for another key id, or for a later time: the parameters are signed too.
        Assert.NotNull(Verified(B23Headers(), other: signature with { SignatureParams = signature.SignatureParams.Replace("1618884473", "1618884474", StringComparison.Ordinal) }));
        var missing = B23Headers();
        missing.Remove("content-length");
        Assert.Contains("content-length", Verified(missing));
        // The wrong algorithm for the key, and one not supported, are refused with their names.
        Assert.NotNull(MessageSignatures.Verify(B23() with { Algorithm = "rsa-v1_5-sha256" }, MessageSignatures.SignatureBase(signature, Message(B23Headers()), out _)!, TestKeyRsaPss));
        Assert.Contains("ed25519", MessageSignatures.Verify(B23() with { Algorithm = "ed25519" }, "x", TestKeyRsaPss));
        Assert.Contains("hmac-sha256", MessageSignatures.Verify(B23() with { Algorithm = "hmac-sha256" }, "x", TestKeyRsaPss));
        // The body changed under its Content-Digest.
        Assert.Contains("sha-512", MessageSignatures.CheckContentDigest(B23ContentDigest, Encoding.UTF8.GetBytes("{\"hello\": \"World\"}")));
    }

    [Fact]
    public void An_ecdsa_p256_signature_made_here_verifies_and_a_P_384_key_is_refused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var signature = MessageSignatures.Parse(
            "sig1=(\"@method\" \"@target-uri\" \"content-digest\");created=1700000000;keyid=\"https://social.example/users/%D9%86#key\";alg=\"ecdsa-p256-sha256\"",
            "sig1=:AAAA:", out var problem);
        Assert.NotNull(signature);
        var headers = new Dictionary<string, string> { ["content-digest"] = "sha-256=:" + Convert.ToBase64String(SHA256.HashData(B23Body)) + ":" };
        var signatureBase = MessageSignatures.SignatureBase(signature!, Message(headers, "https://magazine.example/ap/inbox"), out problem)!;
        Assert.EndsWith(";created=1700000000;keyid=\"https://social.example/users/%D9%86#key\";alg=\"ecdsa-p256-sha256\"", signatureBase);
        var signed = signature! with { Signature = key.SignData(Encoding.UTF8.GetBytes(signatureBase), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation) };
        Assert.Null(MessageSignatures.Verify(signed, signatureBase, key.ExportSubjectPublicKeyInfoPem()));
        Assert.NotNull(MessageSignatures.Verify(signed, signatureBase + " ", key.ExportSubjectPublicKeyInfoPem()));
        using var bigger = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Assert.Contains("P-256", MessageSignatures.Verify(signed, signatureBase, bigger.ExportSubjectPublicKeyInfoPem()));
        Assert.Null(MessageSignatures.CheckContentDigest(headers["content-digest"], B23Body));
    }

    [Theory]
    [InlineData("", "sig1=:AAAA:", "Signature-Input")]
    [InlineData("sig1=(\"@method\");created=1", "", "Signature")]
    [InlineData("sig1=(\"@method\";sf);keyid=\"k\"", "sig1=:AAAA:", "parameters")]
    [InlineData("sig1=(\"@query-param\";name=\"Pet\");keyid=\"k\"", "sig1=:AAAA:", "parameters")]
    [InlineData("sig1=(\"@status\");keyid=\"k\"", "sig1=:AAAA:", "@status")]
    [InlineData("sig1=(\"Date\");keyid=\"k\"", "sig1=:AAAA:", "upper case")]
    [InlineData("sig1=(\"date\" \"date\");keyid=\"k\"", "sig1=:AAAA:", "twice")]
    [InlineData("sig1=(\"date\");created=1", "sig1=:AAAA:", "keyid")]
    [InlineData("sig1=(\"date\");keyid=k", "sig1=:AAAA:", "wrong type")]
    [InlineData("sig1=(\"date\");keyid=\"k\"", "sig2=:AAAA:", "sig1")]
    [InlineData("sig1=(\"date\");keyid=\"k\"", "sig1=:not base64!:", "Signature header")]
    [InlineData("sig1=(\"da\u0007te\");keyid=\"k\"", "sig1=:AAAA:", "Signature-Input")]
    [InlineData("sig1=(\"date\");keyid=\"https://social.example/users/نرگس\"", "sig1=:AAAA:", "Signature-Input")]
    [InlineData("sig1=(\"date\");keyid=\"k\",", "sig1=:AAAA:", "comma")]
    [InlineData("sig1=\"date\";keyid=\"k\"", "sig1=:AAAA:", "list")]
    [InlineData("sig1=(\"date\");keyid=\"k\";created=99999999999999999999", "sig1=:AAAA:", "Signature-Input")]
    public void Malformed_or_unsupported_headers_are_refused_with_the_reason(string input, string signature, string reason)
    {
        Assert.Null(MessageSignatures.Parse(input, signature, out var problem));
        Assert.Contains(reason, problem);
    }

    [Fact]
    public void A_header_value_with_a_line_break_cannot_add_a_line_to_the_signature_base()
    {
        var signature = MessageSignatures.Parse("sig1=(\"x-note\");keyid=\"k\";created=1", "sig1=:AAAA:", out _)!;
        var headers = new Dictionary<string, string> { ["x-note"] = "a\n\"@method\": GET" };
        Assert.Null(MessageSignatures.SignatureBase(signature, Message(headers), out var problem));
        Assert.Contains("line break", problem);
    }

    [Theory]
    [InlineData(null, "no Content-Digest")]
    [InlineData("md5=:AAAA:", "neither sha-256 nor sha-512")]
    [InlineData("sha-256=:AAAA:", "sha-256 does not match")]
    [InlineData("sha-256=:AAAA", "not an RFC 8941 dictionary")]
    public void A_missing_weak_wrong_or_malformed_Content_Digest_is_refused(string? header, string reason) =>
        Assert.Contains(reason, MessageSignatures.CheckContentDigest(header, B23Body));
}
