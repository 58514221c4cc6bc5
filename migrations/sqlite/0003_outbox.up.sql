-- The durable outbox of notifications (include/risinggen/outbox.h). A row is
-- written in the transaction of the change that causes it and delivered by
-- the sweep thread: pending → sent, or failed after too many attempts.
-- Times are RFC 3339 UTC text, which sorts as time.
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  channel TEXT NOT NULL,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  dedupe_key TEXT UNIQUE,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  sent_at TEXT
);
CREATE INDEX idx_outbox_due ON outbox (status, next_attempt_at, id);
