using Dapper;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Storage;

/// <summary>
/// <see cref="SqlDialect.InsertRowsAsync"/>: binary COPY on PostgreSQL, one INSERT from a JSON parameter on SQLite, with the
/// values every row shares bound once. What goes in must read back the same on both, whatever the text.
/// </summary>
public sealed class InsertRowsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static readonly RowTable Table = new("insert_rows_probe",
    [
        new("id", ColumnType.Text), new("label", ColumnType.Text), new("kind", ColumnType.Text),
        new("amount", ColumnType.Integer), new("stamp", ColumnType.Timestamp), new("note", ColumnType.Text),
        new("flag", ColumnType.Boolean),
    ]);

    private static async Task CreateTableAsync(TestStore store)
    {
        await using var connection = await store.Database.OpenAsync(Ct);
        var (time, flag) = store.Provider == StorageProvider.PostgreSql ? ("TIMESTAMPTZ", "BOOLEAN") : ("TEXT", "INTEGER");
        await connection.ExecuteAsync($"""
            CREATE TABLE insert_rows_probe (id TEXT PRIMARY KEY, label TEXT NOT NULL, kind TEXT NOT NULL, amount INTEGER NOT NULL,
                                            stamp {time} NOT NULL, note TEXT, flag {flag} NOT NULL)
            """);
    }

    private static async Task<List<(string Id, string Label, string Kind, int Amount, DateTimeOffset Stamp, string? Note, int Flag)>> ReadAsync(TestStore store)
    {
        await using var connection = await store.Database.OpenAsync(Ct);
        // The flag as 1 or 0 on both stores, whatever each keeps it as.
        return (await connection.QueryAsync<(string, string, string, int, DateTimeOffset, string?, int)>(
            "SELECT id, label, kind, amount, stamp, note, CASE WHEN flag THEN 1 ELSE 0 END FROM insert_rows_probe ORDER BY id")).AsList();
    }

    private static async Task<int> InsertAsync(TestStore store, IEnumerable<object?[]> rows)
    {
        await using var connection = await store.Database.OpenAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        var count = await store.Database.Dialect.InsertRowsAsync(connection, transaction, Table, rows, Ct);
        await transaction.CommitAsync(Ct);
        return count;
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task Rows_with_hostile_and_non_Latin_text_read_back_as_written_with_shared_and_varying_values(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await CreateTableAsync(store);
        var shared = new DateTimeOffset(2026, 11, 26, 15, 40, 1, TimeSpan.FromHours(3.5)).AddTicks(1230).ToStoredPrecision();
        string[] labels =
        [
            "خبرنامهٔ روزانه", "日报 📰", "line one\r\nline two", "quote \" backslash \\ bracket \"]} [[", "", "tab\tand \u0001 control",
            "مرحبا 👋🏽 family 👨‍👩‍👧", new string('x', 100_000),
        ];
        var rows = labels.Select((label, i) => new object?[] { $"row-{i:D2}", label, "same kind ✉", i % 2 == 0 ? 7 : -3, shared, i == 3 ? null : $"note {i}", i % 3 == 0 }).ToList();

        Assert.Equal(labels.Length, await InsertAsync(store, rows));

        var read = await ReadAsync(store);
        Assert.Equal(labels, read.Select(r => r.Label));
        Assert.All(read, r => Assert.Equal("same kind ✉", r.Kind));
        Assert.All(read, r => Assert.Equal(shared, r.Stamp));
        Assert.Equal(rows.Select(r => (int)r[3]!), read.Select(r => r.Amount));
        Assert.Null(read[3].Note);
        Assert.Equal("note 7", read[7].Note);
        Assert.Equal(rows.Select(r => (bool)r[6]! ? 1 : 0), read.Select(r => r.Flag));
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task One_row_whose_values_are_all_shared_and_no_rows_at_all_write_what_they_hold(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await CreateTableAsync(store);
        var stamp = DateTimeOffset.UnixEpoch.AddDays(20_000);

        Assert.Equal(0, await InsertAsync(store, []));
        Assert.Equal(1, await InsertAsync(store, [["only", "одна строка", "k", 0, stamp, null, true]]));

        var row = Assert.Single(await ReadAsync(store));
        Assert.Equal(("only", "одна строка", "k", 0, stamp, (string?)null, 1), row);
    }

    [Theory(Timeout = TestTimeouts.Default), MemberData(nameof(Providers))]
    public async Task A_row_that_does_not_fit_the_columns_is_refused_naming_the_table_and_nothing_is_written(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await CreateTableAsync(store);
        var stamp = DateTimeOffset.UnixEpoch;

        var tooShort = await Assert.ThrowsAsync<ArgumentException>(() => InsertAsync(store, [["a", "b", "c", 1, stamp, null, false], ["short", "row"]]));
        Assert.Contains("insert_rows_probe", tooShort.Message);
        var wrongType = await Assert.ThrowsAsync<ArgumentException>(() => InsertAsync(store, [["a", "b", "c", "not a number", stamp, null, false], ["b", "b", "c", 2, stamp, null, false]]));
        Assert.Contains("amount", wrongType.Message);
        var textForFlag = await Assert.ThrowsAsync<ArgumentException>(() => InsertAsync(store, [["a", "b", "c", 1, stamp, null, "yes"]]));
        Assert.Contains("flag", textForFlag.Message);

        Assert.Empty(await ReadAsync(store));
    }
}
