-- A digest's articles are the same for every reader with the same watermark and follows, so a run stores each
-- distinct list once, as an edition (its article ids in order), and each digest names its edition: one item row per
-- article of an edition instead of one per reader and article (planning 100,000 digests of 5 articles wrote 500,000).
-- An edition is written in the transaction of the first digest that names it and never changes, so a retried or
-- resumed send mails what was planned. digests.edition_id has no foreign key: the planner writes an edition before
-- the digests that name it and nothing deletes one, and on PostgreSQL the check is a trigger run for every digest row
-- (100,000 per run). Existing digests each become an edition of their own, with their items in their order.
CREATE TABLE digest_editions (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);

CREATE TABLE digest_edition_items (
    edition_id TEXT NOT NULL REFERENCES digest_editions (id) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (edition_id, article_id)
);
-- The dashboard's article page counts the digests that carry an article.
CREATE INDEX ix_digest_edition_items_article ON digest_edition_items (article_id);

INSERT INTO digest_editions (id, created_at) SELECT id, created_at FROM digests;
INSERT INTO digest_edition_items (edition_id, article_id, position) SELECT digest_id, article_id, position FROM digest_items;

-- SQLite cannot add a NOT NULL column without a default, so digests is rebuilt.
CREATE TABLE digests_new (
    id            TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    frequency     TEXT NOT NULL,
    period        TEXT NOT NULL,
    edition_id    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (subscriber_id, period)
);
INSERT INTO digests_new (id, subscriber_id, frequency, period, edition_id, created_at)
SELECT id, subscriber_id, frequency, period, id, created_at FROM digests;

DROP TABLE digest_items;
DROP TABLE digests;
ALTER TABLE digests_new RENAME TO digests;
CREATE INDEX ix_digests_edition ON digests (edition_id);
