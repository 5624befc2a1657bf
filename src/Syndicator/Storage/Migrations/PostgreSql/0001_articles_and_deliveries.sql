-- Authors, articles and their tags, and the deliveries outbox every capability shares.
CREATE TABLE authors (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    bio             TEXT,
    x_handle        TEXT,
    mastodon_handle TEXT,
    bluesky_handle  TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE articles (
    id             TEXT PRIMARY KEY,
    slug           TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    summary        TEXT NOT NULL,
    body_html      TEXT NOT NULL,
    author_id      TEXT NOT NULL REFERENCES authors (id),
    image_url      TEXT,
    image_caption  TEXT,
    image_credit   TEXT,
    canonical_url  TEXT NOT NULL,
    comment_url    TEXT,
    published_at   TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    content_hash   TEXT NOT NULL,
    source_name    TEXT,
    imported_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_articles_published ON articles (published_at DESC);
CREATE INDEX ix_articles_author ON articles (author_id, published_at DESC);
CREATE INDEX ix_articles_source ON articles (source_name);

CREATE TABLE article_tags (
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (article_id, tag)
);
CREATE INDEX ix_article_tags_tag ON article_tags (tag);

CREATE TABLE deliveries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel          TEXT NOT NULL,
    subject_kind     TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    last_error       TEXT,
    remote_id        TEXT,
    remote_url       TEXT,
    claimed_by       TEXT,
    lease_expires_at TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ,
    UNIQUE (channel, subject_kind, subject_id, recipient)
);
CREATE INDEX ix_deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX ix_deliveries_subject ON deliveries (subject_kind, subject_id);
