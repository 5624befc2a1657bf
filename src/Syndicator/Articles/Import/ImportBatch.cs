using System.Data.Common;
using Syndicator.Shared;

namespace Syndicator.Articles.Import;

/// <summary>
/// The store as one import batch sees it inside its transaction, and what the batch will write. The articles and
/// authors its files can meet are read in two statements when the batch begins; each file is then decided in memory
/// against them and against what earlier files of the batch did, and the accepted files are written together at the
/// end (new articles, their tags and new authors in one statement each). A refused file is undone in memory, so
/// nothing of it is ever written; this takes the place of a savepoint per file.
/// </summary>
internal sealed class ImportBatch
{
    private readonly DbConnection connection;
    private readonly DbTransaction transaction;
    private readonly ArticleStore store;

    // Every id, slug and source name the batch's drafts name was looked up when it began: a key missing here is in no
    // row. A null value is a key an article of this batch gave up (renamed away from).
    private readonly Dictionary<string, Entry?> byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry?> bySlug = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry?> bySource = new(StringComparer.Ordinal);
    private readonly HashSet<string> slugsLookedUp = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AuthorEntry> authors = new(StringComparer.Ordinal);

    private readonly List<Action> undo = [];
    private readonly List<Write> writes = [];
    private readonly List<ArticleChange> changes = [];
    private int fileWrites, fileChanges;

    public sealed record Entry(Article Article, string? SourceName);

    private enum AuthorState { Stored, New, Changed }

    private sealed record AuthorEntry(Author Author, AuthorState State);

    private sealed record Write(Article Article, string SourceName, DateTimeOffset Now, bool Insert);

    private ImportBatch(DbConnection connection, DbTransaction transaction, ArticleStore store)
    {
        this.connection = connection;
        this.transaction = transaction;
        this.store = store;
    }

    /// <summary>Reads the articles (by declared id, slug, the slug its title makes, and source name) and authors the drafts can meet.</summary>
    public static async Task<ImportBatch> BeginAsync(DbConnection connection, DbTransaction transaction, ArticleStore store, IReadOnlyCollection<ArticleDraft> drafts,
        CancellationToken cancellationToken)
    {
        var batch = new ImportBatch(connection, transaction, store);
        foreach (var draft in drafts)
        {
            if (draft.Slug is { } slug) batch.slugsLookedUp.Add(slug.Value);
            batch.slugsLookedUp.Add(Slug.FromText(draft.Title).Value);
        }
        var ids = drafts.Select(d => d.DeclaredId).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        var sources = drafts.Select(d => d.SourceName).Distinct(StringComparer.Ordinal).ToList();
        foreach (var (article, sourceName) in await store.FindForImportAsync(connection, transaction, ids, batch.slugsLookedUp, sources, cancellationToken))
        {
            var entry = new Entry(article, sourceName);
            batch.byId[article.Id] = entry;
            batch.bySlug[article.Slug.Value] = entry;
            // Two rows may name one source (a file that took over another's article by its id); the first is the one found, as a single lookup would.
            if (sourceName is not null) batch.bySource.TryAdd(sourceName, entry);
            batch.slugsLookedUp.Add(article.Slug.Value);
        }
        var names = drafts.Select(d => d.Author.Name).Distinct(StringComparer.Ordinal).ToList();
        foreach (var author in await store.AuthorsAsync(connection, transaction, names, cancellationToken))
            batch.authors[author.Name] = new AuthorEntry(author, AuthorState.Stored);
        return batch;
    }

    public Entry? ById(string id) => Fresh(byId.GetValueOrDefault(id));

    public Entry? BySlug(string slug) => Fresh(bySlug.GetValueOrDefault(slug));

    public Entry? BySource(string sourceName) => Fresh(bySource.GetValueOrDefault(sourceName));

    /// <summary>Whether an article holds the slug: answered from the batch for the slugs it looked up, from the store for others (a numbered one).</summary>
    public async Task<bool> SlugTakenAsync(Slug slug, CancellationToken cancellationToken)
    {
        if (bySlug.TryGetValue(slug.Value, out var entry)) return entry is not null;
        if (slugsLookedUp.Contains(slug.Value)) return false;
        return await store.SlugTakenAsync(connection, transaction, slug.Value, cancellationToken);
    }

    /// <summary>The author by this name, with the bio and handles the draft gives (those it leaves out are kept), or a new one.</summary>
    public Author Author(AuthorDraft draft, DateTimeOffset now)
    {
        if (!authors.TryGetValue(draft.Name, out var entry))
        {
            var author = new Author(Guid.CreateVersion7(now).ToString(), draft.Name, draft.Bio, draft.Handles);
            Set(authors, draft.Name, new AuthorEntry(author, AuthorState.New));
            return author;
        }
        var merged = entry.Author with { Bio = draft.Bio ?? entry.Author.Bio, Handles = draft.Handles.Or(entry.Author.Handles) };
        if (merged != entry.Author)
            Set(authors, draft.Name, new AuthorEntry(merged, entry.State == AuthorState.New ? AuthorState.New : AuthorState.Changed));
        return merged;
    }

    /// <summary>Starts a file: what it does until <see cref="Refuse"/> can be undone.</summary>
    public void BeginFile()
    {
        undo.Clear();
        fileWrites = writes.Count;
        fileChanges = changes.Count;
    }

    /// <summary>Undoes everything the current file did, so that none of it is written.</summary>
    public void Refuse()
    {
        for (var i = undo.Count - 1; i >= 0; i--) undo[i]();
        undo.Clear();
        writes.RemoveRange(fileWrites, writes.Count - fileWrites);
        changes.RemoveRange(fileChanges, changes.Count - fileChanges);
    }

    public void Insert(Article article, string sourceName, DateTimeOffset now)
    {
        Put(null, article, sourceName);
        writes.Add(new Write(article, sourceName, now, Insert: true));
        changes.Add(new ArticleChange(null, article));
    }

    public void Update(Entry before, Article article, string sourceName, DateTimeOffset now)
    {
        Put(before, article, sourceName);
        writes.Add(new Write(article, sourceName, now, Insert: false));
        changes.Add(new ArticleChange(before.Article, article));
    }

    /// <summary>
    /// Writes what the accepted files did, in their order (a run of new articles in one statement), then tells the
    /// change handlers about the batch's changes.
    /// </summary>
    public async Task WriteAsync(IEnumerable<IArticleChangeHandler> handlers, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await store.InsertAuthorsAsync(connection, transaction, authors.Values.Where(a => a.State == AuthorState.New).Select(a => a.Author).ToList(), now, cancellationToken);
        foreach (var changed in authors.Values.Where(a => a.State == AuthorState.Changed))
            await store.UpdateAuthorAsync(connection, transaction, changed.Author, now, cancellationToken);
        var run = new List<(Article, string, DateTimeOffset)>();
        foreach (var write in writes)
        {
            if (write.Insert) { run.Add((write.Article, write.SourceName, write.Now)); continue; }
            await store.InsertAsync(connection, transaction, run, cancellationToken);
            run.Clear();
            await store.UpdateAsync(connection, transaction, write.Article, write.SourceName, write.Now, cancellationToken);
        }
        await store.InsertAsync(connection, transaction, run, cancellationToken);
        if (changes.Count == 0) return;
        foreach (var handler in handlers) await handler.OnArticlesChangedAsync(connection, transaction, changes, cancellationToken);
    }

    private void Put(Entry? before, Article article, string sourceName)
    {
        var entry = new Entry(article, sourceName);
        if (before is not null)
        {
            if (bySlug.GetValueOrDefault(before.Article.Slug.Value)?.Article.Id == article.Id) Set(bySlug, before.Article.Slug.Value, null);
            if (before.SourceName is { } old && bySource.GetValueOrDefault(old)?.Article.Id == article.Id) Set(bySource, old, null);
        }
        Set(byId, article.Id, entry);
        Set(bySlug, article.Slug.Value, entry);
        Set(bySource, sourceName, entry);
    }

    /// <summary>The article with its author as this batch left it (an earlier file may have changed the author's bio).</summary>
    private Entry? Fresh(Entry? entry) =>
        entry is not null && authors.TryGetValue(entry.Article.Author.Name, out var author) && author.Author.Id == entry.Article.Author.Id && author.Author != entry.Article.Author
            ? entry with { Article = entry.Article with { Author = author.Author } }
            : entry;

    private void Set<T>(Dictionary<string, T> map, string key, T value)
    {
        var had = map.TryGetValue(key, out var old);
        undo.Add(() =>
        {
            if (had) map[key] = old!;
            else map.Remove(key);
        });
        map[key] = value;
    }
}
