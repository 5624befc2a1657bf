-- When an attempt handed its message to the outside service, and no answer was recorded yet. A claim that finds
-- it set knows the last attempt's node died at the one moment where resending could deliver twice.
ALTER TABLE deliveries ADD COLUMN handed_over_at TEXT;
