-- Feed scopes whose latest build failed, whole or in part: one row per scope, kept across runs and nodes so
-- consecutive failures are counted (readiness turns Degraded after Feeds:DegradedAfterFailedBuilds of them) and
-- deleted by the scope's next clean build.
CREATE TABLE feed_build_failures (
    scope                TEXT PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL,
    first_failed_at      TEXT NOT NULL,
    last_failed_at       TEXT NOT NULL,
    -- 'items-left-out': the scope was written without the articles below; 'not-written': nothing of it was.
    kind                 TEXT NOT NULL,
    last_error           TEXT NOT NULL
);

-- The articles the latest build of a scope left out, and why; replaced by every failed build of the scope.
CREATE TABLE feed_items_left_out (
    scope       TEXT NOT NULL,
    article_id  TEXT NOT NULL,
    slug        TEXT NOT NULL,
    source_name TEXT,
    reason      TEXT NOT NULL,
    left_out_at TEXT NOT NULL,
    PRIMARY KEY (scope, article_id)
);
