-- The outbox's subject and recipient in clear columns: a subject is (kind, id, version) -- a WebSub ping's subject
-- is a feed's URL and the hash of its new bytes, a confirmation's is a subscriber and one sign-up -- so nothing is
-- parsed back out of a string. recipient_kind says what the recipient column holds (account, subscriber, hub).
-- delivery_key is random per row, fixed at creation: it makes Message-IDs and idempotency keys unique across
-- stores (a rebuilt store, a staging copy) and stable across a delivery's attempts.
ALTER TABLE deliveries ADD COLUMN subject_version TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN recipient_kind TEXT;
ALTER TABLE deliveries ADD COLUMN delivery_key TEXT;

-- The old key goes before the subjects are split: two pings of one feed to one hub ("url#hash1", "url#hash2")
-- become the same (channel, kind, id, recipient) and only the new key, with the version, tells them apart.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_channel_subject_kind_subject_id_recipient_key;

UPDATE deliveries SET recipient_kind = CASE channel WHEN 'email' THEN 'subscriber' WHEN 'websub' THEN 'hub' ELSE 'account' END,
    delivery_key = md5(random()::text || clock_timestamp()::text || id::text);
UPDATE deliveries SET subject_version = substring(subject_id from '#([0-9a-f]+)$'), subject_id = regexp_replace(subject_id, '#[0-9a-f]+$', '')
WHERE subject_kind = 'feed' AND subject_id ~ '#[0-9a-f]+$';
UPDATE deliveries SET subject_version = split_part(subject_id, ':', 2), subject_id = split_part(subject_id, ':', 1)
WHERE subject_kind = 'confirmation' AND position(':' in subject_id) > 0;

ALTER TABLE deliveries ALTER COLUMN recipient_kind SET NOT NULL;
ALTER TABLE deliveries ALTER COLUMN delivery_key SET NOT NULL;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_subject_recipient_key UNIQUE (channel, subject_kind, subject_id, subject_version, recipient);
CREATE INDEX ix_deliveries_recipient ON deliveries (channel, recipient, state);

-- An account the network told to wait (a 429, or no requests left in the window): no delivery to it is claimed,
-- on any node, until paused_until.
CREATE TABLE delivery_pauses (
    channel      TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    paused_until TIMESTAMPTZ NOT NULL,
    reason       TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, recipient)
);
