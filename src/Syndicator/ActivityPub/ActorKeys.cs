using System.Collections.Concurrent;
using System.Security.Cryptography;
using Dapper;
using Syndicator.Storage;

namespace Syndicator.ActivityPub;

/// <summary>An actor's RSA key pair as PEM text.</summary>
public sealed record ActorKeyPair(string PublicPem, string PrivatePem)
{
    public RSA PrivateKey()
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(PrivatePem);
        return rsa;
    }
}

/// <summary>
/// Each actor's key pair, made the first time any node needs it and kept in the database: the first node's INSERT
/// wins and every node reads back the same row, so followers verify every node's signatures with one key. The
/// private key never leaves this class but as a signature, and is never logged.
/// </summary>
public sealed class ActorKeys(Database database, TimeProvider time)
{
    /// <summary>2048 bits: what Mastodon generates and expects.</summary>
    public const int KeySize = 2048;

    private readonly ConcurrentDictionary<string, ActorKeyPair> cache = new(StringComparer.Ordinal);

    public async Task<ActorKeyPair> GetAsync(LocalActor actor, CancellationToken cancellationToken)
    {
        if (cache.TryGetValue(actor.Username, out var known)) return known;
        await using var connection = await database.OpenAsync(cancellationToken);
        var pair = await ReadAsync(connection, actor.Username, cancellationToken);
        if (pair is null)
        {
            using var rsa = RSA.Create(KeySize);
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO activitypub_keys (actor, public_pem, private_pem, created_at) VALUES (@actor, @publicPem, @privatePem, @now)
                ON CONFLICT (actor) DO NOTHING
                """, new { actor = actor.Username, publicPem = rsa.ExportSubjectPublicKeyInfoPem(), privatePem = rsa.ExportPkcs8PrivateKeyPem(), now = time.GetUtcNow() },
                cancellationToken: cancellationToken));
            // Read back: another node may have inserted first, and then its key is the one.
            pair = await ReadAsync(connection, actor.Username, cancellationToken)
                ?? throw new InvalidOperationException($"activitypub: the key of {actor.Username} was written but cannot be read back from activitypub_keys.");
        }
        return cache.GetOrAdd(actor.Username, pair);
    }

    private static Task<ActorKeyPair?> ReadAsync(System.Data.Common.DbConnection connection, string actor, CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<ActorKeyPair>(new CommandDefinition(
            "SELECT public_pem AS PublicPem, private_pem AS PrivatePem FROM activitypub_keys WHERE actor = @actor", new { actor }, cancellationToken: cancellationToken));
}
