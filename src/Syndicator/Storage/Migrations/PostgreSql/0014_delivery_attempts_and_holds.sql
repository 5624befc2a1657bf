-- Every attempt of a delivery as it ended: when, on which node, how (sent, retry, failed, unconfirmed, deferred),
-- the service's HTTP status and the class of failure (for the advice the dashboard and CLI give), the service's
-- own words, and what was handed over (a post's text), so the publisher can read exactly what went out.
CREATE TABLE delivery_attempts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    node         TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    status       INTEGER,
    cause        TEXT NOT NULL,
    error        TEXT,
    message      TEXT,
    at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

-- Subjects a person held (an article kept off social media for now): none of their deliveries is claimed, on any
-- node, until the hold is lifted. Deliveries stay as they are, in their place.
CREATE TABLE delivery_holds (
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    held_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subject_kind, subject_id)
);
