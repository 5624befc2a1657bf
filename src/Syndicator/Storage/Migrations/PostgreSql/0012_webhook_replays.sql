-- The signed tokens of relay webhooks already accepted (Mailgun's token, SNS's MessageId), kept for
-- Digests:Feedback:Webhooks:MaxAgeSeconds: a request carrying one again is a replay and is refused, on any node.
-- Older requests are refused by their timestamp, so older rows are deleted.
CREATE TABLE webhook_replays (
    relay   TEXT NOT NULL,
    token   TEXT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (relay, token)
);
