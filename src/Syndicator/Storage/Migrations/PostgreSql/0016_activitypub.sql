-- ActivityPub. Each actor's RSA key pair, made once by whichever node needs it first (INSERT ... ON CONFLICT DO
-- NOTHING, then read back), so every node of a cluster signs with the same key.
CREATE TABLE activitypub_keys (
    actor       TEXT PRIMARY KEY,
    public_pem  TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Who follows which of our actors. state: 'accepted' or 'pending' (held for the publisher's approval).
-- shared_inbox is the follower's server's shared inbox when it has one: a Create goes once per inbox.
CREATE TABLE activitypub_followers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor           TEXT NOT NULL,
    follower        TEXT NOT NULL,
    inbox           TEXT NOT NULL,
    shared_inbox    TEXT,
    follow_activity TEXT NOT NULL,
    state           TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (actor, follower)
);
CREATE INDEX ix_activitypub_followers_inbox ON activitypub_followers (inbox);
CREATE INDEX ix_activitypub_followers_shared_inbox ON activitypub_followers (shared_inbox);

-- Likes, boosts (Announce) and replies to our articles, one row per remote activity (a repeat adds nothing).
CREATE TABLE activitypub_interactions (
    activity   TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_activitypub_interactions_article ON activitypub_interactions (article_id, kind);

-- Signatures of inbox requests already accepted, kept for the signature window: the same signed request again is
-- a replay and is refused, on any node. Older requests are refused by their Date header, so older rows go.
CREATE TABLE activitypub_seen_signatures (
    signature_hash TEXT PRIMARY KEY,
    seen_at        TIMESTAMPTZ NOT NULL
);
