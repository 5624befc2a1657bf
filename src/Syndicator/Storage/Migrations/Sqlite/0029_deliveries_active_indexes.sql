-- Fewer index entries for every delivery, and a claim that reads only what it takes.
--
-- The due index holds only deliveries still to be sent (waiting, or in flight whose lease may run out), in the order
-- a claim takes them (channel, then due time, then id), instead of (state, next_attempt_at) over every row ever made:
--   * A claim reads it in order and stops at its LIMIT. Before, "waiting and due, or in flight with its lease run out"
--     ordered by due time matched no index order, so each claim of 100 read every due row of the store, checked each
--     against the pauses and holds and sorted them all: sending 100,000 planned digests read up to 100,000 rows per claim,
--     a thousand times over.
--   * A sent, failed or unconfirmed row (nearly all of them, kept for the record) has no entry, so the index stays the
--     size of the queue, and writing an outcome inserts into one index fewer.
-- The recipient index is cut down the same way: its readers (a claim skipping accounts another node is sending to, and
-- the check for paused accounts left waiting) only look for rows still to be sent. Every query that reads either index
-- names the predicate word for word ("state IN ('pending', 'retry-wait', 'in-flight')": DeliveryStore.Active), so both
-- SQLite and PostgreSQL can prove the index holds every row the query needs.
DROP INDEX ix_deliveries_due;
CREATE INDEX ix_deliveries_due ON deliveries (channel, next_attempt_at, id) WHERE state IN ('pending', 'retry-wait', 'in-flight');
DROP INDEX ix_deliveries_recipient;
CREATE INDEX ix_deliveries_recipient ON deliveries (channel, recipient, state) WHERE state IN ('pending', 'retry-wait', 'in-flight');
