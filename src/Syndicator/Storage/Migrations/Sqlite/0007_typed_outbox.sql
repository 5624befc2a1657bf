-- The outbox's subject and recipient in clear columns: a subject is (kind, id, version) -- a WebSub ping's subject
-- is a feed's URL and the hash of its new bytes, a confirmation's is a subscriber and one sign-up -- so nothing is
-- parsed back out of a string. recipient_kind says what the recipient column holds (account, subscriber, hub).
-- delivery_key is random per row, fixed at creation: it makes Message-IDs and idempotency keys unique across
-- stores (a rebuilt store, a staging copy) and stable across a delivery's attempts.
-- SQLite cannot change a UNIQUE constraint in place, so the table is rebuilt.
CREATE TABLE deliveries_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    channel          TEXT NOT NULL,
    subject_kind     TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    subject_version  TEXT NOT NULL DEFAULT '',
    recipient_kind   TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    delivery_key     TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    remote_id        TEXT,
    remote_url       TEXT,
    claimed_by       TEXT,
    lease_expires_at TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    sent_at          TEXT,
    handed_over_at   TEXT,
    UNIQUE (channel, subject_kind, subject_id, subject_version, recipient)
);

INSERT INTO deliveries_new (id, channel, subject_kind, subject_id, subject_version, recipient_kind, recipient, delivery_key,
    state, attempts, next_attempt_at, last_error, remote_id, remote_url, claimed_by, lease_expires_at, created_at, updated_at, sent_at, handed_over_at)
SELECT id, channel, subject_kind,
    CASE WHEN subject_kind = 'feed' AND instr(subject_id, '#') > 0 THEN rtrim(subject_id, '0123456789abcdef') ELSE subject_id END,
    CASE WHEN subject_kind = 'feed' AND instr(subject_id, '#') > 0 THEN substr(subject_id, length(rtrim(subject_id, '0123456789abcdef')) + 1) ELSE '' END,
    CASE channel WHEN 'email' THEN 'subscriber' WHEN 'websub' THEN 'hub' ELSE 'account' END,
    recipient, lower(hex(randomblob(16))),
    state, attempts, next_attempt_at, last_error, remote_id, remote_url, claimed_by, lease_expires_at, created_at, updated_at, sent_at, handed_over_at
FROM deliveries;

DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
-- The feed subject kept its '#' separator from the old form: drop it.
UPDATE deliveries SET subject_id = substr(subject_id, 1, length(subject_id) - 1) WHERE subject_kind = 'feed' AND subject_id LIKE '%#';
-- Old confirmations were "{subscriber}:{hour}": the subscriber is the id, the rest the version.
UPDATE deliveries SET subject_version = substr(subject_id, instr(subject_id, ':') + 1), subject_id = substr(subject_id, 1, instr(subject_id, ':') - 1)
WHERE subject_kind = 'confirmation' AND instr(subject_id, ':') > 0;
CREATE INDEX ix_deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX ix_deliveries_subject ON deliveries (subject_kind, subject_id);
CREATE INDEX ix_deliveries_recipient ON deliveries (channel, recipient, state);

-- An account the network told to wait (a 429, or no requests left in the window): no delivery to it is claimed,
-- on any node, until paused_until.
CREATE TABLE delivery_pauses (
    channel      TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    paused_until TEXT NOT NULL,
    reason       TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (channel, recipient)
);
