-- Article intake over HTTP (API, Ghost webhooks, pulled feeds and WordPress).

-- Set when the article is unpublished: it leaves every feed, is never announced or mailed again; what already went
-- out stays recorded. NULL again when it is published again.
ALTER TABLE articles ADD COLUMN unpublished_at TEXT;

-- API keys: only the SHA-256 of the key is kept. scope is 'write' (articles) or 'read' (status).
CREATE TABLE api_keys (
    name        TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    scope       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    last_used_at TEXT
);

-- Idempotency-Key: the first answer to a (key, Idempotency-Key) is stored and given again for the same body;
-- status is NULL while the first request is still being handled.
CREATE TABLE api_idempotency (
    api_key          TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    status           INTEGER,
    response         TEXT,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (api_key, idempotency_key)
);

-- What every intake did to an article, and what it refused (article_id NULL): who (API key name, Ghost, a source)
-- and when. body_hash is the SHA-256 of the request or entry that was accepted.
CREATE TABLE article_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id  TEXT,
    slug        TEXT,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT,
    body_hash   TEXT
);
CREATE INDEX ix_article_history_article ON article_history (article_id, id);
CREATE INDEX ix_article_history_slug ON article_history (slug, id);

-- Entries a pull source has imported, with the hash of what the source said, so an unchanged entry is never
-- imported again.
CREATE TABLE intake_entries (
    source      TEXT NOT NULL,
    entry_id    TEXT NOT NULL,
    article_id  TEXT NOT NULL,
    entry_hash  TEXT NOT NULL,
    seen_at     TEXT NOT NULL,
    PRIMARY KEY (source, entry_id)
);

-- Each pull source's validators for a conditional GET and its last outcome.
CREATE TABLE intake_sources (
    source          TEXT PRIMARY KEY,
    etag            TEXT,
    last_modified   TEXT,
    last_polled_at  TEXT,
    last_outcome    TEXT
);
