-- Discovery with a start date (`from`) wants the events that end on or
-- after it, in start-date order. Walked from the first event, it would
-- read every event that ended before (a quarter of a million index entries
-- for a date six months on, at 1,000,000 events). No event that ends on or
-- after `from` starts before `from` less the longest event's span, so the
-- walk starts there; this index gives that span at once (its largest
-- entry; seconds, from unixepoch(), which takes the dates as they are
-- kept). A single very long event only makes the walk start earlier.
CREATE INDEX idx_events_span ON events ((unixepoch(end_date) - unixepoch(start_date)));
