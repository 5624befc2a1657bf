-- A tag's feed is read from article_tags (tag, article_id), then each article's place in the order and whether it
-- is published are looked up by id: this index answers those lookups without visiting the rows (see the SQLite
-- script, where the rows' bodies made each lookup read overflow pages).
CREATE INDEX ix_articles_feed_position ON articles (id) INCLUDE (published_at, updated_at, unpublished_at);
