-- The sign-up a confirmation link belongs to: a random id made when a reader (or someone) signs an address up,
-- and when. A link carries the id, so a link from an earlier sign-up (before an unsubscribe and a new sign-up)
-- no longer confirms, and one older than Subscriptions:ConfirmationHours has expired.
ALTER TABLE subscribers ADD COLUMN signup_id TEXT;
ALTER TABLE subscribers ADD COLUMN signup_at TEXT;
