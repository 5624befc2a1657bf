-- Feed queries order by (published_at, id) within the site, an author or a tag; these indexes serve that order
-- directly instead of sorting whole article rows.
CREATE INDEX ix_articles_published_id ON articles (published_at, id);
CREATE INDEX ix_articles_author_published_id ON articles (author_id, published_at, id);
CREATE INDEX ix_article_tags_tag_article ON article_tags (tag, article_id);
