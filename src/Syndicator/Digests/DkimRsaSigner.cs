using System.Security.Cryptography;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;

namespace Syndicator.Digests;

/// <summary>
/// MimeKit's DKIM signer with the RSA signature made by .NET (the platform's OpenSSL) instead of BouncyCastle's
/// managed arithmetic: the signature is most of what DKIM costs per message, and the native one is several times
/// faster. Canonicalization, the body hash and the header stay MimeKit's.
/// </summary>
internal sealed class DkimRsaSigner : DkimSigner
{
    private readonly RSA rsa;

    public DkimRsaSigner(string keyFile, string domain, string selector) : base(keyFile, domain, selector, DkimSignatureAlgorithm.RsaSha256)
    {
        rsa = RSA.Create();
        rsa.ImportFromPem(File.ReadAllText(keyFile));
    }

    protected override ISigner CreateSigningContext() => new Sha256RsaSigner(rsa);

    /// <summary>RSASSA-PKCS1-v1_5 over SHA-256 (DKIM's rsa-sha256), fed incrementally as MimeKit writes the canonical headers.</summary>
    private sealed class Sha256RsaSigner(RSA rsa) : ISigner
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public string AlgorithmName => "SHA-256withRSA";

        public void Init(bool forSigning, ICipherParameters parameters)
        {
        }

        public void Update(byte input) => hash.AppendData([input]);

        public void BlockUpdate(byte[] input, int inOff, int inLen) => hash.AppendData(input, inOff, inLen);

        public void BlockUpdate(ReadOnlySpan<byte> input) => hash.AppendData(input);

        public int GetMaxSignatureSize() => rsa.KeySize / 8;

        public byte[] GenerateSignature() => rsa.SignHash(hash.GetHashAndReset(), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

        public bool VerifySignature(byte[] signature) => rsa.VerifyHash(hash.GetHashAndReset(), signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

        public void Reset() => hash.GetHashAndReset();
    }
}
