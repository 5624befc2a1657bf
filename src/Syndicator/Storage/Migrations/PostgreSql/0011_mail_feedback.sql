-- The suppression list: addresses never mailed again (digests and confirmations alike), however they come back
-- (the sign-up form, `subscribers add`, a CSV import), until the publisher lifts the entry by hand
-- (`syndicator suppressions lift`). email is stored as SubscriberAddress.Normalize makes it (trimmed, lower case).
-- reason: 'unsubscribed', 'bounced' (a hard bounce, or soft bounces past the threshold), 'complained', 'manual'.
-- source: where it was learned ('form', 'cli', 'mailbox', 'webhook:mailgun', 'import', 'migration', ...).
CREATE TABLE suppressions (
    email      TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    source     TEXT NOT NULL,
    detail     TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

-- Everyone who unsubscribed before the list existed is on it.
INSERT INTO suppressions (email, reason, source, detail, created_at)
SELECT email, 'unsubscribed', 'migration', NULL, COALESCE(unsubscribed_at, created_at) FROM subscribers WHERE state = 'unsubscribed';

-- Every bounce, complaint and mailed unsubscribe read back from the feedback mailbox or a relay's webhook, once per
-- source: 'imap:{uidvalidity}:{uid}', 'message-id:{id}', 'mailgun:{event id}', 'ses:{sns message id}',
-- 'postmark:{id}'. A second sight of the same source changes nothing. The delivery keeps its state ('sent': it
-- was sent and accepted); what became of it afterwards is this row, found by delivery_id.
-- kind: 'hard-bounce', 'soft-bounce', 'complaint', 'unsubscribe'.
CREATE TABLE mail_feedback (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source        TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    delivery_id   BIGINT,
    subscriber_id TEXT,
    email         TEXT,
    status        TEXT,
    detail        TEXT,
    received_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_mail_feedback_delivery ON mail_feedback (delivery_id);
CREATE INDEX ix_mail_feedback_subscriber ON mail_feedback (subscriber_id, kind);

-- Soft bounces (4.x.x), one per delivery however often it is reported; at Digests:Feedback:SoftBounceLimit the
-- subscriber is marked bounced. Set back to 0 when the publisher lifts the suppression.
ALTER TABLE subscribers ADD COLUMN soft_bounces INTEGER NOT NULL DEFAULT 0;

-- A bounce or complaint names its delivery by the key in the Message-ID or the VERP return path.
CREATE INDEX ix_deliveries_key ON deliveries (delivery_key);
