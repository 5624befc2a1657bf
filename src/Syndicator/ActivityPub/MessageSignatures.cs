using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Syndicator.ActivityPub;

/// <summary>One RFC 9421 signature of a request: its label, what it covers, its parameters and the signature bytes.</summary>
/// <param name="SignatureParams">The <c>@signature-params</c> value as RFC 8941 serializes it: the last line of the signature base.</param>
public sealed record MessageSignature(string Label, IReadOnlyList<string> Components, string KeyId, string? Algorithm, long? Created, long? Expires, byte[] Signature, string SignatureParams);

/// <summary>A received request as RFC 9421 reads it: its method, the absolute URI it was sent to, and its headers by lower-case name.</summary>
public sealed record SignedMessage(string Method, string TargetUri, Func<string, string?> Header);

/// <summary>
/// RFC 9421 HTTP Message Signatures on requests, as Fedify sends them (<c>rsa-v1_5-sha256</c> over <c>@method
/// @target-uri @authority host date content-digest</c>, with <c>created</c>), with the body's RFC 9530
/// <c>Content-Digest</c>. Verified: <c>rsa-v1_5-sha256</c>, <c>rsa-pss-sha512</c> and <c>ecdsa-p256-sha256</c>;
/// <c>ed25519</c> is refused by name (.NET has no Ed25519), as are HMAC and component parameters (<c>;sf</c>,
/// <c>;key</c>, <c>;req</c>, <c>@query-param</c>), which no fediverse server sends.
/// </summary>
public static class MessageSignatures
{
    private static readonly HashSet<string> DerivedComponents = ["@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"];

    /// <summary>
    /// The first signature of <c>Signature-Input</c> that <c>Signature</c> carries, or null with the reason. Labels
    /// after the first are ignored: a sender adds one signature per key it wants checked, and fediverse servers use one.
    /// </summary>
    public static MessageSignature? Parse(string? signatureInput, string? signature, out string problem)
    {
        problem = "";
        if (string.IsNullOrWhiteSpace(signatureInput) || string.IsNullOrWhiteSpace(signature))
        {
            problem = "an RFC 9421 signature needs both a Signature-Input and a Signature header";
            return null;
        }
        var inputs = new Reader(signatureInput).Dictionary(out problem);
        if (inputs is null) { problem = $"the Signature-Input header is not an RFC 8941 dictionary: {problem}"; return null; }
        var values = new Reader(signature).Dictionary(out problem);
        if (values is null) { problem = $"the Signature header is not an RFC 8941 dictionary: {problem}"; return null; }
        if (inputs.Count == 0) { problem = "the Signature-Input header names no signature"; return null; }
        var (label, input) = inputs[0];
        if (input.InnerList is not { } components) { problem = $"Signature-Input {label} is not a list of covered components"; return null; }
        var value = values.FirstOrDefault(v => v.Name == label).Value;
        if (value?.Bytes is not { } bytes) { problem = $"the Signature header has no byte sequence for the label {label} that Signature-Input names"; return null; }

        var names = new List<string>();
        foreach (var component in components)
        {
            if (component.Text is not { } name || !component.IsString) { problem = $"Signature-Input {label} covers a component that is not a quoted name"; return null; }
            if (component.Parameters.Count > 0) { problem = $"Signature-Input {label} gives the component \"{name}\" parameters ({string.Join(", ", component.Parameters.Select(p => p.Name))}), which are not supported here"; return null; }
            if (name.StartsWith('@') && !DerivedComponents.Contains(name)) { problem = $"Signature-Input {label} covers the derived component \"{name}\", which is not supported here"; return null; }
            if (name != name.ToLowerInvariant()) { problem = $"Signature-Input {label} names the header \"{name}\" in upper case; RFC 9421 names are lower case"; return null; }
            if (names.Contains(name)) { problem = $"Signature-Input {label} covers \"{name}\" twice"; return null; }
            names.Add(name);
        }
        string? keyId = null, algorithm = null;
        long? created = null, expires = null;
        foreach (var (name, parameter) in input.Parameters)
        {
            switch (name)
            {
                case "keyid" when parameter.IsString: keyId = parameter.Text; break;
                case "alg" when parameter.IsString: algorithm = parameter.Text; break;
                case "created" when parameter.Integer is { } c: created = c; break;
                case "expires" when parameter.Integer is { } e: expires = e; break;
                case "keyid" or "alg" or "created" or "expires":
                    problem = $"Signature-Input {label} has a {name} of the wrong type";
                    return null;
            }
        }
        if (string.IsNullOrEmpty(keyId)) { problem = $"Signature-Input {label} names no keyid"; return null; }
        return new MessageSignature(label, names, keyId, algorithm, created, expires, bytes, input.Serialize());
    }

    /// <summary>The signature base (RFC 9421 section 2.5) of <paramref name="message"/>, or null with the reason.</summary>
    public static string? SignatureBase(MessageSignature signature, SignedMessage message, out string problem)
    {
        problem = "";
        if (!Uri.TryCreate(message.TargetUri, UriKind.Absolute, out var target)) { problem = $"the target URI {message.TargetUri} is not absolute"; return null; }
        var lines = new StringBuilder();
        foreach (var name in signature.Components)
        {
            var value = name switch
            {
                "@method" => message.Method,
                "@target-uri" => message.TargetUri,
                "@authority" => target.Authority.ToLowerInvariant(),
                "@scheme" => target.Scheme.ToLowerInvariant(),
                "@request-target" => target.PathAndQuery,
                "@path" => target.AbsolutePath,
                "@query" => target.Query.Length == 0 ? "?" : target.Query,
                _ => message.Header(name)?.Trim(),
            };
            if (value is null) { problem = $"the signature covers the {name} header, which the request does not have"; return null; }
            // A header value with a line break would let a sender make two lines of the base out of one.
            if (value.AsSpan().IndexOfAny('\r', '\n') >= 0) { problem = $"the {name} value contains a line break"; return null; }
            lines.Append('"').Append(name).Append("\": ").Append(value).Append('\n');
        }
        lines.Append("\"@signature-params\": ").Append(signature.SignatureParams);
        return lines.ToString();
    }

    /// <summary>Whether <paramref name="signature"/> verifies; null when it does, otherwise why not.</summary>
    public static string? Verify(MessageSignature signature, string signatureBase, string publicKeyPem)
    {
        var data = Encoding.UTF8.GetBytes(signatureBase);
        try
        {
            switch (signature.Algorithm)
            {
                // Without alg the key decides (RFC 9421 3.2); fediverse keys are RSA, verified as Mastodon does.
                case null or "rsa-v1_5-sha256":
                    return VerifyRsa(publicKeyPem, data, signature.Signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                case "rsa-pss-sha512":
                    return VerifyRsa(publicKeyPem, data, signature.Signature, HashAlgorithmName.SHA512, RSASignaturePadding.Pss);
                case "ecdsa-p256-sha256":
                    using (var ecdsa = ECDsa.Create())
                    {
                        ecdsa.ImportFromPem(publicKeyPem);
                        if (ecdsa.KeySize != 256) return $"the key is not a P-256 key, which {signature.Algorithm} needs";
                        return ecdsa.VerifyData(data, signature.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation) ? null : "the signature does not verify";
                    }
                default:
                    return $"the algorithm \"{signature.Algorithm}\" is not supported; sign with rsa-v1_5-sha256 (as Fedify does), rsa-pss-sha512 or ecdsa-p256-sha256";
            }
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            return $"the key does not fit the algorithm {signature.Algorithm ?? "rsa-v1_5-sha256"} ({e.GetType().Name})";
        }
    }

    private static string? VerifyRsa(string pem, byte[] data, byte[] signature, HashAlgorithmName hash, RSASignaturePadding padding)
    {
        using var rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        return rsa.VerifyData(data, signature, hash, padding) ? null : "the signature does not verify";
    }

    /// <summary>
    /// Checks an RFC 9530 <c>Content-Digest</c> against the body: null when it holds. Every sha-256 and sha-512
    /// digest it carries must match, and it must carry one of them (other algorithms are insecure or unknown here).
    /// </summary>
    public static string? CheckContentDigest(string? header, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrWhiteSpace(header)) return "the request has no Content-Digest header (RFC 9530), which an RFC 9421 signature of a body must cover";
        var members = new Reader(header).Dictionary(out var problem);
        if (members is null) return $"the Content-Digest header is not an RFC 8941 dictionary: {problem}";
        var checkedAny = false;
        foreach (var (name, value) in members)
        {
            byte[]? expected = name switch
            {
                "sha-256" => SHA256.HashData(body),
                "sha-512" => SHA512.HashData(body),
                _ => null,
            };
            if (expected is null) continue;
            if (value.Bytes is not { } given || !CryptographicOperations.FixedTimeEquals(given, expected))
                return $"the Content-Digest {name} does not match the body (altered in transit?)";
            checkedAny = true;
        }
        return checkedAny ? null : "the Content-Digest header carries neither sha-256 nor sha-512";
    }

    /// <summary>The part of RFC 8941 these headers use: dictionaries of items and inner lists, with parameters.</summary>
    private sealed class Value
    {
        public string? Text { get; init; }
        public bool IsString { get; init; }
        public long? Integer { get; init; }
        public byte[]? Bytes { get; init; }
        public bool? Boolean { get; init; }
        public List<Value>? InnerList { get; init; }
        public List<(string Name, Value Value)> Parameters { get; } = [];

        /// <summary>The canonical serialization (RFC 8941 section 4.1), which the signature base must use.</summary>
        public string Serialize()
        {
            var text = new StringBuilder();
            if (InnerList is not null) text.Append('(').AppendJoin(' ', InnerList.Select(i => i.Serialize())).Append(')');
            else text.Append(Bare());
            foreach (var (name, value) in Parameters)
            {
                text.Append(';').Append(name);
                if (value.Boolean != true) text.Append('=').Append(value.Bare());
            }
            return text.ToString();
        }

        private string Bare() =>
            IsString ? "\"" + Text!.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\""
            : Integer is { } i ? i.ToString(CultureInfo.InvariantCulture)
            : Bytes is { } b ? ":" + Convert.ToBase64String(b) + ":"
            : Boolean is { } flag ? (flag ? "?1" : "?0")
            : Text!;
    }

    private sealed class Reader(string text)
    {
        private int at;

        public List<(string Name, Value Value)>? Dictionary(out string problem)
        {
            problem = "";
            var members = new List<(string, Value)>();
            SkipSpaces();
            while (at < text.Length)
            {
                var name = Key();
                if (name is null) { problem = $"a key was expected at character {at + 1}"; return null; }
                Value? value;
                if (Peek() == '=')
                {
                    at++;
                    value = Peek() == '(' ? InnerList() : Item();
                }
                else value = new Value { Boolean = true };
                if (value is null || !ParametersOf(value)) { problem = $"the value of {name} is malformed near character {at + 1}"; return null; }
                members.RemoveAll(m => m.Item1 == name); // a repeated key: the last wins (RFC 8941 4.2.2)
                members.Add((name, value));
                SkipSpaces();
                if (at == text.Length) break;
                if (Peek() != ',') { problem = $"a comma was expected at character {at + 1}"; return null; }
                at++;
                SkipSpaces();
                if (at == text.Length) { problem = "the dictionary ends with a comma"; return null; }
            }
            return members;
        }

        private Value? InnerList()
        {
            at++; // (
            var items = new List<Value>();
            while (true)
            {
                while (Peek() == ' ') at++;
                if (Peek() == ')') { at++; return new Value { InnerList = items }; }
                var item = Item();
                if (item is null || !ParametersOf(item)) return null;
                items.Add(item);
                if (Peek() is not (' ' or ')')) return null;
            }
        }

        private Value? Item()
        {
            var c = Peek();
            if (c == '"')
            {
                at++;
                var value = new StringBuilder();
                while (at < text.Length)
                {
                    var ch = text[at++];
                    if (ch == '\\')
                    {
                        if (at == text.Length || text[at] is not ('"' or '\\')) return null;
                        value.Append(text[at++]);
                    }
                    else if (ch == '"') return new Value { Text = value.ToString(), IsString = true };
                    else if (ch is < ' ' or > '~') return null;
                    else value.Append(ch);
                }
                return null;
            }
            if (c == ':')
            {
                var end = text.IndexOf(':', at + 1);
                if (end < 0) return null;
                try { var bytes = Convert.FromBase64String(text[(at + 1)..end]); at = end + 1; return new Value { Bytes = bytes }; }
                catch (FormatException) { return null; }
            }
            if (c == '?')
            {
                if (at + 1 >= text.Length || text[at + 1] is not ('0' or '1')) return null;
                var flag = text[at + 1] == '1';
                at += 2;
                return new Value { Boolean = flag };
            }
            if (c == '-' || char.IsAsciiDigit(c))
            {
                var start = at;
                if (c == '-') at++;
                while (at < text.Length && char.IsAsciiDigit(text[at])) at++;
                if (at < text.Length && text[at] == '.') return null; // decimals: no parameter here uses one
                return long.TryParse(text.AsSpan(start, at - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) && at - start <= 16
                    ? new Value { Integer = number }
                    : null;
            }
            if (char.IsAsciiLetter(c) || c == '*')
            {
                var start = at;
                while (at < text.Length && (char.IsAsciiLetterOrDigit(text[at]) || ":/!#$%&'*+-.^_`|~".Contains(text[at]))) at++;
                return new Value { Text = text[start..at] };
            }
            return null;
        }

        private bool ParametersOf(Value value)
        {
            while (Peek() == ';')
            {
                at++;
                while (Peek() == ' ') at++;
                var name = Key();
                if (name is null) return false;
                Value? parameter;
                if (Peek() == '=')
                {
                    at++;
                    parameter = Item();
                    if (parameter is null) return false;
                }
                else parameter = new Value { Boolean = true };
                value.Parameters.RemoveAll(p => p.Name == name);
                value.Parameters.Add((name, parameter));
            }
            return true;
        }

        private string? Key()
        {
            var start = at;
            if (at >= text.Length || !(char.IsAsciiLetterLower(text[at]) || text[at] == '*')) return null;
            while (at < text.Length && (char.IsAsciiLetterLower(text[at]) || char.IsAsciiDigit(text[at]) || text[at] is '_' or '-' or '.' or '*')) at++;
            return text[start..at];
        }

        private char Peek() => at < text.Length ? text[at] : '\0';

        private void SkipSpaces()
        {
            while (at < text.Length && text[at] is ' ' or '\t') at++;
        }
    }
}
