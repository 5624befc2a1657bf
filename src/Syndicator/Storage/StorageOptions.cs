using System.ComponentModel.DataAnnotations;

namespace Syndicator.Storage;

public enum StorageProvider
{
    Sqlite,
    PostgreSql,
}

/// <summary>The <c>Storage</c> section: which database holds articles, deliveries and the Quartz job store.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>SQLite: <c>Data Source=data/syndicator.db</c> (relative to the content root). PostgreSQL: an Npgsql connection string.</summary>
    [Required(ErrorMessage = "Storage:ConnectionString is empty; set it to e.g. \"Data Source=data/syndicator.db\" (Sqlite) or \"Host=...;Database=...;Username=...\" (PostgreSql).")]
    public string ConnectionString { get; set; } = "Data Source=data/syndicator.db";

    /// <summary>A file whose content is the database password, so the password never sits in committed config.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>Apply pending migrations when the service starts.</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>Quartz clustering: several nodes share one schedule. PostgreSQL only.</summary>
    public bool Clustered { get; set; }

    /// <summary>
    /// Flush every commit to disk before it returns (SQLite: synchronous=FULL; PostgreSQL: the server's own
    /// synchronous_commit, on by default), so that not even a power cut or a crash of the database server can lose an
    /// e-mail's hand-over mark and send it again; costs a flush per commit. Off: SQLite flushes at checkpoints and
    /// PostgreSQL sessions run with synchronous_commit=off; a crash of the service itself loses nothing either way.
    /// </summary>
    public bool SyncEveryCommit { get; set; }
}
