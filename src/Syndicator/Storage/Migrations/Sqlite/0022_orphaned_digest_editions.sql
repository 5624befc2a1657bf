-- Removing a reader deleted their digests but left the editions only those digests named (with their items).
-- SubscriberStore.RemoveAsync now deletes such an edition with its last digest; this clears the ones left before.
DELETE FROM digest_edition_items WHERE edition_id IN (
    SELECT e.id FROM digest_editions e WHERE NOT EXISTS (SELECT 1 FROM digests g WHERE g.edition_id = e.id));
DELETE FROM digest_editions WHERE NOT EXISTS (SELECT 1 FROM digests g WHERE g.edition_id = digest_editions.id);
