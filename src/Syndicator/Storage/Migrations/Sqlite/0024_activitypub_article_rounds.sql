-- An article that was unpublished and then published again is a new object in the fediverse: its Delete made the
-- followers' servers drop the first object for good (Mastodon keeps a tombstone and ignores a later Create of the
-- same id), so the republished article goes out as /ap/articles/{id}/{round}. No row: round 1, /ap/articles/{id}.
CREATE TABLE activitypub_article_rounds (
    article_id TEXT PRIMARY KEY,
    round      INTEGER NOT NULL
);
