using System.Security.Cryptography;
using System.Text;
using Dapper;
using Syndicator.Storage;

namespace Syndicator.Articles.Intake;

/// <summary>What a key may do: <see cref="Write"/> articles (which includes reading their status), or only <see cref="Read"/> status.</summary>
public enum ApiScope
{
    Read,
    Write,
}

public sealed record ApiKey(string Name, ApiScope Scope, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt)
{
    public bool Allows(ApiScope needed) => Scope == ApiScope.Write || needed == ApiScope.Read;
}

/// <summary>The outcome of checking a presented key: the key, or why it is refused.</summary>
public sealed record ApiKeyCheck(ApiKey? Key, string? Problem);

/// <summary>
/// API keys for the article API, made and revoked with <c>syndicator apikeys</c>. A key is 256 random bits shown once
/// when it is made; only its SHA-256 is stored, so the store never holds a usable key. Names are shown in each
/// article's history.
/// </summary>
public sealed class ApiKeys(Database database, TimeProvider time)
{
    public const string Prefix = "syn_";
    public const int MaxNameLength = 64;

    public static string? NameProblem(string name) =>
        name.Length is 0 or > MaxNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? $"the name \"{Shared.Shown.Value(name)}\" must be 1 to {MaxNameLength} ASCII letters, digits, '-', '_' or '.', such as 'ghost-cms'"
            : null;

    /// <summary>Makes a key and returns it with its secret (shown once); null when a key of that name exists. A bad name throws.</summary>
    public async Task<(ApiKey Key, string Secret)?> CreateAsync(string name, ApiScope scope, CancellationToken cancellationToken)
    {
        if (NameProblem(name) is { } problem) throw new ArgumentException(problem, nameof(name));
        var secret = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow().ToStoredPrecision();
        await using var connection = await database.OpenAsync(cancellationToken);
        var added = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO api_keys (name, key_hash, scope, created_at) VALUES (@name, @hash, @scope, @now)
            ON CONFLICT (name) DO NOTHING
            """, new { name, hash = Hash(secret), scope = scope.ToString().ToLowerInvariant(), now }, cancellationToken: cancellationToken));
        return added == 1 ? (new ApiKey(name, scope, now, null, null), secret) : null;
    }

    public async Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<Row>(new CommandDefinition(
            "SELECT name AS Name, scope AS Scope, created_at AS CreatedAt, revoked_at AS RevokedAt, last_used_at AS LastUsedAt FROM api_keys ORDER BY name",
            cancellationToken: cancellationToken))).Select(r => r.ToKey()).ToList();
    }

    /// <summary>Revokes the key; false when there is no such key or it was revoked already.</summary>
    public async Task<bool> RevokeAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_keys SET revoked_at = @now WHERE name = @name AND revoked_at IS NULL",
            new { name, now = time.GetUtcNow().ToStoredPrecision() }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>The key behind an <c>Authorization: Bearer</c> value. Looked up by hash, so comparing takes no secret-dependent time.</summary>
    public async Task<ApiKeyCheck> CheckAsync(string? presented, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(presented))
            return new(null, "no API key: send it as 'Authorization: Bearer syn_…' (make one with 'syndicator apikeys create NAME --scope write')");
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            "SELECT name AS Name, scope AS Scope, created_at AS CreatedAt, revoked_at AS RevokedAt, last_used_at AS LastUsedAt FROM api_keys WHERE key_hash = @hash",
            new { hash = Hash(presented) }, cancellationToken: cancellationToken));
        if (row is null) return new(null, "the API key is not known: check it was copied whole, or make a new one with 'syndicator apikeys create NAME'");
        var key = row.ToKey();
        if (key.RevokedAt is { } revoked)
            return new(null, $"the API key '{key.Name}' was revoked at {revoked:u}; make a new one with 'syndicator apikeys create NAME'");
        await connection.ExecuteAsync(new CommandDefinition("UPDATE api_keys SET last_used_at = @now WHERE name = @Name",
            new { key.Name, now = time.GetUtcNow().ToStoredPrecision() }, cancellationToken: cancellationToken));
        return new(key, null);
    }

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed class Row
    {
        public string Name { get; init; } = "";
        public string Scope { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? RevokedAt { get; init; }
        public DateTimeOffset? LastUsedAt { get; init; }

        public ApiKey ToKey() => new(Name, Scope == "write" ? ApiScope.Write : ApiScope.Read, CreatedAt, RevokedAt, LastUsedAt);
    }
}
