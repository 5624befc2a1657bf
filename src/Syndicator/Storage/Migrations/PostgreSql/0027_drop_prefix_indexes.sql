-- Three indexes that are prefixes of later ones, kept up on every import for nothing: each query that used them
-- reads the longer index the same way (checked with EXPLAIN QUERY PLAN on a store of 100,000 articles; SQLite and
-- PostgreSQL both scan an index backwards for DESC).
--   ix_articles_published (published_at DESC)       within ix_articles_published_id (published_at, id)
--   ix_articles_author (author_id, published_at DESC) within ix_articles_author_published_id (author_id, published_at, id)
--   ix_article_tags_tag (tag)                        within ix_article_tags_tag_article (tag, article_id)
DROP INDEX ix_articles_published;
DROP INDEX ix_articles_author;
DROP INDEX ix_article_tags_tag;
