-- ActivityPub inboxes that are failing: since when every delivery to them has failed (the first failure after the
-- last success), and since when they are parked (ActivityPub:ParkInboxAfterDays). A success deletes the row. The
-- parking itself is a delivery_pauses row, so no node claims the inbox's waiting deliveries.
CREATE TABLE activitypub_inbox_failures (
    inbox         TEXT PRIMARY KEY,
    failing_since TIMESTAMPTZ NOT NULL,
    last_error    TEXT NOT NULL,
    parked_at     TIMESTAMPTZ
);
