-- A tag's feed is read from article_tags (tag, article_id), then each article's place in the order and whether it
-- is published are looked up by id. In a SQLite row these columns come after the body, so each lookup read the
-- row's overflow pages: 116 ms for one tag of 1,000 articles in a store of 100,000, where this index answers the
-- lookups by itself (9 ms).
CREATE INDEX ix_articles_feed_position ON articles (id, published_at, updated_at, unpublished_at);
