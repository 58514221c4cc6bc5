-- Discovery walks the visible events in date order and tests each against
-- its filters. With the filtered columns in the index, the test needs no
-- table row: SQLite defers the row lookup until a column outside the index
-- is read, PostgreSQL finds the page with an index-only scan. `taken` stays
-- out (hasSpots reads the row): every registration updates it, and in the
-- index it would cost an index write per registration and, on PostgreSQL,
-- the in-place (HOT) update of the event's row. Replaces the narrower
-- (status, is_public, start_date, id), its prefix.
DROP INDEX idx_events_discovery;
CREATE INDEX idx_events_discovery ON events (status, is_public, start_date, id, venue_id, type,
                                             is_featured, end_date);
