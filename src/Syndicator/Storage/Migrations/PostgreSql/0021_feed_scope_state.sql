-- What an incremental feed build needs to know about a scope without counting it (at 100,000 articles every
-- count walks the whole site): the number of articles it held and where each complete archive page starts, as the
-- scope's latest build read them. Changes since then all lie at or after the scope's feed_dirty.since, so the
-- archive page starting before it is still where it was, and the build reads the scope from there on.
CREATE TABLE feed_scope_counts (
    kind       TEXT NOT NULL,
    scope_key  TEXT NOT NULL,
    articles   INTEGER NOT NULL,
    PRIMARY KEY (kind, scope_key)
);

CREATE TABLE feed_archive_pages (
    scope         TEXT NOT NULL,
    page          INTEGER NOT NULL,
    published_at  TIMESTAMPTZ NOT NULL,
    article_id    TEXT NOT NULL,
    PRIMARY KEY (scope, page)
);

-- The counts as they are now; archive page starts are recorded by each scope's next build.
INSERT INTO feed_scope_counts (kind, scope_key, articles)
SELECT 'site', '', COUNT(*) FROM articles WHERE unpublished_at IS NULL;
INSERT INTO feed_scope_counts (kind, scope_key, articles)
SELECT 'author', author_id, COUNT(*) FROM articles WHERE unpublished_at IS NULL GROUP BY author_id;
INSERT INTO feed_scope_counts (kind, scope_key, articles)
SELECT 'tag', t.tag, COUNT(*) FROM article_tags t JOIN articles a ON a.id = t.article_id WHERE a.unpublished_at IS NULL GROUP BY t.tag;

-- Each change to a mark counts up its version, so a build clears the mark only if no change arrived while it read
-- the scope (a later change at or after the same since used to leave since as it was, and its mark was cleared).
ALTER TABLE feed_dirty ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
