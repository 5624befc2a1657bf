-- Feeds to rebuild: one row per feed scope ('site', 'author:{id}', 'tag:{tag}'), with the earliest publication
-- time a change touched, so a rebuild regenerates only the archive pages from there on.
CREATE TABLE feed_dirty (
    scope  TEXT PRIMARY KEY,
    since  TEXT NOT NULL
);
