-- What import dropped from an article without refusing it (one warning a line), for its status.
ALTER TABLE articles ADD COLUMN warnings TEXT;

-- Links stored before import checked them: an image or comment link that is not http(s) never reaches a reader.
UPDATE articles SET image_url = NULL WHERE image_url IS NOT NULL AND lower(substr(image_url, 1, 7)) <> 'http://' AND lower(substr(image_url, 1, 8)) <> 'https://';
UPDATE articles SET comment_url = NULL WHERE comment_url IS NOT NULL AND lower(substr(comment_url, 1, 7)) <> 'http://' AND lower(substr(comment_url, 1, 8)) <> 'https://';

-- The folder of each author and tag feed, given once and kept: distinct names never share a folder ("C++" and
-- "C#", "Jane Doe" and "Jane-Doe!"), and a rebuild never moves a feed.
CREATE TABLE feed_folders (
    kind       TEXT NOT NULL,
    scope_key  TEXT NOT NULL,
    folder     TEXT NOT NULL,
    PRIMARY KEY (kind, scope_key),
    UNIQUE (kind, folder)
);
