-- Discovery walks the visible events in date order and tests each against
-- its filters. With every filtered column in the index, the test needs no
-- table row: SQLite defers the row lookup until a column outside the index
-- is read, PostgreSQL finds the page with an index-only scan. Replaces the
-- narrower (status, is_public, start_date, id), its prefix.
DROP INDEX idx_events_discovery;
CREATE INDEX idx_events_discovery ON events (status, is_public, start_date, id, venue_id, type,
                                             is_featured, end_date, taken, max_participants);
