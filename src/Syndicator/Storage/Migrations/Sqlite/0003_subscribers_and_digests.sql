-- When an article first entered the store (never changed by edits), so digests follow import order and a late
-- import of an old article is neither missed nor repeated.
ALTER TABLE articles ADD COLUMN created_at TEXT;
UPDATE articles SET created_at = imported_at WHERE created_at IS NULL;
CREATE INDEX ix_articles_created ON articles (created_at);

CREATE TABLE subscribers (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    name            TEXT,
    frequency       TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    state           TEXT NOT NULL,
    hard_bounces    INTEGER NOT NULL DEFAULT 0,
    covered_until   TEXT NOT NULL,
    last_period     TEXT,
    created_at      TEXT NOT NULL,
    confirmed_at    TEXT,
    unsubscribed_at TEXT
);

CREATE TABLE subscriber_follows (
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, kind, value)
);

-- One digest edition per subscriber per period: exactly the articles it carries, fixed when it is planned,
-- so retries and resumed sends mail the same content.
CREATE TABLE digests (
    id            TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    frequency     TEXT NOT NULL,
    period        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (subscriber_id, period)
);

CREATE TABLE digest_items (
    digest_id  TEXT NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (digest_id, article_id)
);
