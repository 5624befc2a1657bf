-- A digest's reader is no longer checked by a foreign key (see PostgreSQL's 0028 for why, and why nothing is lost):
-- SubscriberStore.RemoveAsync deletes the reader first and then their digests and editions, on both stores, so the
-- cascade must not delete the digests before it can find their editions. SQLite cannot drop a constraint, so digests
-- is rebuilt as 0020 made it, without the REFERENCES clause.
CREATE TABLE digests_new (
    id            TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL,
    frequency     TEXT NOT NULL,
    period        TEXT NOT NULL,
    edition_id    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (subscriber_id, period)
);
INSERT INTO digests_new (id, subscriber_id, frequency, period, edition_id, created_at)
SELECT id, subscriber_id, frequency, period, edition_id, created_at FROM digests;
DROP TABLE digests;
ALTER TABLE digests_new RENAME TO digests;
CREATE INDEX ix_digests_edition ON digests (edition_id);
