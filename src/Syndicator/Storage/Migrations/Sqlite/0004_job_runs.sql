-- Job history, written by the Quartz execution history recorder through DatabaseExecutionHistoryStore. It lives
-- beside the articles rather than in memory, so every node of a cluster writes to and reads the same history,
-- and a restart keeps it.

-- One row per finished execution: a scheduled run, a manual one, or one retry of a failed one.
CREATE TABLE job_runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id         TEXT NOT NULL UNIQUE,
    scheduler_name   TEXT NOT NULL,
    node             TEXT NOT NULL,
    job_group        TEXT NOT NULL,
    job_name         TEXT NOT NULL,
    trigger_group    TEXT NOT NULL,
    trigger_name     TEXT NOT NULL,
    fire_instance_id TEXT,
    started_at       TEXT NOT NULL,
    duration_ms      INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    error            TEXT,
    summary          TEXT,
    metrics_json     TEXT,
    retry_attempt    INTEGER NOT NULL DEFAULT 0,
    retry_scheduled  INTEGER NOT NULL DEFAULT 0,
    manual           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_job_runs_job ON job_runs (job_group, job_name, started_at DESC);
CREATE INDEX ix_job_runs_started ON job_runs (started_at);

-- One row per job, folded from every run as it is recorded, so it outlives the runs retention deletes: health
-- checks ask "when did this job last succeed?" and must not get "never" because the rows aged out.
CREATE TABLE job_status (
    scheduler_name       TEXT NOT NULL,
    job_group            TEXT NOT NULL,
    job_name             TEXT NOT NULL,
    first_fired_at       TEXT NOT NULL,
    last_fired_at        TEXT NOT NULL,
    last_outcome         TEXT NOT NULL,
    last_duration_ms     INTEGER NOT NULL,
    last_node            TEXT NOT NULL,
    last_entry_id        TEXT NOT NULL,
    last_summary         TEXT,
    last_succeeded_at    TEXT,
    last_failed_at       TEXT,
    last_failure_message TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    run_count            INTEGER NOT NULL DEFAULT 0,
    failure_count        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scheduler_name, job_group, job_name)
);

-- Firings the scheduler missed (or skipped for overlap, or a listener vetoed).
CREATE TABLE job_misfires (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    scheduler_name      TEXT NOT NULL,
    node                TEXT NOT NULL,
    job_group           TEXT NOT NULL,
    job_name            TEXT NOT NULL,
    trigger_group       TEXT NOT NULL,
    trigger_name        TEXT NOT NULL,
    misfired_at         TEXT NOT NULL,
    scheduled_fire_at   TEXT,
    reason              TEXT NOT NULL
);
CREATE INDEX ix_job_misfires_at ON job_misfires (misfired_at);
