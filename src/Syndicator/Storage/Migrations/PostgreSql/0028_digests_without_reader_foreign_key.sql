-- A digest's reader is no longer checked by a foreign key. The check ran once per new digest row (100,000 per
-- planning run) as a query that also locked the reader's row (FOR KEY SHARE): 1.5 s of the server's 6.1 s of CPU for
-- 100,000 digests in a psql replay of a run. What it guaranteed still holds without it:
--   - Only the planner writes digests, and only for readers its page's transaction has just claimed (moved their
--     watermark with an UPDATE, which locks the row until that transaction ends): a reader removed before the claim is
--     not claimed, and no digest is written for them.
--   - SubscriberStore.RemoveAsync deletes the reader's row first (waiting for a page that has claimed it to commit), then
--     their digests and the editions only those digests named: ON DELETE CASCADE did the digests' part before.
-- Tested with removals during planning, on both stores (DigestPlanningPagesTests).
ALTER TABLE digests DROP CONSTRAINT digests_subscriber_id_fkey;
