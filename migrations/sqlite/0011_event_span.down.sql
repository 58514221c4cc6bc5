DROP INDEX idx_events_span;
