-- Accounts and privacy: the audit log of organizer and admin actions, and the
-- erasure ledger that lets an interrupted erasure be finished at the next
-- start.
CREATE TABLE audit_log (
  id BIGSERIAL PRIMARY KEY,
  occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
  actor_id VARCHAR(24),
  action VARCHAR(64) NOT NULL,
  target_type VARCHAR(32) NOT NULL,
  target_id VARCHAR(64),
  details JSONB
);
CREATE INDEX idx_audit_action ON audit_log (action, id);
CREATE INDEX idx_audit_actor ON audit_log (actor_id, id);
CREATE INDEX idx_audit_time ON audit_log (occurred_at, id);
CREATE INDEX idx_audit_target ON audit_log (target_id);

-- One row per erased person. user_id is cleared once the erasure is done, so
-- that nothing links the tombstone id back to the person.
CREATE TABLE erasures (
  id SERIAL PRIMARY KEY,
  user_id VARCHAR(24) UNIQUE,
  tombstone_id VARCHAR(24) NOT NULL UNIQUE,
  status VARCHAR(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
  step INTEGER NOT NULL DEFAULT 0,
  requested_at TIMESTAMP WITH TIME ZONE NOT NULL,
  completed_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_erasures_pending ON erasures (status, id);
