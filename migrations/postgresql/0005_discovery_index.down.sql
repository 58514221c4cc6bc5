DROP INDEX idx_events_discovery;
CREATE INDEX idx_events_discovery ON events (status, is_public, start_date, id);
