-- The due index holds only deliveries still to be sent (waiting, or in flight whose lease may run out), in the order
-- a claim takes them (channel, then due time, then id), instead of (state, next_attempt_at) over every row ever made:
--   * A claim reads it in order and stops at its LIMIT. Before, "waiting and due, or in flight with its lease run out"
--     ordered by due time matched no index order, so each claim of 100 read every due row of the store, checked each
--     against the pauses and holds and sorted them all: planning 100,000 digests then sending them read 100,000 rows
--     per claim, a thousand times.
--   * A sent, failed or unconfirmed row (nearly all of them, kept for the record) has no entry: writing a sent outcome
--     inserts into one index fewer, and the index stays the size of the queue.
-- Every query that reads it names the predicate word for word ("state IN ('pending', 'retry-wait', 'in-flight')"), so
-- both SQLite and PostgreSQL can prove the index holds every row it needs.
DROP INDEX ix_deliveries_due;
CREATE INDEX ix_deliveries_due ON deliveries (channel, next_attempt_at, id) WHERE state IN ('pending', 'retry-wait', 'in-flight');
