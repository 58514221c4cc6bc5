-- Accounts and privacy: the audit log of organizer and admin actions, and the
-- erasure ledger that lets an interrupted erasure be finished at the next
-- start. Times are RFC 3339 UTC text, which sorts as time.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  occurred_at TEXT NOT NULL,
  actor_id TEXT,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id TEXT,
  details TEXT
);
CREATE INDEX idx_audit_action ON audit_log (action, id);
CREATE INDEX idx_audit_actor ON audit_log (actor_id, id);
CREATE INDEX idx_audit_time ON audit_log (occurred_at, id);
CREATE INDEX idx_audit_target ON audit_log (target_id);

-- One row per erased person. user_id is cleared once the erasure is done, so
-- that nothing links the tombstone id back to the person.
CREATE TABLE erasures (
  id INTEGER PRIMARY KEY,
  user_id TEXT UNIQUE,
  tombstone_id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
  step INTEGER NOT NULL DEFAULT 0,
  requested_at TEXT NOT NULL,
  completed_at TEXT
);
CREATE INDEX idx_erasures_pending ON erasures (status, id);
